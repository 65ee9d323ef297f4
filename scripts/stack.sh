# Sourced by sandbox.sh and test.sh: starts the local stack and stops it on exit.
#   start_stack PORT   → local control plane (testenv) + CRDs + namespaces + engine simulator + cairn
#   sets: STACK_DIR, KUBECONFIG, CAIRN_URL, CAIRN_ADMIN_PASSWORD, CAIRN_PID, SIM_PID, CAIRN_PMM_URL, and the
#   object storage (scripts/object_store.py: moto's S3 server + Azurite): CAIRN_S3_ENDPOINT, CAIRN_S3_ACCESS_KEY,
#   CAIRN_S3_SECRET_KEY, CAIRN_S3_BUCKET, CAIRN_AZURE_ENDPOINT, CAIRN_AZURE_ACCOUNT, CAIRN_AZURE_KEY; and GCS
#   (testgcs/): CAIRN_GCS_ENDPOINT, CAIRN_GCS_BUCKET, CAIRN_GCS_CLIENT_EMAIL, CAIRN_GCS_KEY_FILE (a JSON key file)
# Every child is tied to this shell: testenv stops when its stdin (a FIFO we hold) closes, and the trap
# kills the rest, so Ctrl-C or a killed CI run leaves no orphans.

stack_pids=()
stop_stack() {
  local pid
  for pid in "${stack_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  exec 3>&- 2>/dev/null || true
  for pid in "${stack_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  stack_pids=()
  # The control plane's data (etcd, certificates) goes with it; the logs stay for a look afterwards.
  [[ -n "${STACK_DIR:-}" ]] && rm -rf "$STACK_DIR/testenv"
  return 0
}

wait_http() { # url seconds
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "timed out waiting for $1" >&2
  return 1
}

# start_stack PORT BIN_DIR SITE_ROOT [SIM_BIN_DIR]
#   SIM_BIN_DIR: where cairn-sim is, when not beside cairn (test.sh runs the release cairn with the debug
#   simulator that `cargo test --features sim` already built).
start_stack() {
  local port=$1 bin=$2 site=$3 sim_bin=${4:-$2}
  STACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cairn-stack.XXXXXX")
  local testenv_bin
  testenv_bin=$("$CAIRN_ROOT/testenv/build.sh" | tail -n1)
  "$bin/cairn" crd > "$STACK_DIR/cairn-crds.yaml"
  local up="${CAIRN_UPSTREAM_CRDS:-$CAIRN_ROOT/../shared/upstream-crds}"
  # CAIRN_SIM_OPERATORS: the operator generation the sandbox runs, `newer` (default: PG 2.8.2, PXC 1.19.0,
  # PSMDB 1.21.2) or `older` (PG 2.7.0, PXC 1.18.0, PSMDB 1.21.1); its CRDs go into the API server and
  # cairn-sim (which reads the same variable) runs its operator Deployments.
  local pg_v=2.8.2 pxc_v=1.19.0 psmdb_v=1.21.2
  case "${CAIRN_SIM_OPERATORS:-newer}" in
    newer) ;;
    older) pg_v=2.7.0 pxc_v=1.18.0 psmdb_v=1.21.1 ;;
    *) echo "CAIRN_SIM_OPERATORS=$CAIRN_SIM_OPERATORS: expected newer or older" >&2; return 1 ;;
  esac
  mkfifo "$STACK_DIR/keepalive"
  # shellcheck disable=SC2086 # CAIRN_TESTENV_ARGS: extra testenv flags, e.g. --audit-log FILE (bench/)
  "$testenv_bin" --dir "$STACK_DIR/testenv" ${CAIRN_TESTENV_ARGS:-} \
    --crds "$STACK_DIR/cairn-crds.yaml" \
    --crds "$up/pg-operator-$pg_v-crd.yaml" --crds "$up/pxc-operator-$pxc_v-crd.yaml" --crds "$up/psmdb-operator-$psmdb_v-crd.yaml" \
    < "$STACK_DIR/keepalive" > "$STACK_DIR/testenv.out" 2> "$STACK_DIR/testenv.log" &
  stack_pids+=($!)
  exec 3> "$STACK_DIR/keepalive"
  local i
  # CAIRN_TESTENV_START_S (120): how long the control plane may take to come up (a loaded shared machine took
  # longer than 2 min to register the upstream CRDs).
  for ((i = 0; i < ${CAIRN_TESTENV_START_S:-120} * 5; i++)); do [[ -s "$STACK_DIR/testenv.out" ]] && break; kill -0 "${stack_pids[0]}" 2>/dev/null || break; sleep 0.2; done
  if [[ ! -s "$STACK_DIR/testenv.out" ]]; then
    echo "testenv did not start; its log:" >&2; tail -n 30 "$STACK_DIR/testenv.log" >&2; return 1
  fi
  export KUBECONFIG
  KUBECONFIG=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kubeconfig"])' "$STACK_DIR/testenv.out")

  # Real object storage for backups: S3 (moto, signatures checked) and Azure Blob (Azurite), on free ports,
  # stopped with the keepalive FIFO like the control plane.
  "$CAIRN_CACHE/object-store-venv/bin/python" "$CAIRN_ROOT/scripts/object_store.py" --bucket cairn-backups \
    --container cairn-backups --azurite "$CAIRN_CACHE/azurite/node_modules/.bin/azurite-blob" \
    < "$STACK_DIR/keepalive" 3>&- > "$STACK_DIR/object-store.json" 2> "$STACK_DIR/object-store.log" &
  stack_pids+=($!)
  for ((i = 0; i < 300; i++)); do [[ -s "$STACK_DIR/object-store.json" ]] && break; sleep 0.2; done
  if [[ ! -s "$STACK_DIR/object-store.json" ]]; then echo "the object storage did not start; its log:" >&2; tail -n 30 "$STACK_DIR/object-store.log" >&2; return 1; fi
  eval "$(python3 -c 'import json,sys,shlex; o=json.load(open(sys.argv[1])); s=o["s3"]; a=o["azure"]
for k,v in [("CAIRN_S3_ENDPOINT",s["endpoint"]),("CAIRN_S3_ACCESS_KEY",s["accessKey"]),("CAIRN_S3_SECRET_KEY",s["secretKey"]),("CAIRN_S3_BUCKET",s["buckets"][0]),("CAIRN_AZURE_ENDPOINT",a["endpoint"]),("CAIRN_AZURE_ACCOUNT",a["account"]),("CAIRN_AZURE_KEY",a["key"])]: print("export %s=%s" % (k, shlex.quote(v)))' "$STACK_DIR/object-store.json")"

  # GCS (beyond OpenEverest): cairn-testgcs (testgcs/, fake-gcs-server's storage checking each request's
  # signed token) with bucket cairn-gcs-backups; its one service account's key goes to a file (a PEM).
  local gcs_bin
  gcs_bin=$("$CAIRN_ROOT/testgcs/build.sh")
  "$gcs_bin" -bucket cairn-gcs-backups < "$STACK_DIR/keepalive" 3>&- > "$STACK_DIR/gcs.json" 2> "$STACK_DIR/gcs.log" &
  stack_pids+=($!)
  for ((i = 0; i < 150; i++)); do [[ -s "$STACK_DIR/gcs.json" ]] && break; sleep 0.2; done
  if [[ ! -s "$STACK_DIR/gcs.json" ]]; then echo "the GCS server did not start; its log:" >&2; tail -n 30 "$STACK_DIR/gcs.log" >&2; return 1; fi
  eval "$(python3 -c 'import json,sys,shlex,os; o=json.load(open(sys.argv[1])); kf=sys.argv[2]
fd=os.open(kf, os.O_WRONLY|os.O_CREAT|os.O_TRUNC, 0o600); os.write(fd, json.dumps({"type": "service_account", "client_email": o["clientEmail"], "private_key": o["privateKey"]}).encode()); os.close(fd)
for k,v in [("CAIRN_GCS_ENDPOINT",o["endpoint"]),("CAIRN_GCS_BUCKET",o["buckets"][0]),("CAIRN_GCS_CLIENT_EMAIL",o["clientEmail"]),("CAIRN_GCS_KEY_FILE",kf)]: print("export %s=%s" % (k, shlex.quote(v)))' "$STACK_DIR/gcs.json" "$STACK_DIR/gcs-key.json")"

  "$bin/cairn" namespaces add everest-system --unmanaged >/dev/null
  "$bin/cairn" namespaces add "${CAIRN_SANDBOX_NAMESPACE:-everest}" --label-only >/dev/null
  # CAIRN_SANDBOX_UPGRADE_NAMESPACE (default everest-upgrade; empty: none): a managed namespace whose simulated
  # operators run the older generation, so Settings → Operator upgrades has an upgrade to approve (the
  # simulator then moves them to the approved versions, as `cairn namespaces update` would).
  local upgrade_ns="${CAIRN_SANDBOX_UPGRADE_NAMESPACE-everest-upgrade}"
  if [[ -n "$upgrade_ns" ]]; then "$bin/cairn" namespaces add "$upgrade_ns" --label-only >/dev/null; fi

  # The simulator also stands in for the Percona version service, serving ../shared/version-service/ on a
  # free port under the real service's paths; it prints the URL Cairn should use.
  # It runs `cairn data-importer` (the chart's importers) with the cairn that serves, as the import Jobs' pods.
  CAIRN_SIM_IMPORTER_BIN="$bin/cairn" CAIRN_SIM_OLDER_OPERATORS_IN="$upgrade_ns" "$sim_bin/cairn-sim" --version-service-dir "${CAIRN_VERSION_SERVICE_DIR:-$CAIRN_ROOT/../shared/version-service}" \
    --pmm-version "${CAIRN_SANDBOX_PMM_VERSION:-3.1.0}" \
    > "$STACK_DIR/sim.out" 2> "$STACK_DIR/sim.log" &
  stack_pids+=($!)
  SIM_PID=$!
  for ((i = 0; i < 300; i++)); do grep -q '^CAIRN_VERSION_SERVICE_URL=' "$STACK_DIR/sim.out" 2>/dev/null && break; sleep 0.2; done
  local vs_url
  vs_url=$(sed -n 's/^CAIRN_VERSION_SERVICE_URL=//p' "$STACK_DIR/sim.out" | head -n1)
  if [[ -z "$vs_url" ]]; then echo "the simulator did not start; its log:" >&2; tail -n 30 "$STACK_DIR/sim.log" >&2; return 1; fi
  # A PMM server stand-in (user admin, password admin) for the monitoring endpoints.
  for ((i = 0; i < 50; i++)); do grep -q '^CAIRN_PMM_URL=' "$STACK_DIR/sim.out" 2>/dev/null && break; sleep 0.2; done
  CAIRN_PMM_URL=$(sed -n 's/^CAIRN_PMM_URL=//p' "$STACK_DIR/sim.out" | head -n1)
  export CAIRN_PMM_URL
  CAIRN_VERSION_SERVICE_URL="$vs_url" \
  CAIRN_LISTEN="127.0.0.1:$port" LEPTOS_SITE_ROOT="$site" "$bin/cairn" serve > "$STACK_DIR/cairn.out" 2> "$STACK_DIR/cairn.log" &
  stack_pids+=($!)
  CAIRN_PID=$!
  CAIRN_URL="http://127.0.0.1:$port"
  if ! wait_http "$CAIRN_URL/readyz" 60; then tail -n 30 "$STACK_DIR/cairn.log" >&2; return 1; fi
  CAIRN_ADMIN_PASSWORD=$("$bin/cairn" accounts initial-admin-password)
  export CAIRN_URL CAIRN_ADMIN_PASSWORD
  # The simulated operators roll out a step after the namespace appears: wait until the three DatabaseEngines
  # report installed, so the create form offers every engine from the first page load.
  local token installed ns="${CAIRN_SANDBOX_NAMESPACE:-everest}"
  token=$(curl -fsS -H 'Content-Type: application/json' \
    -d "$(python3 -c 'import json,sys; print(json.dumps({"username": "admin", "password": sys.argv[1]}))' "$CAIRN_ADMIN_PASSWORD")" \
    "$CAIRN_URL/v1/session" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  for ((i = 0; i < 600; i++)); do
    installed=$(curl -fsS -H "Authorization: Bearer $token" "$CAIRN_URL/v1/namespaces/$ns/database-engines" 2>/dev/null |
      python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin)["items"] if e.get("status", {}).get("status") == "installed" and e["status"].get("availableVersions", {}).get("engine")))' 2>/dev/null || echo 0)
    [[ "$installed" == 3 ]] && break
    sleep 0.2
  done
  if [[ "$installed" != 3 ]]; then
    echo "the database engines did not become installed; they say:" >&2
    curl -sS -H "Authorization: Bearer $token" "$CAIRN_URL/v1/namespaces/$ns/database-engines" >&2 || true
    echo; echo "cairn's log:" >&2; tail -n 30 "$STACK_DIR/cairn.log" >&2
    echo "the simulator's log:" >&2; tail -n 30 "$STACK_DIR/sim.log" >&2
    return 1
  fi
}

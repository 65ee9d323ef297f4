# Sourced by sandbox.sh and test.sh: starts the local stack and stops it on exit.
#   start_stack PORT   → local control plane (testenv) + CRDs + namespaces + engine simulator + cairn
#   sets: STACK_DIR, KUBECONFIG, CAIRN_URL, CAIRN_ADMIN_PASSWORD, CAIRN_PID, SIM_PID
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

# start_stack PORT BIN_DIR SITE_ROOT
start_stack() {
  local port=$1 bin=$2 site=$3
  STACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cairn-stack.XXXXXX")
  local testenv_bin
  testenv_bin=$("$CAIRN_ROOT/testenv/build.sh" | tail -n1)
  "$bin/cairn" crd > "$STACK_DIR/cairn-crds.yaml"
  local up="${CAIRN_UPSTREAM_CRDS:-$CAIRN_ROOT/../shared/upstream-crds}"
  mkfifo "$STACK_DIR/keepalive"
  # shellcheck disable=SC2086 # CAIRN_TESTENV_ARGS: extra testenv flags, e.g. --audit-log FILE (bench/)
  "$testenv_bin" --dir "$STACK_DIR/testenv" ${CAIRN_TESTENV_ARGS:-} \
    --crds "$STACK_DIR/cairn-crds.yaml" \
    --crds "$up/pg-operator-2.7.0-crd.yaml" --crds "$up/pxc-operator-1.18.0-crd.yaml" --crds "$up/psmdb-operator-1.21.1-crd.yaml" \
    < "$STACK_DIR/keepalive" > "$STACK_DIR/testenv.out" 2> "$STACK_DIR/testenv.log" &
  stack_pids+=($!)
  exec 3> "$STACK_DIR/keepalive"
  local i
  for ((i = 0; i < 600; i++)); do [[ -s "$STACK_DIR/testenv.out" ]] && break; kill -0 "${stack_pids[0]}" 2>/dev/null || break; sleep 0.2; done
  if [[ ! -s "$STACK_DIR/testenv.out" ]]; then
    echo "testenv did not start; its log:" >&2; tail -n 30 "$STACK_DIR/testenv.log" >&2; return 1
  fi
  export KUBECONFIG
  KUBECONFIG=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kubeconfig"])' "$STACK_DIR/testenv.out")

  "$bin/cairn" namespaces add everest-system --unmanaged >/dev/null
  "$bin/cairn" namespaces add "${CAIRN_SANDBOX_NAMESPACE:-everest}" >/dev/null

  "$bin/cairn-sim" > "$STACK_DIR/sim.log" 2>&1 &
  stack_pids+=($!)
  SIM_PID=$!
  CAIRN_LISTEN="127.0.0.1:$port" LEPTOS_SITE_ROOT="$site" "$bin/cairn" serve > "$STACK_DIR/cairn.out" 2> "$STACK_DIR/cairn.log" &
  stack_pids+=($!)
  CAIRN_PID=$!
  CAIRN_URL="http://127.0.0.1:$port"
  if ! wait_http "$CAIRN_URL/readyz" 60; then tail -n 30 "$STACK_DIR/cairn.log" >&2; return 1; fi
  CAIRN_ADMIN_PASSWORD=$("$bin/cairn" accounts initial-admin-password)
  export CAIRN_URL CAIRN_ADMIN_PASSWORD
}

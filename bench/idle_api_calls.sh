#!/usr/bin/env bash
# Kubernetes API requests Cairn makes per minute while N database clusters sit idle and ready.
#
# Starts the local stack with the API server's audit log on (Metadata level, every request), creates N
# DatabaseClusters through the REST API (a mix of the three engines), waits until the engine simulator has
# made them all ready, lets things settle, then counts the requests in the audit log over a window, split by
# client (User-Agent `cairn/…` vs `cairn-sim/…`) and by verb and resource. Also reports Cairn's resident
# memory at the end of the window. Prints one JSON document on stdout.
#
#   bench/idle_api_calls.sh | tee bench/results/idle_api_calls.json
#
# Env: BENCH_CLUSTERS (100), BENCH_WINDOW_S (120), BENCH_SETTLE_S (30), BENCH_PORT (3190),
#      BENCH_BIN_DIR (the debug build dir; point it at a release build for memory numbers that matter),
#      BENCH_SCHEDULE (a cron string; set: a backup storage on the stack's S3 server, and every cluster gets a
#      backup schedule to it with that cron and PITR off: the idle cost of a scheduled database. Pick one
#      that does not fire during the run, e.g. "0 3 1 1 *"; empty (default): no backups configured).
# Needs: `cargo build --features sim --bins` (or `cargo leptos build` + the cairn-sim build) beforehand.
set -euo pipefail
CAIRN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAIRN_ROOT
unset KUBECONFIG
source "$CAIRN_ROOT/scripts/env.sh"
source "$CAIRN_ROOT/scripts/stack.sh"

n=${BENCH_CLUSTERS:-100}
window=${BENCH_WINDOW_S:-120}
settle=${BENCH_SETTLE_S:-30}
bin=${BENCH_BIN_DIR:-$CARGO_TARGET_DIR/debug}
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench.XXXXXX")
audit="$work/audit.log"

trap 'stop_stack; [[ -n "${BENCH_KEEP:-}" ]] || rm -rf "$work"' EXIT
mkdir -p "$work/site"
export CAIRN_SIM_STEP_MS=${CAIRN_SIM_STEP_MS:-300}
CAIRN_TESTENV_ARGS="--audit-log $audit" start_stack "${BENCH_PORT:-3190}" "$bin" "$work/site" >&2

token=$(curl -fsS -X POST "$CAIRN_URL/v1/session" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$CAIRN_ADMIN_PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
api() { curl -fsS -H "authorization: Bearer $token" -H 'content-type: application/json' "$@"; }

schedule=${BENCH_SCHEDULE:-}
backup=""
if [[ -n "$schedule" ]]; then
  echo "creating backup storage bench-s3 on $CAIRN_S3_ENDPOINT; every cluster gets the schedule \"$schedule\"" >&2
  api -X POST "$CAIRN_URL/v1/namespaces/everest/backup-storages" -o /dev/null -d "{
    \"name\": \"bench-s3\", \"type\": \"s3\", \"bucketName\": \"$CAIRN_S3_BUCKET\", \"url\": \"$CAIRN_S3_ENDPOINT\",
    \"region\": \"us-east-1\", \"accessKey\": \"$CAIRN_S3_ACCESS_KEY\", \"secretKey\": \"$CAIRN_S3_SECRET_KEY\",
    \"forcePathStyle\": true, \"verifyTLS\": true}"
  backup=", \"backup\": {\"schedules\": [{\"enabled\": true, \"name\": \"bench\", \"schedule\": \"$schedule\",
                                          \"backupStorageName\": \"bench-s3\", \"retentionCopies\": 3}]}"
fi

engines=(postgresql pxc psmdb)
echo "creating $n database clusters" >&2
for ((i = 0; i < n; i++)); do
  e=${engines[$((i % 3))]}
  api -X POST "$CAIRN_URL/v1/namespaces/everest/database-clusters" -o /dev/null -d "{
    \"apiVersion\": \"everest.percona.com/v1alpha1\", \"kind\": \"DatabaseCluster\",
    \"metadata\": {\"name\": \"idle-$i\", \"namespace\": \"everest\"},
    \"spec\": {\"engine\": {\"type\": \"$e\", \"replicas\": 1, \"storage\": {\"size\": \"1G\"},
                          \"resources\": {\"cpu\": \"600m\", \"memory\": \"1G\"}}$backup}}"
done

echo "waiting until all $n are ready" >&2
ready=0
for ((t = 0; t < 600; t++)); do
  ready=$(api "$CAIRN_URL/v1/namespaces/everest/database-clusters" |
    python3 -c 'import json,sys; print(sum(1 for d in json.load(sys.stdin)["items"] if (d.get("status") or {}).get("status") == "ready"))')
  [[ $ready -ge $n ]] && break
  sleep 1
done
if [[ $ready -lt $n ]]; then echo "only $ready of $n became ready" >&2; exit 1; fi

echo "all ready; settling ${settle}s, then counting for ${window}s" >&2
sleep "$settle"
start_line=$(wc -l < "$audit")
sleep "$window"
rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$CAIRN_PID/status")
tail -n +"$((start_line + 1))" "$audit" > "$work/window.log"
head -n "$start_line" "$audit" > "$work/setup.log"

python3 - "$work/window.log" "$n" "$window" "$rss_kib" "$work/setup.log" "$schedule" <<'EOF'
import collections, json, sys
path, n, window, rss, setup, schedule = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]

def requests(path):  # one RequestReceived event per request, long-running watches included
    for line in open(path):
        ev = json.loads(line)
        if ev.get("stage") == "RequestReceived":
            ua = ev.get("userAgent", "")
            yield ev, ua, "cairn" if ua.startswith("cairn/") else "cairn-sim" if ua.startswith("cairn-sim/") else "other"

# Setup (creating and driving the clusters to ready) shows that requests are attributed to each client.
setup_by_client = collections.Counter(c for _, _, c in requests(setup))
by_client = collections.Counter()
detail = collections.defaultdict(collections.Counter)
for ev, ua, client in requests(path):
    ref = ev.get("objectRef") or {}
    key = f'{ev.get("verb")} {ref.get("resource", ev.get("requestURI", ""))}'
    if client == "other":  # the API server's own loops (leases, controllers): name them by agent
        key = f'{ua.split(" ")[0]} {key}'
    by_client[client] += 1
    detail[client][key] += 1
per_min = lambda c: round(c * 60.0 / window, 2)
print(json.dumps({
    "benchmark": "idle_api_calls",
    "clusters": n,
    "backup_schedule": schedule or None,
    "window_seconds": window,
    "setup_requests_by_client": dict(setup_by_client),
    "cairn_requests_per_minute": per_min(by_client["cairn"]),
    "cairn_requests": dict(detail["cairn"]),
    "simulator_requests": dict(detail["cairn-sim"]),
    "simulator_requests_per_minute": per_min(by_client["cairn-sim"]),
    "other_requests_per_minute": per_min(by_client["other"]),
    "other_requests": dict(detail["other"]),
    "cairn_rss_mib": round(rss / 1024, 1),
}, indent=2, sort_keys=True))
EOF

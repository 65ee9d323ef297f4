#!/usr/bin/env bash
# Cairn under load: 1,000 database clusters, the REST list of all of them, then 100 clients for 60 s doing a
# mix of list, get, create, update, delete, login and live-list opens; p50/p99 per operation, the 5xx count,
# Cairn's RSS, and whether every status caught up with its upstream cluster afterwards (no stale status).
# Prints one JSON document on stdout (the client side is bench/load.py); exits 1 if a status stayed stale.
#
#   bench/load.sh | tee bench/results/load.json
#
# Env: BENCH_CLUSTERS (1000), BENCH_CLIENTS (100), BENCH_DURATION_S (60), BENCH_LIST_SAMPLES (50),
#      BENCH_CONVERGE_S (300), BENCH_PORT (3191), BENCH_BIN_DIR (the debug build dir; a release build gives
#      numbers that matter), CAIRN_SIM_STEP_MS (300 here).
# Needs: `cargo build --features sim --bins` (or `--release`) beforehand.
set -euo pipefail
CAIRN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAIRN_ROOT
unset KUBECONFIG
source "$CAIRN_ROOT/scripts/env.sh"
source "$CAIRN_ROOT/scripts/stack.sh"

bin=${BENCH_BIN_DIR:-$CARGO_TARGET_DIR/debug}
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench.XXXXXX")
trap 'stop_stack; rm -rf "$work"' EXIT
mkdir -p "$work/site"
export CAIRN_SIM_STEP_MS=${CAIRN_SIM_STEP_MS:-300}
# The default limits (100 requests/s for the whole server, 1 login/s per IP) would turn most of 100 clients'
# requests into 429s: this measures Cairn, not its limiter.
export CAIRN_API_REQUESTS_RATE_LIMIT=${CAIRN_API_REQUESTS_RATE_LIMIT:-100000}
export CAIRN_CREATE_SESSION_RATE_LIMIT=${CAIRN_CREATE_SESSION_RATE_LIMIT:-100000}
start_stack "${BENCH_PORT:-3191}" "$bin" "$work/site" >&2
export CAIRN_PID BENCH_NAMESPACE="${CAIRN_SANDBOX_NAMESPACE:-everest}"
rc=0
python3 "$CAIRN_ROOT/bench/load.py" || rc=$?
if [[ $rc -ne 0 ]]; then echo "--- cairn log (tail) ---" >&2; tail -n 30 "$STACK_DIR/cairn.log" >&2; fi
exit $rc

#!/usr/bin/env bash
# How much work Cairn puts on the API server to converge N DatabaseClusters, and after a restart; against a
# floor that no controller can beat.
#
# Starts the local stack (testenv with its audit log, the engine simulator, `cairn serve`), then:
#  1. creates N DatabaseClusters as raw CRs (round-robin PostgreSQL, MySQL/PXC, MongoDB) straight on the API
#     server and waits until all are ready: Cairn's writes per cluster by verb and resource (from the audit
#     log, by User-Agent), upstream PATCHes per upstream object, API server CPU seconds (the testenv process:
#     kube-apiserver and etcd), time to all ready;
#  2. restarts Cairn with nothing changed: its requests and writes in the BENCH_SETTLE_S after the restart,
#     resident memory before (steady state) and after;
#  3. the floor: Cairn stopped, the same N DatabaseClusters created in another namespace and the upstream
#     objects Cairn had applied server-side-applied once each by a bare client, the simulator driving them to
#     ready as before: API server CPU seconds.
# Steps 1 and 3 are repeated BENCH_ROUNDS times (2: Cairn started again, new names, a new floor namespace);
# Cairn's CPU is reported as a ratio to the floor's over all rounds, and per round.
# Prints one JSON document and writes it to bench/results/converge-<N>.json.
#
#   bench/converge.sh                      # N=300
#   BENCH_CLUSTERS=1000 bench/converge.sh
#
# Env: BENCH_CLUSTERS (300), BENCH_ROUNDS (2), BENCH_SETTLE_S (20), BENCH_PORT (3192), BENCH_BIN_DIR (target/release),
#      CAIRN_SIM_STEP_MS (300).
# Needs: `cargo build --release --features sim --bins` beforehand (cairn and cairn-sim).
set -euo pipefail
CAIRN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAIRN_ROOT
unset KUBECONFIG
source "$CAIRN_ROOT/scripts/env.sh"
source "$CAIRN_ROOT/scripts/stack.sh"

n=${BENCH_CLUSTERS:-300}
bin=${BENCH_BIN_DIR:-$CARGO_TARGET_DIR/release}
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench.XXXXXX")
trap 'if [[ -s "$work/cairn.pid" ]]; then kill "$(cat "$work/cairn.pid")" 2>/dev/null || true; fi; stop_stack; rm -rf "$work"' EXIT
mkdir -p "$work/site"
export CAIRN_SIM_STEP_MS=${CAIRN_SIM_STEP_MS:-300}
# The API server's Go GC as a real kube-apiserver runs it (testenv's own default is GOGC=400, which spares the
# test suite CPU but would take part of every phase's cost out of what this bench measures).
export GOGC=${GOGC:-100}
port=${BENCH_PORT:-3192}
CAIRN_TESTENV_ARGS="--audit-log $work/audit.log" start_stack "$port" "$bin" "$work/site" >&2

vs_url=$(sed -n 's/^CAIRN_VERSION_SERVICE_URL=//p' "$STACK_DIR/sim.out" | head -n1)
# The restart: SIGTERM, wait, start again as start_stack did; prints the new pid (also starts a stopped Cairn).
cat > "$work/restart.sh" <<RESTART
set -e
old=\$(cat "$work/cairn.pid" 2>/dev/null || echo $CAIRN_PID)
kill "\$old" 2>/dev/null || true; while kill -0 "\$old" 2>/dev/null; do sleep 0.1; done
CAIRN_VERSION_SERVICE_URL="$vs_url" CAIRN_LISTEN="127.0.0.1:$port" LEPTOS_SITE_ROOT="$work/site" \
  nohup "$bin/cairn" serve >> "$STACK_DIR/cairn.out" 2>> "$STACK_DIR/cairn.log" < /dev/null &
echo \$! > "$work/cairn.pid"
for i in \$(seq 1 300); do curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && break; sleep 0.2; done
echo \$!
cat "$work/cairn.pid"
RESTART
cat > "$work/stop.sh" <<STOP
p=\$(cat "$work/cairn.pid" 2>/dev/null || echo $CAIRN_PID); kill "\$p" 2>/dev/null; while kill -0 "\$p" 2>/dev/null; do sleep 0.1; done
STOP

ETCD_URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["etcd"])' "$STACK_DIR/testenv.out")
export ETCD_URL
export AUDIT_LOG="$work/audit.log" APISERVER_PID="${stack_pids[0]}" CAIRN_PID BENCH_CLUSTERS="$n" KUBECONFIG
export BENCH_NAMESPACE="${CAIRN_SANDBOX_NAMESPACE:-everest}" BENCH_RESTART_CMD="bash $work/restart.sh" BENCH_STOP_CMD="bash $work/stop.sh"
mkdir -p "$CAIRN_ROOT/bench/results"
out="$CAIRN_ROOT/bench/results/converge-$n.json"
python3 "$CAIRN_ROOT/bench/converge.py" > "$work/result.json"
python3 - "$work/result.json" "$bin" "$out" <<'EOF2' > "$work/final.json"
import json, os, subprocess, sys, datetime
r = json.load(open(sys.argv[1]))
# The result this one replaces, for the comparison (its own "previous" dropped).
if os.path.exists(sys.argv[3]):
    try:
        prev = json.load(open(sys.argv[3]))
        prev.pop("previous", None)
        r["previous"] = prev
    except ValueError:
        pass
# The build the binary came from (through symlinks: a bench dir may pair a release cairn with a debug simulator).
r["build"] = "release" if "/release/" in os.path.realpath(os.path.join(sys.argv[2], "cairn")) else "debug"
r["simulator_build"] = "release" if "/release/" in os.path.realpath(os.path.join(sys.argv[2], "cairn-sim")) else "debug"
r["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
r["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
# Which binary ran: its build time, and what the runner says it was built from (BENCH_BINARY_NOTE), for a
# binary not built from HEAD (the shared machine's release builds take long; one may be reused).
cairn_bin = os.path.join(sys.argv[2], "cairn")
r["cairn_binary_mtime"] = datetime.datetime.fromtimestamp(os.path.getmtime(cairn_bin), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
if os.environ.get("BENCH_BINARY_NOTE"):
    r["cairn_binary_note"] = os.environ["BENCH_BINARY_NOTE"]
print(json.dumps(r, indent=2))
EOF2
mv "$work/final.json" "$out"
cat "$out"

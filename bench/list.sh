#!/usr/bin/env bash
# The REST list of N databases (default 1,000), one client: p50/p99 and bytes on the wire with brotli, gzip
# and none, the summary view and a page of 100; and the UI's databases page (server-side render). The
# databases are created as raw CRs and made ready by the engine simulator first.
# Prints one JSON document and writes it to bench/results/list-<N>.json.
#
#   bench/list.sh
#
# Env: BENCH_CLUSTERS (1000), BENCH_SAMPLES (200), BENCH_PORT (3193), BENCH_BIN_DIR (target/release),
#      CAIRN_SIM_STEP_MS (300).
# Needs: `cargo leptos build --release` (or `cargo build --release --features sim --bins`) beforehand.
set -euo pipefail
CAIRN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAIRN_ROOT
unset KUBECONFIG
source "$CAIRN_ROOT/scripts/env.sh"
source "$CAIRN_ROOT/scripts/stack.sh"
n=${BENCH_CLUSTERS:-1000}
bin=${BENCH_BIN_DIR:-$CARGO_TARGET_DIR/release}
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench.XXXXXX")
trap 'stop_stack; rm -rf "$work"' EXIT
mkdir -p "$work/site"
export CAIRN_SIM_STEP_MS=${CAIRN_SIM_STEP_MS:-300}
export CAIRN_API_REQUESTS_RATE_LIMIT=${CAIRN_API_REQUESTS_RATE_LIMIT:-100000}
start_stack "${BENCH_PORT:-3193}" "$bin" "$work/site" >&2
export KUBECONFIG BENCH_CLUSTERS="$n" BENCH_NAMESPACE="${CAIRN_SANDBOX_NAMESPACE:-everest}"
mkdir -p "$CAIRN_ROOT/bench/results"
out="$CAIRN_ROOT/bench/results/list-$n.json"
python3 "$CAIRN_ROOT/bench/list.py" > "$work/result.json"
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

#!/usr/bin/env bash
# Every test: unit, integration against a real kube-apiserver + etcd, and Playwright in Debian's Chromium.
# Installs what it needs first (scripts/bootstrap.sh). Caches live outside the clone ($CAIRN_CACHE).
set -euo pipefail
CAIRN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAIRN_ROOT
unset KUBECONFIG
source "$CAIRN_ROOT/scripts/env.sh"
source "$CAIRN_ROOT/scripts/stack.sh"
cd "$CAIRN_ROOT"
bash scripts/bootstrap.sh
CAIRN_TESTENV_BIN=$(testenv/build.sh | tail -n1)
export CAIRN_TESTENV_BIN

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

step "unit and integration tests (cargo test)"
cargo test --features sim 2>&1

step "build (cargo leptos build)"
cargo leptos build >&2
cargo build --features sim --bin cairn-sim >&2

step "end-to-end (Playwright, Debian Chromium)"
trap 'stop_stack' EXIT
start_stack "${CAIRN_E2E_PORT:-3000}" "$CARGO_TARGET_DIR/debug" "$CAIRN_ROOT/target/site"
rc=0
(cd end2end && BASE_URL="$CAIRN_URL" CAIRN_ADMIN_PASSWORD="$CAIRN_ADMIN_PASSWORD" CAIRN_E2E_NAMESPACE=everest \
  npx playwright test) || rc=$?
if [[ $rc -ne 0 ]]; then
  echo "--- cairn log (tail) ---" >&2; tail -n 40 "$STACK_DIR/cairn.log" >&2 || true
  echo "--- simulator log (tail) ---" >&2; tail -n 20 "$STACK_DIR/sim.log" >&2 || true
fi
exit $rc

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
logs=$(mktemp -d "${TMPDIR:-/tmp}/cairn-test.XXXXXX")

# The target dir is shared by every clone (CI makes a new one per run): drop our own crate's artifacts and
# incremental state older than two days so it does not grow without bound. Dependencies stay cached.
build_dir="$CARGO_BUILD_BUILD_DIR"
if [[ -d "$build_dir/debug/deps" ]]; then
  names=(-name 'cairn*' -o -name 'libcairn*')
  for t in tests/*.rs; do t=${t##*/}; names+=(-o -name "${t%.rs}-*"); done
  find "$build_dir/debug/deps" "$build_dir/front" -maxdepth 3 -mtime +2 \( "${names[@]}" \) -delete 2>/dev/null || true
  find "$build_dir" -maxdepth 4 -type d -path '*/incremental/*' -mtime +2 -prune -exec rm -rf {} + 2>/dev/null || true
fi

step "unit and integration tests (cargo test)"
# Every test binary runs even when one fails (the totals below count them all); a failure still fails the run.
cargo_rc=0
cargo test --features sim --no-fail-fast 2>&1 | tee "$logs/cargo.log" || cargo_rc=$?

# The release site, as users get it: CI must see it compile (a debug-only CI once let it stop compiling),
# and Playwright runs against it, so the site is built once. The simulator is the debug one `cargo test
# --features sim` just built (it is never part of a release).
step "build the release site (cargo leptos build --release)"
build_start=$SECONDS
cargo leptos build --release >&2
bash scripts/compress-site.sh
echo "release site built in $((SECONDS - build_start)) s" >&2
[[ -x "$CARGO_TARGET_DIR/debug/cairn-sim" ]] || cargo build --features sim --bin cairn-sim >&2

step "end-to-end (Playwright, Debian Chromium, release build)"
trap 'stop_stack' EXIT
start_stack "${CAIRN_E2E_PORT:-3000}" "$CARGO_TARGET_DIR/release" "$CAIRN_ROOT/target/site" "$CARGO_TARGET_DIR/debug"
rc=0
(cd end2end && BASE_URL="$CAIRN_URL" CAIRN_ADMIN_PASSWORD="$CAIRN_ADMIN_PASSWORD" CAIRN_E2E_NAMESPACE=everest \
  npx playwright test) 2>&1 | tee "$logs/playwright.log" || rc=$?
if [[ $rc -ne 0 ]]; then
  echo "--- cairn log (tail) ---" >&2; tail -n 40 "$STACK_DIR/cairn.log" >&2 || true
  echo "--- simulator log (tail) ---" >&2; tail -n 20 "$STACK_DIR/sim.log" >&2 || true
fi

# One closing line with the totals of both runners.
read -r cp cf < <(awk '/^test result:/ {p += $4; f += $6} END {print p+0, f+0}' "$logs/cargo.log")
pp=$(sed -n 's/^ *\([0-9][0-9]*\) passed.*/\1/p' "$logs/playwright.log" | tail -n1)
pf=$(sed -n 's/^ *\([0-9][0-9]*\) failed.*/\1/p' "$logs/playwright.log" | tail -n1)
echo "cairn: $((cp + ${pp:-0})) passed, $((cf + ${pf:-0})) failed"
if [[ $cargo_rc -ne 0 && $rc -eq 0 ]]; then rc=$cargo_rc; fi
exit $rc

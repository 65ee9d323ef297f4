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

# Builds the test binaries (`cargo test --no-run`: the unit tests of the library and binaries, and the one
# integration binary, tests/integration/), runs them CAIRN_TEST_JOBS (default 3) at a time, the
# slowest first (by the times of the previous run, kept in $CAIRN_CACHE/test-times.tsv), then the doc tests;
# appends everything to $1/cargo.log. Returns non-zero if the build or any binary failed.
build_test_binaries() {
  local logs="$1" start=$SECONDS
  cargo test --features sim --no-run --message-format=json-render-diagnostics >"$logs/artifacts.json" || return $?
  echo "test binaries built in $((SECONDS - start)) s" | tee -a "$logs/cargo.log"
}

run_test_binaries() {
  local logs="$1" jobs="${CAIRN_TEST_JOBS:-3}" rc=0 start=$SECONDS times="$CAIRN_CACHE/test-times.tsv"
  local -a bins=()
  [[ -f "$times" ]] || : >"$times"
  # "seconds<TAB>name<TAB>executable", slowest first; a binary never timed counts as slow (it runs early).
  mapfile -t bins < <(jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null)
    | "\(.target.kind[0])/\(.target.name)\t\(.executable)"' "$logs/artifacts.json" | sort -u |
    awk -F'\t' 'FILENAME == ARGV[1] { t[$2] = $1; next } { print ($1 in t ? t[$1] : 999) "\t" $0 }' "$times" - |
    sort -t$'\t' -k1,1nr | cut -f2-)
  mkdir -p "$logs/bin"
  local running=0 i=0 name exe
  for entry in "${bins[@]}"; do
    name=${entry%%$'\t'*}; exe=${entry#*$'\t'}
    i=$((i + 1))
    # Each binary in the background, its output in its own file; at most $jobs at once.
    (
      set +e
      out="$logs/bin/$i.log"
      echo "     Running $name ($exe)" >"$out"
      t0=$SECONDS
      args=()
      # The integration tests are one binary (one link, one shared control plane): its tests run
      # CAIRN_TEST_THREADS (default 6) at a time; most of their time is spent waiting on the API server.
      [[ "$name" == test/integration ]] && args=(--test-threads="${CAIRN_TEST_THREADS:-6}")
      (cd "$CAIRN_ROOT" && "$exe" "${args[@]}") >>"$out" 2>&1
      code=$?
      echo "     ($name: exit $code after $((SECONDS - t0)) s)" >>"$out"
      printf '%s\t%s\n' "$((SECONDS - t0))" "$name" >"$logs/bin/$i.time"
      { flock 9; tee -a "$logs/cargo.log" <"$out"; } 9>"$logs/cargo.lock"
      exit $code
    ) &
    running=$((running + 1))
    if ((running >= jobs)); then
      wait -n || rc=1
      running=$((running - 1))
    fi
  done
  while ((running > 0)); do
    wait -n || rc=1
    running=$((running - 1))
  done
  cat "$logs"/bin/*.time >"$times.new" 2>/dev/null && mv "$times.new" "$times"
  # Doc tests only when a doc comment has a Rust code block (otherwise rustdoc's pass over the crate costs
  # ~15 s of CPU for nothing; today the docs have none).
  if grep -rqE '^\s*//[/!]\s*```(rust[^`]*)?\s*$' src; then
    cargo test --features sim --doc 2>&1 | tee -a "$logs/cargo.log" || rc=1
  fi
  echo "test binaries: ${#bins[@]} run, $jobs at a time, $((SECONDS - start)) s" | tee -a "$logs/cargo.log"
  return $rc
}

# The target dir is shared by every clone (CI makes a new one per run): drop our own crate's artifacts and
# incremental state older than two days so it does not grow without bound. Dependencies stay cached.
build_dir="$CARGO_BUILD_BUILD_DIR"
if [[ -d "$build_dir/debug/deps" ]]; then
  names=(-name 'cairn*' -o -name 'libcairn*')
  names+=(-o -name 'integration-*')
  # (The test binaries of the layout before tests/integration/, one per file: still in older build dirs.)
  for t in tests/*.rs tests/integration/*.rs; do [[ -e "$t" ]] || continue; t=${t##*/}; names+=(-o -name "${t%.rs}-*"); done
  find "$build_dir/debug/deps" "$build_dir/front" -maxdepth 3 -mtime +2 \( "${names[@]}" \) -delete 2>/dev/null || true
  find "$build_dir" -maxdepth 4 -type d -path '*/incremental/*' -mtime +2 -prune -exec rm -rf {} + 2>/dev/null || true
  # CI (a fresh clone: every source is new, so our crate is rebuilt anyway) starts from none of our own
  # artifacts: each full build leaves ~10 GB of test binaries, and worktrees and clones share the names.
  if [[ "${CI:-}" == true ]]; then
    find "$build_dir/debug/deps" -maxdepth 1 \( "${names[@]}" \) -delete 2>/dev/null || true
    rm -rf "$build_dir/debug/incremental" 2>/dev/null || true
  fi
fi

# The release site, as users get it: CI must see it compile (a debug-only CI once let it stop compiling),
# and Playwright runs against it, so the site is built once. The simulator is the debug one `cargo test
# --features sim` builds (it is never part of a release).
# It is built with cheaper settings than the site users get (server opt-level 0, wasm opt-level 1, no LTO, many
# codegen units, no wasm-opt pass, no JS minifying, brotli at a fast level): the same code, features and cfg
# (no debug assertions), so whatever stops the release build from compiling stops this one, in a fraction of
# the time. It goes to target/e2e/, so target/release and target/site stay the real release (bench/size.sh
# measures those).
# The wasm half and the server half are two processes started first, in the background, beside the test
# binaries' build. Each of the three builds spends most of its time in one rustc front end (our crate's),
# one core each; run one after the other (as one `cargo leptos build` runs them when it hashes file names), the
# server's waited for the wasm's while a core stayed idle. Each has its own build dir ($CAIRN_CACHE/target-e2e
# for the wasm, $CAIRN_CACHE/target-e2e-server for the server: they share no artifact), so no cargo waits on
# another's lock. Their output goes to $logs/site.log and $logs/site-server.log, printed whole if one fails.
# The wasm half runs niced (it has the most time to spare: Playwright also waits for the server half and then
# runs beside the integration tests, which finish last). The server half is not niced: it needs ~120 CPU-s
# alone, but niced beside the test build, the integration tests and the wasm half it got so little CPU that
# it finished ~700 s in, with Playwright (~3 min) still to run after it: the run's critical path.
# The site's build dirs start as a copy of what the shared one holds of the site's profiles (release, wasm),
# once: a cache from before they were split then needs no rebuild of the site's dependencies.
e2e_build_dir="$CAIRN_CACHE/target-e2e"
e2e_server_build_dir="$CAIRN_CACHE/target-e2e-server"
if [[ ! -d "$e2e_build_dir" && -d "$CARGO_BUILD_BUILD_DIR/wasm32-unknown-unknown" ]]; then
  step "seed the release site's build dir from the shared one (once)"
  rm -rf "$e2e_build_dir.tmp" && mkdir -p "$e2e_build_dir.tmp"
  for d in wasm32-unknown-unknown wasm-release; do
    if [[ -d "$CARGO_BUILD_BUILD_DIR/$d" ]]; then cp -a "$CARGO_BUILD_BUILD_DIR/$d" "$e2e_build_dir.tmp/"; fi
  done
  mv "$e2e_build_dir.tmp" "$e2e_build_dir"
fi
if [[ ! -d "$e2e_server_build_dir" && -d "$e2e_build_dir/release" ]]; then
  mv "$e2e_build_dir/release" "$e2e_server_build_dir.tmp" && mkdir -p "$e2e_server_build_dir" &&
    mv "$e2e_server_build_dir.tmp" "$e2e_server_build_dir/release"
fi
# cargo-leptos runs wasm-opt on every wasm file of a release build (the npm one, binaryen compiled to wasm: ~2
# min under load for ~30 files even at -O0, which only reads and writes them back). The e2e build passes it
# `--version`, on which it prints its version and leaves the file as rustc and wasm-bindgen made it.
step "build the release site in the background (cargo leptos build --release --split, test settings, into target/e2e)"
build_start=$SECONDS
e2e_target="$CAIRN_ROOT/target/e2e"
e2e_build() { # NICENESS BUILD_DIR ARGS...: one half of the e2e release site
  local niceness=$1 build_dir=$2; shift 2
  CARGO_BUILD_BUILD_DIR="$build_dir" CARGO_TARGET_DIR="$e2e_target" LEPTOS_SITE_ROOT="$e2e_target/site" \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_WASM_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_WASM_RELEASE_LTO=false CARGO_PROFILE_WASM_RELEASE_CODEGEN_UNITS=16 \
  LEPTOS_WASM_OPT_FEATURES=--version \
    nice -n "$niceness" cargo leptos build --release --split --js-minify false "$@"
}
# The server half never touches the site dir; the wasm half empties and refills it, and writes the hashed
# file names (hash.txt) beside the server binary, which the server reads when it starts, not when it builds.
(e2e_build 5 "$e2e_build_dir" --frontend-only) >"$logs/site.log" 2>&1 &
site_pid=$!
(e2e_build 0 "$e2e_server_build_dir" --server-only) >"$logs/site-server.log" 2>&1 &
site_server_pid=$!

step "build the test binaries (cargo test --no-run)"
cargo_rc=0
build_test_binaries "$logs" || cargo_rc=$?

# The tests run while the release site builds: the integration tests mostly wait on the API server, the
# build is CPU; together they take little more than the longer of the two. Each binary's output is printed
# as it finishes.
tests_pid=
if [[ $cargo_rc -eq 0 ]]; then
  step "unit and integration tests (the built binaries), while the release site builds"
  # Every binary runs even when one fails (the totals below count them all); a failure fails the run. The
  # integration binary brings up one kube-apiserver shared by its tests, each in its own namespaces (a test
  # that stops the API server has its own).
  run_test_binaries "$logs" &
  tests_pid=$!
fi

site_rc=0
wait "$site_pid" || site_rc=$?
[[ $site_rc -eq 0 ]] || cat "$logs/site.log" >&2
echo "the release site's wasm half: exit $site_rc after $((SECONDS - build_start)) s" >&2
server_rc=0
wait "$site_server_pid" || server_rc=$?
[[ $server_rc -eq 0 ]] || cat "$logs/site-server.log" >&2
echo "the release site's server half: exit $server_rc after $((SECONDS - build_start)) s" >&2
if [[ $site_rc -eq 0 && $server_rc -ne 0 ]]; then site_rc=$server_rc; fi
if [[ $site_rc -eq 0 ]]; then
  # Brotli 5 rather than the shipped 11: the same files, in a tenth of the time (~30 s less for 12 MB).
  CAIRN_SITE_BROTLI_QUALITY=5 bash scripts/compress-site.sh "$e2e_target/site"
  # The split kept each lazy chunk's data out of the main wasm (scripts/check-split.py).
  python3 scripts/check-split.py "$e2e_target/site/pkg" || site_rc=1
  echo "release site built in $((SECONDS - build_start)) s" >&2
else
  echo "the release site did not build (exit $site_rc)" >&2
fi
[[ -x "$CARGO_TARGET_DIR/debug/cairn-sim" ]] || cargo build --features sim --bin cairn-sim >&2 || site_rc=$?

# Playwright starts as soon as the site is built, while the integration tests still run: they leave part of
# the CPU idle (they mostly wait on their API servers), and the browser fills it.
rc=0
if [[ $site_rc -eq 0 ]]; then
  step "end-to-end (Playwright, Debian Chromium, release build), beside the integration tests"
  trap 'stop_stack' EXIT
  # Every spec logs in from 127.0.0.1, two at a time: the per-IP login limit a real deployment keeps (1/s,
  # burst 3; tests/integration/sessions.rs checks it) would answer some of them 429.
  export CAIRN_CREATE_SESSION_RATE_LIMIT=20 CAIRN_CREATE_SESSION_BURST=40
  start_stack "${CAIRN_E2E_PORT:-3000}" "$e2e_target/release" "$e2e_target/site" "$CARGO_TARGET_DIR/debug"
  (cd end2end && BASE_URL="$CAIRN_URL" CAIRN_ADMIN_PASSWORD="$CAIRN_ADMIN_PASSWORD" CAIRN_E2E_NAMESPACE=everest \
    npx playwright test) 2>&1 | tee "$logs/playwright.log" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "--- cairn log (tail) ---" >&2; tail -n 40 "$STACK_DIR/cairn.log" >&2 || true
    echo "--- simulator log (tail) ---" >&2; tail -n 20 "$STACK_DIR/sim.log" >&2 || true
  fi
else
  rc=$site_rc
  : >"$logs/playwright.log"
fi
if [[ -n "$tests_pid" ]]; then wait "$tests_pid" || cargo_rc=$?; fi

# The failed tests' own words last, where a truncated CI log still shows them: each failed test's name and
# its panic message with the lines after it (location and message, up to the backtrace).
if grep -q '^---- .* stdout ----$' "$logs/cargo.log"; then
  echo "--- failed tests: their panics ---"
  awk '/^---- .* stdout ----$/ {print; next} /panicked at/ {n = 12} /^(failures:|test result:|---- |stack backtrace:|note: )/ {n = 0} n > 0 {print; n--}' \
    "$logs/cargo.log" | head -n 80
fi
# One closing line with the totals of both runners.
read -r cp cf < <(awk '/^test result:/ {p += $4; f += $6} END {print p+0, f+0}' "$logs/cargo.log")
pp=$(sed -n 's/^ *\([0-9][0-9]*\) passed.*/\1/p' "$logs/playwright.log" | tail -n1)
pf=$(sed -n 's/^ *\([0-9][0-9]*\) failed.*/\1/p' "$logs/playwright.log" | tail -n1)
echo "cairn: $((cp + ${pp:-0})) passed, $((cf + ${pf:-0})) failed"
[[ $site_rc -eq 0 ]] || echo "the release site did not build: Playwright did not run"
if [[ $cargo_rc -ne 0 && $rc -eq 0 ]]; then rc=$cargo_rc; fi
exit $rc

#!/usr/bin/env bash
# Installs every tool Cairn's build, sandbox and tests need. Idempotent: each step checks first.
# Sources only: apt, rustup, crates.io (cargo), npm, the Go module proxy (testenv, testgcs, helm). Nothing else is downloaded.
#
# Env:
#   CAIRN_CACHE   where caches and built tools live (default: ~/.cache/cairn); outside the clone on purpose,
#                 so a fresh clone (CI) reuses them.
#   CAIRN_SKIP_APT=1   skip apt (for machines where chromium is already installed another way)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$here/scripts/env.sh"

log() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }

# Versions that must match. cargo-leptos drives the build; wasm-bindgen-cli MUST equal the wasm-bindgen
# crate in Cargo.lock (pinned with "=" in Cargo.toml), otherwise the generated JS does not load the wasm.
CARGO_LEPTOS_VERSION=0.3.11
WASM_BINDGEN_VERSION="$(grep -A1 '^name = "wasm-bindgen"$' "$here/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')"
WASM_BINDGEN_VERSION="${WASM_BINDGEN_VERSION:-0.2.130}"

# 1. System packages: Debian's Chromium for Playwright (its own browser download cannot work here).
#    jq: scripts/test.sh reads cargo's JSON messages with it.
apt_missing=()
command -v chromium >/dev/null 2>&1 || apt_missing+=(chromium)
command -v jq >/dev/null 2>&1 || apt_missing+=(jq)
if [[ "${CAIRN_SKIP_APT:-0}" != 1 && ${#apt_missing[@]} -gt 0 ]]; then
  log "apt: ${apt_missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

# 2. Rust target for the hydrated UI.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "rustup: wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# Tools built from crates.io are installed into $CAIRN_TOOLS (outside the clone). Release profile without
# fat LTO: these are build tools, and LTO triples their cold build time on 2 cores.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
install_from_registry_src() { # name version lockfix-crate lockfix-version
  local name=$1 ver=$2 fix=$3 fixver=$4
  local src
  # Fetch the source into ~/.cargo/registry/src (this install attempt fails on rustc 1.95 with --locked;
  # see ../shared/TOOLCHAIN.md), then install from a copy with one lockfile entry pinned back.
  src=$(ls -d "$HOME"/.cargo/registry/src/*/"$name-$ver" 2>/dev/null | head -n1 || true)
  if [[ -z "$src" ]]; then
    cargo install "$name" --version "=$ver" --locked --root "$CAIRN_CACHE/tmp-install" >/dev/null 2>&1 || true
    src=$(ls -d "$HOME"/.cargo/registry/src/*/"$name-$ver" | head -n1)
  fi
  local work="$CAIRN_CACHE/src/$name-$ver"
  rm -rf "$work"; mkdir -p "$CAIRN_CACHE/src"; cp -r "$src" "$work"
  (cd "$work" && cargo update -q -p "$fix" --precise "$fixver" && \
     CARGO_TARGET_DIR="$CAIRN_CACHE/tool-target" CARGO_BUILD_BUILD_DIR="$CAIRN_CACHE/tool-target" cargo install -q --path . --locked --root "$CAIRN_TOOLS")
}

# 3. cargo-leptos: pinned, because its build pipeline (tool lookup on PATH, Tailwind v4 handling) is what
#    TOOLCHAIN.md measured. cargo-util-schemas 0.14.2+ needs rustc 1.96.
if ! "$CAIRN_TOOLS/bin/cargo-leptos" --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  log "cargo: cargo-leptos $CARGO_LEPTOS_VERSION (cold: ~8 min)"
  install_from_registry_src cargo-leptos "$CARGO_LEPTOS_VERSION" cargo-util-schemas 0.14.1
fi

# 4. wasm-bindgen-cli at exactly the Cargo.lock version. webpki-roots 1.0.11 is not in the index here.
if ! "$CAIRN_TOOLS/bin/wasm-bindgen" --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  log "cargo: wasm-bindgen-cli $WASM_BINDGEN_VERSION (cold: ~4 min)"
  install_from_registry_src wasm-bindgen-cli "$WASM_BINDGEN_VERSION" webpki-roots 1.0.10
fi

# 5. Node tools (Tailwind v4, wasm-opt from binaryen, Playwright) into the clone's node_modules, from the
#    npm cache outside the clone. Playwright never downloads a browser: it drives /usr/bin/chromium.
#    `npm install --no-save` against the committed lockfile rather than `npm ci`: with this machine's npmrc
#    (omit-lockfile-registry-resolved) `npm ci` rejects the lockfile over the optional per-platform Tailwind
#    packages it cannot see; --no-save keeps the lockfile and package.json untouched.
if [[ ! -x "$here/node_modules/.bin/tailwindcss" || "$here/package-lock.json" -nt "$here/node_modules/.stamp" ]]; then
  log "npm install (from package-lock.json)"
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-save --no-audit --no-fund --loglevel=error \
     --cache "$CAIRN_CACHE/npm" && touch node_modules/.stamp)
fi

# 6. Real object storage for the sandbox and the tests (scripts/object_store.py): moto's S3 server from PyPI
#    in a venv, Azurite (Azure Blob) from npm, both pinned and kept in $CAIRN_CACHE. Not MinIO (licence).
#    Cold: ~50 s (moto) + ~45 s (Azurite); warm: the version checks only.
MOTO_VERSION=5.2.5
AZURITE_VERSION=3.37.0
venv="$CAIRN_CACHE/object-store-venv"
if ! "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  log "pip: moto[server] $MOTO_VERSION (S3 server for tests and the sandbox)"
  rm -rf "$venv"; python3 -m venv "$venv"
  "$venv/bin/pip" install -q "moto[server]==$MOTO_VERSION"
fi
# 6b. The REST fuzzer (tests/integration/fuzz_api.rs, scripts/fuzz-api.sh): schemathesis from PyPI in its own venv, pinned.
#     Cold: ~40 s; warm: the version check only.
SCHEMATHESIS_VERSION=4.32.5
fuzz_venv="$CAIRN_CACHE/fuzz-api-venv"
if [[ "$("$fuzz_venv/bin/st" --version 2>/dev/null)" != *" $SCHEMATHESIS_VERSION" ]]; then
  log "pip: schemathesis $SCHEMATHESIS_VERSION (the REST API fuzzer)"
  rm -rf "$fuzz_venv"; python3 -m venv "$fuzz_venv"
  "$fuzz_venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi
azurite_dir="$CAIRN_CACHE/azurite"
if [[ "$(cat "$azurite_dir/.version" 2>/dev/null)" != "$AZURITE_VERSION" ]]; then
  log "npm: azurite $AZURITE_VERSION (Azure Blob server for tests and the sandbox)"
  rm -rf "$azurite_dir"; mkdir -p "$azurite_dir"
  (cd "$azurite_dir" && echo '{"private": true}' > package.json && \
     npm install --no-audit --no-fund --loglevel=error --cache "$CAIRN_CACHE/npm" "azurite@$AZURITE_VERSION" >/dev/null && \
     echo "$AZURITE_VERSION" > .version)
fi

# 7. helm, built from its Go module (the Go module proxy; no release tarball is downloaded). `cairn install`
#    and the chart tests drive this real Helm. Cold build: ~6 min on 2 cores (modules already cached: ~4 min).
HELM_VERSION=v3.21.4
if ! go version -m "$CAIRN_TOOLS/bin/helm" 2>/dev/null | grep -Eq "^\s+mod\s+helm.sh/helm/v3\s+$HELM_VERSION\b"; then
  log "go: helm $HELM_VERSION (cold: ~6 min)"
  GOBIN="$CAIRN_TOOLS/bin" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi

# 8. The local control plane (kube-apiserver + etcd), built from Go modules.
"$here/testenv/build.sh" >/dev/null
# 9. A GCS-compatible server for the tests (testgcs/: fake-gcs-server from Go modules, cold ~2 min).
"$here/testgcs/build.sh" >/dev/null
log "tools ready"

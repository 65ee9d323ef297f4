# Sourced by the scripts: where caches live and what goes on PATH. Caches are outside the clone so a fresh
# clone (CI) reuses them.
export CAIRN_CACHE="${CAIRN_CACHE:-$HOME/.cache/cairn}"
export CAIRN_TOOLS="$CAIRN_CACHE/tools"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CAIRN_CACHE/target}"
export GOCACHE="${GOCACHE:-$HOME/.cache/go-build}"
export GOMODCACHE="${GOMODCACHE:-$HOME/go/pkg/mod}"
export GOFLAGS="${GOFLAGS:--mod=mod}"
# cargo-leptos looks for tailwindcss, wasm-opt and wasm-bindgen on PATH and downloads them from the web
# when missing, which cannot work here: our copies come first.
_cairn_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$CAIRN_TOOLS/bin:$_cairn_root/node_modules/.bin:$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
# CI builds each clone once: incremental state would only fill the disk.
if [[ "${CI:-}" == true ]]; then export CARGO_INCREMENTAL=0; fi
mkdir -p "$CAIRN_CACHE"

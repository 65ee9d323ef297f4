#!/usr/bin/env bash
# Build cairn-testgcs (a GCS-compatible server for the tests and the sandbox, from the Go module
# github.com/fsouza/fake-gcs-server through the Go module proxy) into
# ${CAIRN_CACHE:-$HOME/.cache/cairn}/bin/cairn-testgcs-<source hash> if missing. Prints the binary path as the
# last stdout line. Cold build: ~2 min on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${CAIRN_CACHE:-$HOME/.cache/cairn}/bin"
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null 2>&1 || { echo "build.sh: go not found" >&2; exit 1; }
hash="$(cd "$here" && { go version; cat go.mod go.sum $(ls *.go | LC_ALL=C sort); } | sha256sum | cut -d' ' -f1)"
# One binary per source version (worktrees share the cache), and a stable name the tests find it by.
bin="$out_dir/cairn-testgcs-${hash:0:12}"
if [[ ! -x "$bin" ]]; then
  mkdir -p "$out_dir"
  echo "build.sh: building cairn-testgcs..." >&2
  tmp="$bin.tmp.$$"
  trap 'rm -f "$tmp"' EXIT
  (cd "$here" && GOFLAGS=-mod=mod go build -trimpath -ldflags="-s -w" -o "$tmp" .) >&2
  mv -f "$tmp" "$bin"
fi
echo "$bin"

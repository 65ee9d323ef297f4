#!/usr/bin/env bash
# Build cairn-testenv into ${CAIRN_CACHE:-$HOME/.cache/cairn}/bin/cairn-testenv-<source hash> if
# missing. Prints the binary path as the last stdout line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${CAIRN_CACHE:-$HOME/.cache/cairn}/bin"
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null 2>&1 || { echo "build.sh: go not found" >&2; exit 1; }

# The API server reports the kubernetes version it was built from (what `helm` checks a chart's kubeVersion
# against); a plain `go build` would leave it at v0.0.0-master.
kver="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$here/go.mod")"
kminor="$(echo "$kver" | cut -d. -f2)"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$kver -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$kminor"
hash="$(cd "$here" && { go version; echo "$ldflags"; cat go.mod go.sum $(ls *.go | LC_ALL=C sort); } | sha256sum | cut -d' ' -f1)"
# One binary per source version: clones on different versions (several worktrees share the cache) never
# replace each other's binary between a build and a run.
bin="$out_dir/cairn-testenv-${hash:0:12}"
stamp="$bin.srchash"
if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
  echo "build.sh: $bin is up to date" >&2
  echo "$bin"
  exit 0
fi
mkdir -p "$out_dir"
echo "build.sh: building cairn-testenv (cold builds take several minutes)..." >&2
start=$(date +%s)
tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(cd "$here" && GOFLAGS=-mod=mod go build -trimpath -ldflags="$ldflags" -o "$tmp" .) >&2
mv -f "$tmp" "$bin"
echo "$hash" > "$stamp"
echo "build.sh: built $bin in $(( $(date +%s) - start ))s" >&2
echo "$bin"

#!/usr/bin/env bash
# Measures what Cairn ships: the release server binary and the bytes the first page loads (wasm + JS + CSS),
# raw and gzip -9 (what a compressing proxy would send). Prints one JSON object; run after
# `cargo leptos build --release` (scripts/env.sh sets the target dir).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/env.sh"
bin="$CARGO_TARGET_DIR/release/cairn"
pkg="$root/target/site/pkg"
[[ -x "$bin" && -f "$pkg/cairn.wasm" ]] || { echo "build first: cargo leptos build --release" >&2; exit 1; }
size() { stat -c %s "$1"; }
gz() { gzip -9 -c "$1" | wc -c; }
wasm=$(size "$pkg/cairn.wasm"); js=$(size "$pkg/cairn.js"); css=$(size "$pkg/cairn.css")
gwasm=$(gz "$pkg/cairn.wasm"); gjs=$(gz "$pkg/cairn.js"); gcss=$(gz "$pkg/cairn.css")
cat <<JSON
{"commit":"$(git -C "$root" rev-parse --short HEAD)","date":"$(date -u +%FT%TZ)",
 "server_binary_bytes":$(size "$bin"),
 "first_page":{"wasm_bytes":$wasm,"js_bytes":$js,"css_bytes":$css,
   "wasm_gzip_bytes":$gwasm,"js_gzip_bytes":$gjs,"css_gzip_bytes":$gcss,
   "total_gzip_bytes":$((gwasm + gjs + gcss))}}
JSON

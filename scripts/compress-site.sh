#!/usr/bin/env bash
# Pre-compresses the site's assets (wasm, JS, CSS): brotli at its best quality (11) and gzip -9, next to each
# file (`x.wasm.br`, `x.wasm.gz`). `cairn serve` sends these to browsers that accept them instead of
# compressing on the fly at a fast, weaker level. Run after `cargo leptos build --release --split`; idempotent.
#   scripts/compress-site.sh [SITE_DIR]   (default: target/site)
# CAIRN_SITE_BROTLI_QUALITY (11): the brotli level; the e2e build of scripts/test.sh uses a fast one.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
site="${1:-$root/target/site}"
shopt -s nullglob
for f in "$site"/pkg/*.wasm "$site"/pkg/*.js "$site"/pkg/*.css; do
  if [[ ! -f "$f.br" || "$f" -nt "$f.br" ]]; then
    node -e 'const z = require("zlib"), fs = require("fs");
      fs.writeFileSync(process.argv[1] + ".br", z.brotliCompressSync(fs.readFileSync(process.argv[1]),
        { params: { [z.constants.BROTLI_PARAM_QUALITY]: Number(process.env.CAIRN_SITE_BROTLI_QUALITY || 11), [z.constants.BROTLI_PARAM_SIZE_HINT]: fs.statSync(process.argv[1]).size } }));' "$f"
  fi
  if [[ ! -f "$f.gz" || "$f" -nt "$f.gz" ]]; then gzip -9 -n -c "$f" > "$f.gz"; fi
done

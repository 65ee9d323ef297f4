#!/usr/bin/env bash
# What a browser downloads on the first load of the login page and of the databases page, from a release
# build served by `cairn serve` (the local stack): every response of the page (the HTML, then each `/pkg/`
# asset and the favicon it references), with `Accept-Encoding: br, gzip` as Chromium sends it, counted in
# bytes on the wire (compressed). The assets are pre-compressed first (scripts/compress-site.sh: brotli 11,
# gzip -9), as the Dockerfile and test.sh do, so the bytes are those users get. Also the release server
# binary's size. Writes bench/results/size.json and prints it.
#
#   source scripts/env.sh && cargo leptos build --release --split && cargo build --features sim --bin cairn-sim && bench/size.sh
#
# Env: BENCH_PORT (3191), BENCH_SIM_BIN_DIR (the debug build dir: where cairn-sim is), BENCH_BIN_DIR (where
# the server binary and the hash.txt of target/site are; default the release build dir).
# Targets (issue 12): login page < 225 KB, databases page < 300 KB.
set -euo pipefail
CAIRN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAIRN_ROOT
unset KUBECONFIG
source "$CAIRN_ROOT/scripts/env.sh"
source "$CAIRN_ROOT/scripts/stack.sh"

bin="${BENCH_BIN_DIR:-$CARGO_TARGET_DIR/release}"
site="$CAIRN_ROOT/target/site"
sim_bin=${BENCH_SIM_BIN_DIR:-$CARGO_TARGET_DIR/debug}
[[ -x "$bin/cairn" && -f "$bin/hash.txt" && -d "$site/pkg" ]] || { echo "build first: cargo leptos build --release --split" >&2; exit 1; }
[[ -x "$sim_bin/cairn-sim" ]] || { echo "build first: cargo build --features sim --bin cairn-sim" >&2; exit 1; }
bash "$CAIRN_ROOT/scripts/compress-site.sh" "$site"
# The split must not have kept the lazy chunks' data in the main wasm (see scripts/check-split.py).
python3 "$CAIRN_ROOT/scripts/check-split.py" "$site/pkg"
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-size.XXXXXX")
trap 'stop_stack; rm -rf "$work"' EXIT
start_stack "${BENCH_PORT:-3191}" "$bin" "$site" "$sim_bin" >&2

# The session cookie, as the login form sets it.
curl -fsS -o /dev/null -c "$work/cookies" -H 'content-type: application/json' -H "Origin: $CAIRN_URL" \
  -d "$(python3 -c 'import json,sys; print(json.dumps({"username": "admin", "password": sys.argv[1]}))' "$CAIRN_ADMIN_PASSWORD")" \
  "$CAIRN_URL/v1/session"

# measure NAME PATH [cookie-jar]: the page and every asset it references, one JSON object.
measure() {
  local name=$1 path=$2 jar=${3:-}
  local args=(-sS -H 'Accept-Encoding: br, gzip' -H 'Accept: text/html')
  [[ -n "$jar" ]] && args+=(-b "$jar")
  curl "${args[@]}" -o "$work/page" -D "$work/headers" -w '%{size_download}' "$CAIRN_URL$path" > "$work/page.size"
  CAIRN_SITE="$site" python3 - "$name" "$path" "$CAIRN_URL" "$work" "${args[@]}" <<'PY'
import json, re, subprocess, sys, zlib
name, path, base, work, *curl_args = sys.argv[1:]
def fetch(url, out):
    size = subprocess.run(["curl", *curl_args, "-o", out, "-D", out + ".h", "-w", "%{size_download}", url],
                          check=True, capture_output=True, text=True).stdout
    headers = open(out + ".h").read().lower()
    enc = re.search(r"^content-encoding:\s*(\S+)", headers, re.M)
    status = re.search(r"^http/\S+ (\d+)", headers, re.M)
    return int(size), enc.group(1) if enc else "identity", int(status.group(1)) if status else 0
responses = []
size, enc, status = fetch(base + path, work + "/doc")
responses.append({"url": path, "status": status, "encoding": enc, "bytes": size})
raw = open(work + "/doc", "rb").read()
if enc == "gzip":
    raw = zlib.decompress(raw, 16 + zlib.MAX_WBITS)
html = raw.decode("utf-8", "replace") if enc in ("gzip", "identity") else subprocess.run(
    ["node", "-e", "process.stdout.write(require('zlib').brotliDecompressSync(require('fs').readFileSync(process.argv[1])))", work + "/doc"],
    check=True, capture_output=True).stdout.decode("utf-8", "replace")
assets = sorted(set(re.findall(r"""(/pkg/[^"'\s)<>]+)""", html)) | {"/favicon.ico"})
# Every page is a lazy route: hydration fetches the route's chunks (the split manifest's entry for it) and
# the chunk loader, whether or not the HTML preloads them (the server names them in <head> only when the
# route registered before the head went out, which varies between requests).
import glob, os
pkg = os.path.join(os.environ["CAIRN_SITE"], "pkg")
manifest = json.load(open(glob.glob(os.path.join(pkg, "__wasm_split_manifest.*.json"))[0]))
route = [k for k in manifest if k.startswith(f"__{name}_route_view_")]
if len(route) != 1:
    sys.exit(f"size.sh: no single lazy route for {name} in the split manifest: {sorted(manifest)}")
assets = sorted(set(assets) | {f"/pkg/{c}.wasm" for c in manifest[route[0]]}
                | {"/pkg/" + os.path.basename(f) for f in glob.glob(os.path.join(pkg, "__wasm_split.*.js"))})
for i, a in enumerate(assets):
    s, e, st = fetch(base + a, f"{work}/asset{i}")
    responses.append({"url": a, "status": st, "encoding": e, "bytes": s})
print(json.dumps({"page": name, "path": path, "total_bytes": sum(r["bytes"] for r in responses), "responses": responses}))
PY
}

login=$(measure login /login)
databases=$(measure databases /databases "$work/cookies")
result=$(python3 - "$login" "$databases" "$(git -C "$CAIRN_ROOT" rev-parse --short HEAD)" "$(stat -c %s "$bin/cairn")" <<'PY'
import json, sys, datetime
login, dbs, commit, binary = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])
out = {
    "commit": commit,
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "build": "cargo leptos build --release --split",
    "accept_encoding": "br, gzip",
    "server_binary_bytes": binary,
    "first_load": {"login": login, "databases": dbs},
    "targets_bytes": {"login": 225 * 1024, "databases": 300 * 1024},
}
print(json.dumps(out, indent=1))
PY
)
echo "$result" > "$CAIRN_ROOT/bench/results/size.json"
echo "$result"

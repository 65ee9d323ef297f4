#!/usr/bin/env bash
# Smoke test: start cairn-testenv with the Percona CRDs, check the API, apply an
# example CR (accepted) and an invalid one (422), then verify that killing the
# parent takes testenv down and removes its state dir.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
crds=/work/shared/upstream-crds
bin="$("$here/build.sh")"
out="$(mktemp)"; err="$(mktemp)"
# Parent = this subshell; its stdin pipe (from sleep) keeps testenv alive.
( sleep 100000 | "$bin" --crds "$crds/pg-operator-2.7.0-crd.yaml" --crds "$crds/pxc-operator-1.18.0-crd.yaml" \
    --crds "$crds/psmdb-operator-1.21.1-crd.yaml" >"$out" 2>"$err" ) &
wrapper=$!
t0=$(date +%s.%N)
for _ in $(seq 600); do [[ -s "$out" ]] && break; kill -0 $wrapper 2>/dev/null || break; sleep 0.1; done
echo "ready in $(echo "$(date +%s.%N) - $t0" | bc)s: $(cat "$out")"
[[ -s "$out" ]] || { cat "$err"; exit 1; }
read -r server dir < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["server"], d["dir"])' "$out")
token="$(cut -d, -f1 "$dir/pki/tokens.csv")"
c=(curl -sS --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $token")
fail() { echo "FAIL: $*"; exit 1; }
[[ "$("${c[@]}" "$server/readyz")" == ok ]] && echo "PASS readyz" || fail readyz
"${c[@]}" "$server/apis/pgv2.percona.com/v2" | grep -q '"name": "perconapgclusters"' && echo "PASS discovery" || fail discovery
name="$(python3 -c 'import yaml,sys; print(yaml.safe_load(open(sys.argv[1]))["metadata"]["name"])' "$crds/pg-operator-2.7.0-example-cr.yaml")"
url="$server/apis/pgv2.percona.com/v2/namespaces/default/perconapgclusters/$name?fieldManager=test"
code=$("${c[@]}" -o /tmp/smoke-good.json -w '%{http_code}' -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
  --data-binary @"$crds/pg-operator-2.7.0-example-cr.yaml" "$url")
[[ $code == 201 || $code == 200 ]] && echo "PASS example CR applied ($code)" || { cat /tmp/smoke-good.json; fail "example CR $code"; }
python3 -c 'import yaml,sys; d=yaml.safe_load(open(sys.argv[1])); del d["spec"]["instances"]; d["metadata"]["name"]="bad"; print(yaml.safe_dump(d))' \
  "$crds/pg-operator-2.7.0-example-cr.yaml" > /tmp/smoke-bad.yaml
code=$("${c[@]}" -o /tmp/smoke-bad.json -w '%{http_code}' -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
  --data-binary @/tmp/smoke-bad.yaml "${url/\/$name\?//bad?}")
[[ $code == 422 ]] && echo "PASS invalid CR rejected (422: $(python3 -c 'import json;print(json.load(open("/tmp/smoke-bad.json"))["message"][:150])'))" || { cat /tmp/smoke-bad.json; fail "invalid CR $code"; }
pid=$(pgrep -P $wrapper -f cairn-testenv); sleeper=$(pgrep -P $wrapper -x sleep)
kill -KILL $wrapper   # the parent dies hard; sleep keeps running but testenv's parent is gone
t0=$(date +%s.%N)
for _ in $(seq 300); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && fail "testenv $pid still running" || echo "PASS testenv exited $(echo "$(date +%s.%N) - $t0" | bc)s after parent SIGKILL"
[[ -e "$dir" ]] && fail "$dir still exists" || echo "PASS $dir removed"
cat "$err"
kill $sleeper 2>/dev/null || true
rm -f "$out" "$err" /tmp/smoke-*.json /tmp/smoke-bad.yaml

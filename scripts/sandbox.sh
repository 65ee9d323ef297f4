#!/usr/bin/env bash
# The main job: run Cairn with everything it needs, print the URL and the admin credentials, stop on Ctrl-C.
#  - KUBECONFIG unset: a local sandbox (kube-apiserver + etcd on 127.0.0.1, the CRDs, the engine simulator).
#  - KUBECONFIG set:   Cairn serves that cluster (no simulator; the Percona operators do the work there).
# Env: CAIRN_PORT (default 8080), CAIRN_RELEASE=1 (optimised build), CAIRN_SANDBOX_NAMESPACE (default everest).
set -euo pipefail
CAIRN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CAIRN_ROOT
user_kubeconfig="${KUBECONFIG:-}"
source "$CAIRN_ROOT/scripts/env.sh"
source "$CAIRN_ROOT/scripts/stack.sh"
cd "$CAIRN_ROOT"
bash scripts/bootstrap.sh

port="${CAIRN_PORT:-8080}"
# --split: every page is a lazy route (src/app/routes.rs); without it the wasm imports a chunk loader that
# does not exist and the pages never hydrate.
profile=debug; flags=()
if [[ "${CAIRN_RELEASE:-0}" == 1 ]]; then profile=release; flags=(--release); fi
echo "[sandbox] building cairn ($profile)…" >&2
cargo leptos build "${flags[@]}" --split >&2
if [[ $profile == release ]]; then bash scripts/compress-site.sh; fi
cargo build "${flags[@]}" --features sim --bin cairn-sim >&2
bin="$CARGO_TARGET_DIR/$profile"
site="$CAIRN_ROOT/target/site"

trap 'stop_stack; exit 0' INT TERM
trap 'stop_stack' EXIT

if [[ -n "$user_kubeconfig" ]]; then
  export KUBECONFIG="$user_kubeconfig"
  echo "[sandbox] serving the cluster in KUBECONFIG=$KUBECONFIG" >&2
  CAIRN_LISTEN="127.0.0.1:$port" LEPTOS_SITE_ROOT="$site" "$bin/cairn" serve &
  stack_pids+=($!)
  wait_http "http://127.0.0.1:$port/readyz" 120
  pw=$("$bin/cairn" accounts initial-admin-password 2>/dev/null || echo "(changed; use your own)")
  url="http://127.0.0.1:$port"
else
  start_stack "$port" "$bin" "$site"
  pw="$CAIRN_ADMIN_PASSWORD"; url="$CAIRN_URL"
  echo "[sandbox] control plane: KUBECONFIG=$KUBECONFIG (logs in $STACK_DIR)" >&2
  cat >&2 <<OBJ
[sandbox] object storage for backup storage locations (path-style S3; plain HTTP, so verifyTLS may stay on):
            S3:    url $CAIRN_S3_ENDPOINT  bucket $CAIRN_S3_BUCKET  region us-east-1
                   access key $CAIRN_S3_ACCESS_KEY  secret key $CAIRN_S3_SECRET_KEY
            Azure: url $CAIRN_AZURE_ENDPOINT  container cairn-backups
                   account $CAIRN_AZURE_ACCOUNT  key $CAIRN_AZURE_KEY
            GCS:   url $CAIRN_GCS_ENDPOINT  bucket $CAIRN_GCS_BUCKET
                   secret key: paste the JSON key file $CAIRN_GCS_KEY_FILE (access key empty)
OBJ
  echo "[sandbox] PMM stand-in: $CAIRN_PMM_URL (user admin, password admin) for Settings → Monitoring endpoints" >&2
fi
cat <<MSG

  Cairn is running.
    URL:       $url
    Username:  admin
    Password:  $pw

  Press Ctrl-C to stop.
MSG
wait "${stack_pids[@]}"

#!/usr/bin/env bash
# Property-based fuzzing of REST /v1 with schemathesis against a live Cairn (real API server, reconcilers and
# the engine simulator): tests/integration/fuzz_api.rs. Fails on any 5xx and on any answer the OpenAPI document does not
# describe. Env: CAIRN_API_FUZZ_EXAMPLES (cases per operation, default 12), CAIRN_API_FUZZ_SEED (replay).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$here/scripts/env.sh"
cd "$here"
[[ -x "$CAIRN_CACHE/fuzz-api-venv/bin/st" ]] || bash scripts/bootstrap.sh
exec cargo test --features sim --test integration fuzz_api:: -- --nocapture "$@"

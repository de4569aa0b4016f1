#!/usr/bin/env bash
# schemathesis (PyPI) over Varco's OpenAPI document, with all its checks:
# no server error, no answer the document does not list, answers matching
# their schemas. Runs against `varco demo` data on a free loopback port.
#
#   e2e/schemathesis.sh [PATH/TO/varco]     (default: $CARGO_TARGET_DIR/debug/varco)
#
# schemathesis lives in its own virtualenv (SCHEMATHESIS_VENV, default
# ~/.cache/varco-schemathesis), created on first use. Bounded: 30 examples
# per operation and SCHEMATHESIS_MAX_TIME seconds (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

varco="${1:-${CARGO_TARGET_DIR:-target}/debug/varco}"
[ -x "$varco" ] || { echo "no varco binary at $varco (cargo build first)" >&2; exit 2; }
venv="${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/varco-schemathesis}"
version="4.32.5"

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

work="$(mktemp -d)"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
export VARCO_DATA_DIR="$work/data" VARCO_LISTEN="127.0.0.1:$port" VARCO_PUBLIC_URL="$base"
export VARCO_LOG_LEVEL=warn
# The per-address limits would answer 429 (documented) to most of the run.
export VARCO_RATE_LIMITS__LOGIN_PER_MINUTE=0 VARCO_RATE_LIMITS__API_PER_MINUTE=0 VARCO_RATE_LIMITS__RECOVERY_PER_MINUTE=0
unset VARCO_CONFIG VARCO_DATABASE_URL

"$varco" demo >"$work/demo.txt" 2>&1
"$varco" serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    python3 -c "import urllib.request as u; u.urlopen('$base/healthz', timeout=1)" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.1
done

# A signed-in session for the operations that need one (see schemathesis.toml):
# the first demo account signs in through the API.
VARCO_ST_SESSION="$(python3 - "$base" "$work/demo.txt" <<'PY'
import json, re, sys, urllib.request
base, demo = sys.argv[1], open(sys.argv[2]).read()
m = re.search(r"username (\S+)\s+(?:email \S+\s+)?password (\S+)", demo)
request = urllib.request.Request(
    base + "/api/v1/login",
    data=json.dumps({"login": m.group(1), "password": m.group(2)}).encode(),
    headers={"Content-Type": "application/json", "Origin": base},
)
with urllib.request.urlopen(request) as response:
    cookie = response.headers["Set-Cookie"]
print(re.match(r"varco_session=([^;]+)", cookie).group(1))
PY
)"
export VARCO_ST_SESSION

# State-changing JSON calls must come from the public origin (or none).
config="$PWD/e2e/schemathesis.toml"
# From the scratch directory: schemathesis keeps a cache in its working directory.
cd "$work"
"$venv/bin/schemathesis" --config-file "$config" run "$base/api/openapi.json" \
    --checks all \
    --header "Origin: $base" \
    --max-examples 30 \
    --max-time "${SCHEMATHESIS_MAX_TIME:-60}" \
    --request-timeout 10 \
    --seed "${SCHEMATHESIS_SEED:-7}" \
    --generation-database none \
    --no-color \
    --report junit --report-dir "$work/report" \
    || { echo "--- server log" >&2; tail -n 50 "$work/serve.log" >&2; exit 1; }

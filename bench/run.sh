#!/usr/bin/env bash
# Varco benchmarks against the real release binary. See bench/README.md.
#
#   bash bench/run.sh              # SQLite (a fresh data directory)
#   bash bench/run.sh --postgres   # fresh PostgreSQL databases on 127.0.0.1:5432
#
# Every server this script starts listens on 127.0.0.1 only and is stopped by
# the benchmark that started it, also on failure. Every load loop is bounded
# in count and time. The report goes to stdout and bench/results/latest.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bash bench/run.sh [--postgres] [--quick] [--keep] [--only NAMES]

  --postgres   run against fresh PostgreSQL databases (psql -h 127.0.0.1 -U postgres),
               dropped at the end; default: SQLite in a fresh temporary directory
  --quick      smaller runs (a smoke test of the script, not a measurement)
  --keep       keep the temporary directory (server logs, CSV) for inspection
  --only NAMES run only these benchmarks, comma-separated: login, flood, import, oidc
               (the accounts are seeded whenever login, flood or oidc runs)
EOF
}

BACKEND=sqlite
KEEP=0
# Sizes of a full run (about 7 minutes on 2 cores).
ACCOUNTS=64
ARGON_SECONDS=2
ARGON_ROUNDS=3
LOGIN_LEVELS=1,4,16,64
LOGIN_MIN=60
LOGIN_PER_CLIENT=15
LOGIN_REPEATS=3
FLOOD_CLIENTS=500
FLOOD_SECONDS=20
ROSTER_ROWS=100000
IMPORT_TIMEOUT=120
OIDC_LEVELS=1,4,16,64
OIDC_ROUNDS=3
OIDC_SECONDS=5
OIDC_EXCHANGES=50
ONLY=login,flood,import,oidc

while [[ $# -gt 0 ]]; do
    case "$1" in
        --postgres) BACKEND=postgres ;;
        --quick)
            ACCOUNTS=8 ARGON_SECONDS=0.5 ARGON_ROUNDS=1 LOGIN_MIN=10 LOGIN_PER_CLIENT=2 LOGIN_REPEATS=1
            FLOOD_CLIENTS=50 FLOOD_SECONDS=3 ROSTER_ROWS=2000 IMPORT_TIMEOUT=60
            OIDC_LEVELS=1,4 OIDC_ROUNDS=1 OIDC_SECONDS=1 OIDC_EXCHANGES=5
            ;;
        --only)
            [[ $# -ge 2 ]] || { echo "--only needs a list of benchmarks" >&2; usage >&2; exit 2; }
            ONLY=$2
            shift
            for name in ${ONLY//,/ }; do
                case "$name" in
                    login | flood | import | oidc) ;;
                    *) echo "unknown benchmark: $name" >&2; usage >&2; exit 2 ;;
                esac
            done
            ;;
        --keep) KEEP=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RESULTS="$ROOT/bench/results"

log() { printf '\n==> %s\n' "$*" >&2; }

# 500 concurrent connections on each side need more than the usual 1024 descriptors.
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
if (($(ulimit -n) < 2 * FLOOD_CLIENTS + 100)); then
    echo "warning: ulimit -n is $(ulimit -n); the flood may run out of file descriptors" >&2
fi

log "building release binaries"
cargo build --release -p varco -p varco-bench
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
# VARCO_BENCH_VARCO: another varco binary to measure (an A/B run of two builds).
VARCO="${VARCO_BENCH_VARCO:-$TARGET/release/varco}"
BENCH="$TARGET/release/varco-bench"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/varco-bench.XXXXXX")
JSON="$WORK/json"
mkdir -p "$JSON"
PG_DATABASES=()
PSQL=(psql -h 127.0.0.1 -U postgres -X -q -v ON_ERROR_STOP=1 -d postgres)

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for db in "${PG_DATABASES[@]}"; do
        "${PSQL[@]}" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
            echo "warning: could not drop database $db" >&2
    done
    if ((KEEP)); then
        echo "kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The server and CLI configuration, from the environment only.
unset VARCO_CONFIG VARCO_DATABASE_URL VARCO_PASSWORD__HASH_CONCURRENCY
export VARCO_LOG=warn
export VARCO_RATE_LIMITS__LOGIN_PER_MINUTE=0
export VARCO_RATE_LIMITS__API_PER_MINUTE=0

if [[ $BACKEND == postgres ]]; then
    if ! "${PSQL[@]}" -c 'SELECT 1' >/dev/null; then
        echo "error: PostgreSQL does not answer on 127.0.0.1:5432 as user postgres." >&2
        echo "Start it with: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
        exit 1
    fi
fi

# use_database NAME: points VARCO_* at a fresh data directory (and, with
# --postgres, a fresh database) called NAME.
use_database() {
    local name=$1
    export VARCO_DATA_DIR="$WORK/$name-data"
    mkdir -p "$VARCO_DATA_DIR"
    if [[ $BACKEND == postgres ]]; then
        local db="varco_bench_$$_$name"
        "${PSQL[@]}" -c "CREATE DATABASE \"$db\""
        PG_DATABASES+=("$db")
        export VARCO_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
    else
        unset VARCO_DATABASE_URL
    fi
}

SERVER_PID=""
SERVER_URL=""

# start_server LABEL: starts `varco serve` on a free port and waits for /healthz.
start_server() {
    local label=$1 port
    port=$("$BENCH" free-port)
    export VARCO_LISTEN="127.0.0.1:$port"
    export VARCO_PUBLIC_URL="http://127.0.0.1:$port"
    SERVER_URL="$VARCO_PUBLIC_URL"
    "$VARCO" serve >"$WORK/$label-server.log" 2>&1 &
    SERVER_PID=$!
    if ! "$BENCH" wait --url "$SERVER_URL" --pid "$SERVER_PID" --timeout-secs 30; then
        tail -n 20 "$WORK/$label-server.log" >&2
        return 1
    fi
    echo "server $label: pid $SERVER_PID at $SERVER_URL" >&2
}

# stop_server: SIGTERM (graceful), then SIGKILL after 10 s.
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            kill -TERM "$SERVER_PID" 2>/dev/null || true
            for _ in $(seq 100); do
                kill -0 "$SERVER_PID" 2>/dev/null || break
                sleep 0.1
            done
            if kill -0 "$SERVER_PID" 2>/dev/null; then
                echo "warning: server $SERVER_PID ignored SIGTERM; killing it" >&2
                kill -KILL "$SERVER_PID" 2>/dev/null || true
            fi
        fi
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}

FAILED=()

# run_bench NAME FUNCTION: runs FUNCTION in a subshell with errexit on and a
# trap that stops any server it started; records NAME if it fails.
run_bench() {
    local name=$1 fn=$2 rc
    log "benchmark: $name"
    set +e
    (
        set -e
        trap stop_server EXIT
        trap 'exit 130' INT TERM
        "$fn"
    )
    rc=$?
    set -e
    if ((rc == 130)); then exit 130; fi
    if ((rc != 0)); then
        echo "benchmark $name FAILED (exit $rc); server logs in $WORK (use --keep to keep them)" >&2
        FAILED+=("$name")
    fi
}

seed_accounts() {
    "$BENCH" seed --varco "$VARCO" --school BNCH000001 --count "$ACCOUNTS" --out "$WORK/accounts.json"
}

bench_login() {
    [[ -s $WORK/accounts.json ]] || { echo "no seeded accounts" >&2; return 1; }
    # Raw Argon2id first, with nothing else running.
    "$BENCH" argon2 --seconds "$ARGON_SECONDS" --rounds "$ARGON_ROUNDS" --out "$JSON/argon2.json"
    start_server login
    "$BENCH" login --url "$SERVER_URL" --pid "$SERVER_PID" --accounts "$WORK/accounts.json" \
        --concurrency "$LOGIN_LEVELS" --min-requests "$LOGIN_MIN" --per-client "$LOGIN_PER_CLIENT" \
        --repeats "$LOGIN_REPEATS" --out "$JSON/login.json"
    stop_server
}

bench_flood() {
    [[ -s $WORK/accounts.json ]] || { echo "no seeded accounts" >&2; return 1; }
    start_server flood
    "$BENCH" flood --url "$SERVER_URL" --pid "$SERVER_PID" --accounts "$WORK/accounts.json" \
        --clients "$FLOOD_CLIENTS" --seconds "$FLOOD_SECONDS" --out "$JSON/flood.json"
    stop_server
}

bench_oidc() {
    [[ -s $WORK/accounts.json ]] || { echo "no seeded accounts" >&2; return 1; }
    # Registered before the server starts, through the real CLI.
    "$BENCH" oidc-client --varco "$VARCO" --out "$WORK/oidc-client.json"
    start_server oidc
    "$BENCH" oidc --url "$SERVER_URL" --pid "$SERVER_PID" --accounts "$WORK/accounts.json" \
        --client "$WORK/oidc-client.json" --concurrency "$OIDC_LEVELS" --rounds "$OIDC_ROUNDS" \
        --seconds "$OIDC_SECONDS" --exchanges "$OIDC_EXCHANGES" --out "$JSON/oidc.json"
    stop_server
}

bench_import() {
    "$BENCH" import --varco "$VARCO" --school BNCH000002 --file "$WORK/roster.csv" \
        --rows "$ROSTER_ROWS" --timeout-secs "$IMPORT_TIMEOUT" --out "$JSON/import.json"
}

# The figures are CPU-bound: say so when something else is using the cores.
cpu_busy() { awk '/^cpu /{ print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6 }' /proc/stat; }
read -r T0 I0 < <(cpu_busy)
sleep 2
read -r T1 I1 < <(cpu_busy)
BUSY=$(( (T1 - T0 - (I1 - I0)) * 100 / (T1 - T0 > 0 ? T1 - T0 : 1) ))
if ((BUSY > 5)); then
    echo "warning: other processes keep the CPUs ${BUSY}% busy; the figures will be too low (see 'other load')" >&2
fi
wanted() { [[ ",$ONLY," == *",$1,"* ]]; }
START=$SECONDS
use_database main
if wanted login || wanted flood || wanted oidc; then run_bench seed seed_accounts; fi
if wanted login; then run_bench login bench_login; fi
if wanted flood; then run_bench flood bench_flood; fi
if wanted oidc; then run_bench oidc bench_oidc; fi
if wanted import; then
    use_database import
    run_bench import bench_import
fi
TOTAL=$((SECONDS - START))

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null) ]]; then COMMIT="$COMMIT+dirty"; fi
rm -rf "$RESULTS/json-$BACKEND"
mkdir -p "$RESULTS/json-$BACKEND"
cp "$JSON"/*.json "$RESULTS/json-$BACKEND/" 2>/dev/null || true

log "results"
"$BENCH" report --dir "$JSON" --backend "$BACKEND" --commit "$COMMIT" \
    --date "$(date -u +%Y-%m-%dT%H:%MZ)" --total-seconds "$TOTAL" --out "$RESULTS/latest.md"
cp "$RESULTS/latest.md" "$RESULTS/latest-$BACKEND.md"
echo >&2
echo "written to bench/results/latest.md (and latest-$BACKEND.md)" >&2

if ((${#FAILED[@]})); then
    echo "failed benchmarks: ${FAILED[*]}" >&2
    exit 1
fi

#!/usr/bin/env bash
# Failed-login timing against the real release binary (security review
# finding 7): a wrong password for each kind of stored hash, for an email
# shared by three accounts, and for unknown logins.
#
#   bash bench/run-timing.sh [--samples N]
#
# The server listens on 127.0.0.1 only and is stopped by the benchmark; the
# run is bounded (samples × 8 sequential logins). Report: stdout and
# bench/results/timing.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
cargo build --release -p varco -p varco-bench >&2
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
mkdir -p bench/results
{
    echo "# Varco failed-login timing"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%MZ) · commit: \`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\` · backend: sqlite · $(nproc) cores"
    echo
    "$TARGET/release/varco-bench" login-timing --varco "$TARGET/release/varco" "$@"
} | tee bench/results/timing.md

#!/usr/bin/env bash
# Mail and recovery benchmarks against the real release binary:
# outbox delivery rate to a local SMTP sink and to .eml files, and the
# forgot-password answer time for an existing versus an unknown login.
#
#   bash bench/run-mail.sh
#
# Servers listen on 127.0.0.1 only and are stopped by the benchmark that
# started them; every loop is bounded. Report: stdout and bench/results/mail.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
cargo build --release -p varco -p varco-bench >&2
mkdir -p bench/results
{
    echo "# Varco mail and recovery benchmarks"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%MZ) · commit: \`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\` · backend: sqlite · $(nproc) cores"
    echo
    TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
    "$TARGET/release/varco-bench" mail-recovery --varco "$TARGET/release/varco" "$@"
} | tee bench/results/mail.md

#!/usr/bin/env bash
# End-of-day benchmark: one command, prints JSON (see BENCHMARKS.md).
# Usage: benchmarks/bench_eod.sh [ACCOUNTS]   (default 100000)
# CREDITDESK_BENCH_START=2026-01-20 shortens the synthetic history (39 warm-up dates instead
# of 58) for very large books; the timed dates (28 Feb ordinary, 1 Mar bill) are the same.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/creditdesk bench eod --accounts "${1:-100000}" --workdir "${TMPDIR:-/tmp}/creditdesk-bench" --json

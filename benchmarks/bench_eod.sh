#!/usr/bin/env bash
# End-of-day benchmark: one command, prints JSON (see BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/creditdesk bench eod --accounts "${1:-100000}" --workdir "${TMPDIR:-/tmp}/creditdesk-bench" --json

#!/usr/bin/env bash
# Load test (not part of CI): a sustained publish of --count events (default 100,000) through
# the local stack (Pub/Sub emulator -> streaming job on the DirectRunner -> BigQuery emulator),
# waiting until every message is accounted for; prints throughput and peak RSS.
#   scripts/load_test.sh                    # 100k events, paced at 45 msg/s (~40 min)
#   scripts/load_test.sh --count 20000      # quicker
# See bench/load.py for the output format (last line: "LOAD count=... consistent=...").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh >/dev/null
exec .venv/bin/python -m bench.load "$@"

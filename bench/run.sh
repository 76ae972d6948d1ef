#!/usr/bin/env bash
# Throughput benchmark (see bench/README.md): installs what it needs (idempotently), then
# measures parse / mapping chain / Beam batch / streaming end to end on one core, with the
# compiled domain modules (scripts/with_compiled.sh; `.venv/bin/python -m bench.run` alone
# measures the pure Python form).
# Last line: BENCH parse_ev_s=A chain_ev_s=B beam_batch_ev_s=C e2e_ev_s=D chain_vs_parse=B/A
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh
exec scripts/with_compiled.sh .venv/bin/python -m bench.run "$@"

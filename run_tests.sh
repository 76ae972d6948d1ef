#!/usr/bin/env bash
# The test command: installs what it needs (idempotently), then checks and tests.
#
#   ./run_tests.sh                     everything, as CI runs it: format, lint and type checks;
#                                      every tier on the checkout (pure Python); the unit tier
#                                      again against the compiled build (docs/compiled.md)
#   ./run_tests.sh unit|pipeline|e2e [pytest args]   one tier (tests/<tier>)
#   ./run_tests.sh compiled [pytest args]            the unit tier against the compiled build
#   ./run_tests.sh lint                              ruff format --check, ruff check, mypy
#   ./run_tests.sh [pytest args]                     pytest as asked (e.g. -k dedup)
#
# e2e tests start the local Pub/Sub and BigQuery emulators themselves (or use
# PUBSUB_EMULATOR_HOST / BIGQUERY_EMULATOR_HOST when already set).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
scripts/bootstrap.sh

lint() {
  .venv/bin/ruff format --check .
  .venv/bin/ruff check .
  .venv/bin/mypy
}
compiled() {
  scripts/with_compiled.sh .venv/bin/python -m pytest --import-mode=append -p no:cacheprovider tests/unit "$@"
}

case "${1:-all}" in
  all)
    lint
    scripts/install_browser.sh   # Debian's headless Chromium for the status-page browser test
    .venv/bin/python -m pytest tests
    compiled -q
    ;;
  lint) lint ;;
  compiled) shift; compiled "$@" ;;
  unit|pipeline) tier="$1"; shift; exec .venv/bin/python -m pytest "tests/$tier" "$@" ;;
  e2e) shift; scripts/install_browser.sh; exec .venv/bin/python -m pytest tests/e2e "$@" ;;
  *) scripts/install_browser.sh; exec .venv/bin/python -m pytest "$@" ;;
esac

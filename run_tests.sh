#!/usr/bin/env bash
# The test command: installs what it needs (idempotently), then runs the whole suite.
# Tests that need servers start the local Pub/Sub and BigQuery emulators themselves
# (or use PUBSUB_EMULATOR_HOST / BIGQUERY_EMULATOR_HOST when already set).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
scripts/bootstrap.sh
scripts/install_browser.sh   # Debian's headless Chromium for the status-page browser test
exec .venv/bin/python -m pytest "$@"

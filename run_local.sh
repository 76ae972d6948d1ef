#!/usr/bin/env bash
# The main job, locally and end to end: installs what it needs (idempotently), starts the
# Pub/Sub and BigQuery emulators, publishes a sample of Segment events, runs the streaming
# import on the DirectRunner until every message is accounted for, prints a summary and
# stops everything. Last line: SUMMARY published=N imported=N duplicate=N skipped=N rejected=N
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
scripts/bootstrap.sh
exec .venv/bin/python -m tools.local_run "$@"

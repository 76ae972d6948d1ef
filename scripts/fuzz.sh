#!/usr/bin/env bash
# The dedicated fuzz run (not part of ./run_tests.sh's budget; CI runs the same targets with
# 200 examples each). Hypothesis drives five targets in tests/unit/test_fuzz_targets.py:
#   bytes    process_message on arbitrary bytes
#   json     process_message on arbitrary JSON documents
#   segment  process_message on Segment-shaped events with adversarial field types
#   query    the Query API request model (serving/query_sql.py) on arbitrary request dicts
#   query_http  whole requests to the service (Query API and Daily Export, JSON and form
#            bodies, URL parameters): only 200 or Branch's 400, never a 500
# Pass criterion: zero unhandled errors and no internal_error outcome (a bug the failsafe
# caught), i.e. every test passes; the count of inputs each
# target really ran is printed (FUZZ total=N).
#
#   scripts/fuzz.sh                      # 20,000 examples per target = 100,000 inputs
#   FUZZ_EXAMPLES=2000 scripts/fuzz.sh   # quicker
#   ATHERIS_RUNS=200000 scripts/fuzz.sh  # also run the coverage-guided atheris target
#                                        # (installs the atheris wheel into .local/atheris)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh >/dev/null
export FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-20000}"
counts="$(mktemp)"
trap 'rm -f "$counts"' EXIT
started=$(date +%s)
status=0
FUZZ_COUNT_FILE="$counts" .venv/bin/python -m pytest tests/unit/test_fuzz_targets.py -q -p no:cacheprovider \
    -o addopts="-ra" --timeout=0 || status=$?
awk '{t+=$2; n[$1]+=$2} END {for (k in n) printf "  %-24s %d\n", k, n[k]; printf "FUZZ total=%d\n", t}' "$counts"
echo "hypothesis run took $(( $(date +%s) - started ))s; pytest exit status $status"

if [[ -n "${ATHERIS_RUNS:-}" ]]; then
    target=.local/atheris
    if [[ ! -d "$target/atheris" ]]; then
        .venv/bin/pip install --quiet --only-binary :all: --no-deps --target "$target" "atheris==3.0.0"
    fi
    crashes="${FUZZ_CRASH_DIR:-$(mktemp -d)}"   # crash-* inputs land here, not in the repo
    echo "atheris: $ATHERIS_RUNS runs; crashes go to $crashes/"
    PYTHONPATH="$target:." .venv/bin/python tools/atheris_mapping.py -atheris_runs="$ATHERIS_RUNS" -max_len=2048 \
        -artifact_prefix="$crashes/" \
        || status=$?
fi
exit "$status"

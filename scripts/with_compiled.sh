#!/usr/bin/env bash
# Run a command against the compiled domain package (docs/compiled.md):
#   scripts/with_compiled.sh .venv/bin/python -m pytest --import-mode=append tests/unit
# scripts/build_compiled.py builds it (keyed to the sources, reused when current) and it goes
# first on the path; the checkout follows for every other package. The current directory is
# not put on the path (PYTHONSAFEPATH), so the checkout's pure domain/ cannot shadow it.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
compiled="$("$repo/.venv/bin/python" "$repo/scripts/build_compiled.py")"
export PYTHONPATH="$compiled:$repo${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONSAFEPATH=1
export SEGMENT_BRANCH_EXPECT_COMPILED=1   # tests/unit/test_speedups.py fails if the build is not in use
exec "$@"

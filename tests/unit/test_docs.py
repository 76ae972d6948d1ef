"""The README documents the reason codes exactly as schemas/reasons.py defines them."""

from __future__ import annotations

import re

from schemas.reasons import Reason
from tests.support import REPO

README = REPO / "README.md"


def test_readme_reason_table_matches_the_enum():
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \| (\w+) \| (.+) \|$", README.read_text(), flags=re.M)
    documented = {code: (outcome, stage, text) for code, outcome, stage, text in rows}
    assert documented == {r.value: (r.outcome.value, r.stage, r.description) for r in Reason}


def test_readme_names_both_commands_and_the_summary_line():
    text = README.read_text()
    assert "./run_local.sh" in text and "./run_tests.sh" in text
    assert re.search(r"SUMMARY published=\d+ imported=\d+ duplicate=\d+ skipped=\d+ rejected=\d+", text)

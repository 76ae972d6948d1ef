"""The README documents the reason codes exactly as schemas/reasons.py defines them."""

from __future__ import annotations

import argparse
import re

import pytest

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


def _flags(*classes) -> set[str]:
    flags = set()
    for cls in classes:  # a parser each: both jobs define --max_event_age, with their own defaults
        parser = argparse.ArgumentParser(add_help=False)
        cls._add_argparse_args(parser)
        flags |= {action.dest for action in parser._actions}
    return flags


def test_readme_options_table_lists_every_option_of_the_import_jobs():
    from beam_jobs.backfill import BackfillOptions
    from beam_jobs.options import ImporterOptions
    from beam_jobs.segment_import import SegmentImportOptions

    table = README.read_text().split("| option | default | |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"`--(\w+)`", table))
    assert documented == _flags(ImporterOptions, SegmentImportOptions, BackfillOptions)


@pytest.mark.parametrize(
    "doc", ["README.md", "CONTRIBUTING.md", "docs/compiled.md", "docs/testing.md", "docs/attribution.md"]
)
def test_every_file_a_guide_names_exists(doc):
    text = (REPO / doc).read_text()
    named = set(
        re.findall(
            r"`((?:schemas|domain|adapters|transforms|beam_jobs|serving|tools|tests|bench|scripts|"
            r"dataflow|docs)/[\w./-]+?\.(?:pyx|pxd|py|json|sql|sh|md|yaml))(?!\w)",
            text,
        )
    )
    assert named, doc
    assert sorted(path for path in named if not (REPO / path).exists()) == []

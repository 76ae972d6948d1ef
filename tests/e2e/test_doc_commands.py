"""The guides' local commands work as written (README.md, docs/attribution.md).

Each fenced ``bash`` block marked ``<!-- doc-test -->`` runs whole in bash, from the
repository root, against the emulators; the files it names (a user's own events, Branch's
export files, where it writes) are replaced by ones made here. It must exit 0 and print each
line its ``# -> `` comments show, in order (``N``: a number; ``...``: anything). A block whose
commands drift from the code fails here; tests/unit/test_docs.py checks the flags of every
command the guides show, run or not.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
from datetime import UTC, datetime

import pytest

from tests.support import REPO
from tests.support.docs import doc_test_blocks
from tools.attribution_sample import EXPORT_FILE_NAME, attribution_sample
from tools.samples import generate_sample, write_lines

GUIDES = ("README.md", "docs/attribution.md")
BLOCKS = [block for guide in GUIDES for block in doc_test_blocks(REPO / guide)]
EXPORT_DAY = datetime(2026, 11, 19, 12, tzinfo=UTC)  # the README's --export_date
BLOCK_TIMEOUT_S = 300
EXPECTED = re.compile(r"^#\s*->\s*(.+)$", re.M)


@pytest.fixture(scope="module")
def placeholders(tmp_path_factory) -> dict[str, str]:
    """Placeholder in the guides -> what stands in for it here."""
    tmp = tmp_path_factory.mktemp("doc_commands")
    now = datetime.now(UTC)
    with open(tmp / "my_events.jsonl", "wb") as out:
        write_lines(((m.kind, m.data) for m in generate_sample(200, 3, now)), out)
    with gzip.open(tmp / "my_events.jsonl.gz", "wb") as out:  # the day the README exports
        write_lines(((m.kind, m.data) for m in generate_sample(200, 3, EXPORT_DAY)), out)
    sample = attribution_sample(now, instances=1, branch_files=True)
    with open(tmp / "touches_then_conversions.jsonl", "wb") as out:
        phases = [*sample.touches, *sample.teachers, *sample.conversions]
        write_lines(((m.kind, m.data) for m in phases), out)
    (tmp / "branch_exports").mkdir()
    (tmp / "branch_exports" / EXPORT_FILE_NAME).write_bytes(sample.export_file())
    files = ("my_events.jsonl", "my_events.jsonl.gz", "touches_then_conversions.jsonl", "sample.jsonl", "exports")
    return {
        **{name: str(tmp / name) for name in files},
        "branch_exports/*-eo_click-v2-*.csv.gz": str(tmp / "branch_exports" / "*-eo_click-v2-*.csv.gz"),
        "/tmp/ls": str(tmp / "localstack"),
    }


def substituted(script: str, placeholders: dict[str, str]) -> tuple[str, set[str]]:
    """The script with each placeholder, as a whole path, replaced; and the placeholders used."""
    used = set()
    for name in sorted(placeholders, key=len, reverse=True):
        pattern = re.compile(rf"(?<![\w./-]){re.escape(name)}(?![\w.-])")
        if pattern.search(script):
            used.add(name)
            script = pattern.sub(lambda _, name=name: placeholders[name], script)
    return script, used


def expected_lines(script: str) -> list[re.Pattern[str]]:
    patterns = []
    for line in EXPECTED.findall(script):
        regex = re.escape(line.strip()).replace(r"\.\.\.", ".*")
        patterns.append(re.compile(re.sub(r"\bN\b", r"\\d+", regex)))
    return patterns


def test_the_guides_mark_their_local_blocks():
    assert {source.split(":")[0] for source, _ in BLOCKS} == set(GUIDES)


@pytest.mark.parametrize(("source", "script"), BLOCKS, ids=[source for source, _ in BLOCKS])
def test_a_documented_local_block_runs_as_written(source, script, placeholders, local_stack):
    runnable, used = substituted(script, placeholders)
    assert used, f"{source}: names none of the placeholder files; is it run against the right inputs?"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", runnable],
        cwd=REPO,
        env={**os.environ, **local_stack},
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
    )
    assert done.returncode == 0, f"{source} exited {done.returncode}:\n{done.stderr[-4000:]}"
    lines = iter(done.stdout.splitlines())
    for pattern in expected_lines(script):
        assert any(pattern.fullmatch(line) for line in lines), f"{source}: no line {pattern.pattern!r}\n{done.stdout}"


def test_every_placeholder_stands_for_something_a_block_names(placeholders):
    used = set().union(*(substituted(script, placeholders)[1] for _, script in BLOCKS))
    assert used == set(placeholders)

"""The whole backfill job on a second runner, Beam's Prism (Go), against the BigQuery emulator.

Prism is built from the Go module proxy by ``scripts/build_prism.sh`` (idempotent).
"""

from __future__ import annotations

import subprocess

import pytest

from beam_jobs import backfill
from tests.support import REPO
from tests.support.mapping import one_of_each_fate
from tools.local_run import read_accounting

PRISM = REPO / ".local" / "bin" / "prism"


@pytest.fixture(scope="module", autouse=True)
def prism_binary():
    subprocess.run([str(REPO / "scripts" / "build_prism.sh")], check=True, timeout=900)
    assert PRISM.exists()


def test_the_whole_backfill_job_imports_on_prism(bq_client, fresh_dataset, tmp_path):
    lines = one_of_each_fate()
    archive = tmp_path / "archive.jsonl"
    archive.write_bytes(b"\n".join(lines) + b"\n")
    backfill.run(
        [
            "--runner=PrismRunner",
            f"--prism_location={PRISM}",
            "--prism_log_level=warn",
            "--project=local-project",
            f"--dataset={fresh_dataset}",
            f"--input={archive}",
        ]
    )
    accounting = read_accounting(bq_client, fresh_dataset)
    assert accounting.consistent(len(lines)), accounting
    assert (accounting.imported, accounting.duplicate, accounting.skipped, accounting.rejected) == (2, 1, 1, 2)

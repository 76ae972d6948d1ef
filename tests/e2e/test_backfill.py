"""Backfill: a gzipped Segment archive with duplicates and bad lines, through the batch job."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest

from beam_jobs import backfill
from tools.local_run import ALL_TIME, read_accounting
from tools.samples import generate_sample

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    messages = generate_sample(400, seed=11, now=NOW)
    path = tmp_path_factory.mktemp("archive") / "segment-2026-11-28.jsonl.gz"
    with gzip.open(path, "wb") as out:
        out.writelines(m.data + b"\n" for m in messages)
    return path, messages


def _run(dataset: str, path) -> dict[str, int]:
    result = backfill.run(
        [
            "--runner=FnApiRunner",
            "--direct_num_workers=1",
            "--project=local-project",
            f"--dataset={dataset}",
            f"--input={path}",
        ]
    )
    return backfill.outcome_counts(result)


def test_archive_imports_with_the_accounting_identity(bq_client, fresh_dataset, archive):
    path, messages = archive
    counts = _run(fresh_dataset, path)
    accounting = read_accounting(bq_client, fresh_dataset)
    assert accounting.consistent(len(messages)), accounting
    duplicates = sum(1 for m in messages if m.kind == "duplicate")
    assert accounting.duplicate == duplicates == counts["duplicate"]
    assert accounting.imported == counts["imported"] > 0
    assert accounting.rejected > 0 and accounting.skipped > 0
    # History is old on purpose: nothing is stale in a backfill by default.
    assert "rejected.stale_event" not in counts
    # The local run's last line accounts for every archive line, as the tables do.
    assert backfill.summary(counts) == (
        f"BACKFILL lines={len(messages)} imported={accounting.imported} duplicate={accounting.duplicate} "
        f"skipped={accounting.skipped} rejected={accounting.rejected} consistent=true"
    )


def test_summary_takes_sink_errors_out_of_imported_and_flags_a_gap():
    counts = {
        "archive_lines": 10,
        "mapped": 8,
        "imported": 7,
        "duplicate": 1,
        "skipped.not_imported_event": 1,
        "rejected.malformed_json": 1,
        "rejected.sink_error": 2,
    }
    assert backfill.summary(counts) == "BACKFILL lines=10 imported=5 duplicate=1 skipped=1 rejected=3 consistent=true"
    assert backfill.summary({**counts, "archive_lines": 11}).endswith("consistent=false")


def test_running_the_same_backfill_twice_adds_no_rows_to_the_dedup_view(bq_client, fresh_dataset, archive):
    path, _ = archive
    _run(fresh_dataset, path)
    first = read_accounting(bq_client, fresh_dataset).imported
    _run(fresh_dataset, path)
    table = f"`{bq_client.project}.{fresh_dataset}.events`"
    raw_rows = next(iter(bq_client.query(f"SELECT COUNT(*) FROM {table} WHERE {ALL_TIME}").result()))[0]
    view = f"`{bq_client.project}.{fresh_dataset}.events_dedup`"
    deduped = next(iter(bq_client.query(f"SELECT COUNT(*) FROM {view} WHERE {ALL_TIME}").result()))[0]
    assert raw_rows == 2 * first  # the raw table holds both runs ...
    assert deduped == first  # ... the view one row per event id


def test_both_attribution_plans_write_the_same_attributed_rows(bq_client, fresh_dataset, tmp_path):
    """The backfill job with ``--attribution_plan=in_memory`` and with ``keyed`` (what a large
    archive gets) writes the same attribution columns, on the attribution sample (every kind of
    touch, links across platforms, windows)."""
    from adapters.provision import provision_tables
    from domain.touches import ATTRIBUTION_COLUMNS
    from tools.attribution_sample import attribution_sample

    sample = attribution_sample(NOW, instances=2)
    path = tmp_path / "sample.jsonl"
    path.write_bytes(b"".join(m.data + b"\n" for phase in reversed(sample.phases) for m in phase))
    keyed_dataset = f"{fresh_dataset}_keyed"
    provision_tables(bq_client, keyed_dataset)
    columns = ", ".join(ATTRIBUTION_COLUMNS)
    decided = {}
    for plan, dataset in (("in_memory", fresh_dataset), ("keyed", keyed_dataset)):
        backfill.run(
            [
                "--runner=FnApiRunner",
                "--direct_num_workers=1",
                "--project=local-project",
                f"--dataset={dataset}",
                f"--input={path}",
                f"--attribution_plan={plan}",
                "--attribution_bucket_hours=6",
            ]
        )
        query = f"SELECT id, {columns} FROM `local-project.{dataset}.events` WHERE attributed ORDER BY id"
        decided[plan] = [dict(row) for row in bq_client.query(query).result()]
    assert len(decided["in_memory"]) >= 10  # touches of every kind were found
    assert decided["keyed"] == decided["in_memory"]

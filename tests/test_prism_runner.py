"""The batch import runs on a second runner: Beam's Prism (Go), mapping and dedup alone and
the whole backfill job against the BigQuery emulator.

Prism is built from the Go module proxy by ``scripts/build_prism.sh`` (idempotent; a cold
build takes 2-3 minutes, then the Go build cache makes it seconds).
"""
from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import apache_beam as beam
import orjson
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from beam_jobs.options import ImporterOptions, import_settings
from transforms.import_transforms import REJECTED, STATS, DeduplicateEvents, MapSegmentMessages

PRISM = Path(__file__).resolve().parent.parent / ".local" / "bin" / "prism"



@pytest.fixture(scope="module", autouse=True)
def prism_binary():
    subprocess.run([str(PRISM.parent.parent.parent / "scripts" / "build_prism.sh")], check=True, timeout=900)
    assert PRISM.exists()


def _track(message_id: str, **fields) -> bytes:
    event = {"type": "track", "event": "Order Completed", "messageId": message_id,
             "timestamp": "2024-01-01T10:00:00Z", "userId": "user-1", **fields}
    return orjson.dumps(event)


LINES = [
    _track("m-1"),
    _track("m-1"),  # a repeat of m-1 within the dedup window
    _track("m-2", event="Product Viewed"),
    _track("m-3", userId=None),  # no identifier at all
    orjson.dumps({"type": "identify", "messageId": "m-4", "userId": "user-1"}),
    b"not json",
]


def test_mapping_and_dedup_decide_every_line_on_prism():
    options = PipelineOptions(["--runner=PrismRunner", f"--prism_location={PRISM}", "--prism_log_level=warn"])
    settings = import_settings(options.view_as(ImporterOptions), max_event_age=None)
    with beam.Pipeline(options=options) as pipeline:
        # Two chunks of archive lines, the repeat of m-1 in the second: dedup spans chunks.
        chunks = [LINES[:1], LINES[1:]]
        mapped = pipeline | beam.Create(chunks) | "Map" >> MapSegmentMessages(settings, dedup_shards=4)
        deduped = mapped.imported | "Dedup" >> DeduplicateEvents(timedelta(minutes=10), streaming=False)

        unique = deduped["unique"] | beam.Map(lambda row: (row["segment_message_id"], row["name"]))
        assert_that(unique, equal_to([("m-1", "PURCHASE"), ("m-2", "VIEW_ITEM")]), label="Unique")

        outcomes = (
            (mapped[STATS], deduped[STATS])
            | beam.Flatten()
            | beam.MapTuple(lambda key, delta: (key.outcome, key.reason, delta))
        )
        assert_that(outcomes, equal_to([
            ("imported", None, 1), ("imported", None, 1), ("duplicate", None, 1),
            ("rejected", "no_identifier", 1), ("skipped", "unsupported_call_type", 1),
            ("rejected", "malformed_json", 1),
        ]), label="Outcomes")

        reasons = mapped[REJECTED] | beam.Map(lambda row: row["reason"])
        assert_that(reasons, equal_to(["no_identifier", "malformed_json"]), label="DeadLetters")


@pytest.mark.emulator
def test_the_whole_backfill_job_imports_on_prism(bq_client, fresh_dataset, tmp_path):
    from beam_jobs import backfill
    from segment_branch.local_run import read_accounting

    archive = tmp_path / "archive.jsonl"
    archive.write_bytes(b"\n".join(LINES) + b"\n")
    backfill.run(["--runner=PrismRunner", f"--prism_location={PRISM}", "--prism_log_level=warn",
                  "--project=local-project", f"--dataset={fresh_dataset}", f"--input={archive}"])
    accounting = read_accounting(bq_client, fresh_dataset)
    assert accounting.consistent(len(LINES)), accounting
    assert (accounting.imported, accounting.duplicate, accounting.skipped, accounting.rejected) == (2, 1, 1, 2)

"""The import graph both jobs share: messages -> map -> dedup -> BigQuery tables.

A function, not a composite, so the steps keep their top-level names: Dataflow matches
transforms by name on ``--update``, and these names must never change.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.pvalue import PCollection

from beam_jobs.options import ImporterOptions
from schemas.tables import IMPORT_STATS, REJECTED_EVENTS
from transforms.bq_client import emulator_client
from transforms.import_transforms import (
    REJECTED,
    STATS,
    CountOutcomesPerMinute,
    DeduplicateEvents,
    MapSegmentMessages,
    WriteEventRows,
    WriteTableRows,
    rows_carry_raw_message,
)
from transforms.mapping import ImportSettings
from transforms.timestamps import parse_duration


def import_messages(messages: PCollection, opts: ImporterOptions, settings: ImportSettings, project: str, *,
                    dedup_shards: int | None = None) -> None:
    """Map, dedup and write ``messages`` to the three tables.

    Streaming: Pub/Sub messages. Batch (``dedup_shards`` set): chunks of archive lines, their
    copies grouped by that many shards of the event id for the dedup.
    """
    streaming = dedup_shards is None
    dataset = opts.dataset
    dedup_window = parse_duration(opts.dedup_window)
    if dedup_window is None:
        raise ValueError("--dedup_window must be a positive duration (e.g. 10m)")
    # Only set when BIGQUERY_EMULATOR_HOST is: production uses Beam's own clients.
    client = emulator_client(project)

    mapped = messages | "MapSegmentMessages" >> MapSegmentMessages(
        settings, dedup_shards=dedup_shards, keep_raw=rows_carry_raw_message(opts.bq_write_method))
    deduped = mapped.imported | "DeduplicateEvents" >> DeduplicateEvents(
        dedup_window, streaming=streaming)
    sink_errors = deduped["unique"] | "WriteEvents" >> WriteEventRows(
        project, dataset, method=opts.bq_write_method, max_stored_bytes=opts.max_payload_bytes, test_client=client)
    (
        (mapped[REJECTED], sink_errors[REJECTED])
        | "FlattenDeadLetters" >> beam.Flatten()
        | "WriteRejectedEvents" >> WriteTableRows(
            project, dataset, REJECTED_EVENTS, method="STREAMING_INSERTS", test_client=client)
    )
    (
        (mapped[STATS], deduped[STATS], sink_errors[STATS])
        | "FlattenOutcomes" >> beam.Flatten()
        | "CountOutcomesPerMinute" >> CountOutcomesPerMinute()
        | "WriteImportStats" >> WriteTableRows(
            project, dataset, IMPORT_STATS, method="STREAMING_INSERTS", test_client=client)
    )

"""The streaming import: Segment events on Pub/Sub -> Branch events in BigQuery.

    python -m beam_jobs.segment_import --subscription projects/P/subscriptions/S \
        --project P --dataset segment_branch [--runner DataflowRunner ...]

Every message ends as exactly one of imported / duplicate / skipped / rejected: imported
rows go to ``events``, rejected messages (with their raw payload) to ``rejected_events``,
and per-minute counts of all four to ``import_stats``.
"""
from __future__ import annotations

import logging
import sys
from typing import Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions, StandardOptions

from beam_jobs.options import ImporterOptions, bq_project, import_settings
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
)
from transforms.timestamps import parse_duration


class SegmentImportOptions(ImporterOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--subscription", required=True,
                            help="Pub/Sub subscription with Segment events: projects/P/subscriptions/S.")
        parser.add_argument("--max_event_age", default="24h",
                            help="Reject events older than this (Branch's real-time rule; 'off' disables).")
        parser.add_argument("--stats_early_firing_seconds", type=int, default=30,
                            help="Emit partial per-minute counts this often before the minute closes.")


def build_pipeline(pipeline: beam.Pipeline, options: PipelineOptions) -> None:
    """The whole job's shape: read, map, dedup, write, dead-letter, count."""
    opts = options.view_as(SegmentImportOptions)
    project, dataset = bq_project(options), opts.dataset
    settings = import_settings(opts, max_event_age=opts.max_event_age)
    # Only set when BIGQUERY_EMULATOR_HOST is: production uses Beam's own clients.
    client = emulator_client(project)

    messages = pipeline | "ReadSegmentMessages" >> beam.io.ReadFromPubSub(
        subscription=opts.subscription, with_attributes=True)
    mapped = messages | "MapSegmentMessages" >> MapSegmentMessages(settings)
    deduped = mapped.imported | "DeduplicateEvents" >> DeduplicateEvents(
        parse_duration(opts.dedup_window), streaming=True)
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
        | "CountOutcomesPerMinute" >> CountOutcomesPerMinute(opts.stats_early_firing_seconds)
        | "WriteImportStats" >> WriteTableRows(project, dataset, IMPORT_STATS, method="STREAMING_INSERTS",
                                                test_client=client)
    )


def make_options(argv: Sequence[str] | None) -> PipelineOptions:
    options = PipelineOptions(argv)
    options.view_as(StandardOptions).streaming = True
    # Workers need the mapping config and helpers pickled with the DoFns.
    options.view_as(SetupOptions).save_main_session = False
    return options


def run(argv: Sequence[str] | None = None) -> beam.runners.runner.PipelineResult:
    """Start the job and return its result (on Dataflow, returns once submitted)."""
    options = make_options(argv)
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, options)
    return pipeline.run()


def main(argv: Sequence[str] | None = None) -> None:
    logging.getLogger().setLevel(logging.INFO)
    run(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()

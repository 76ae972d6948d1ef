"""The streaming import: Segment events on Pub/Sub -> Branch events in BigQuery.

    python -m beam_jobs.segment_import --project P --dataset segment_branch \\
        --subscription projects/P/subscriptions/S --runner=DataflowRunner --region R ...

On Dataflow it submits the job and returns. On a local runner it runs the job until Ctrl-C
or SIGTERM, then cancels it: ``--runner=BundleBasedDirectRunner`` (Beam's default
DirectRunner gets there too, after trying Prism, which cannot read Pub/Sub).

Every message ends as exactly one of imported / duplicate / skipped / rejected: imported
rows go to ``events``, rejected messages (with their raw payload) to ``rejected_events``,
and per-minute counts of all four to ``import_stats``.
"""

from __future__ import annotations

import argparse
import logging
import signal
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions, StandardOptions

from beam_jobs.import_graph import import_messages
from beam_jobs.options import (
    STREAMING_MAX_EVENT_AGE,
    ImporterOptions,
    bq_project,
    check_live_tables,
    import_settings,
    job_parser,
    parse_job_args,
    runs_on_dataflow,
)
from domain.attribution import DEFAULT_MAX_TOUCHES_PER_KEY
from transforms.counting import DEFAULT_STATS_FLUSH_SECONDS
from transforms.sinks import DEFAULT_BUFFERING_SECONDS

DEFAULT_TOUCHES_REFRESH_SECONDS = 300


class SegmentImportOptions(ImporterOptions, PipelineOptions):
    """The streaming job's own options (a direct subclass of PipelineOptions too: see
    beam_jobs/options.py)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--subscription",
            help="Pub/Sub subscription with Segment events: projects/P/subscriptions/S (required).",
        )
        parser.add_argument(
            "--max_touches_per_key",
            type=int,
            default=DEFAULT_MAX_TOUCHES_PER_KEY,
            help="The streaming attribution holds at most this many touches (and as many links) per identity key "
            "and touch type, the latest; a cut is counted (attribution_cut).",
        )
        parser.add_argument(
            "--stats_flush_seconds",
            type=int,
            default=DEFAULT_STATS_FLUSH_SECONDS,
            help="Outcome counts are summed per minute and stat key and written this often (import_stats rows: "
            "about one per key and minute, whatever the bundles).",
        )
        parser.add_argument(
            "--insert_buffering_seconds",
            type=float,
            default=DEFAULT_BUFFERING_SECONDS,
            help="Streaming inserts go in batches of 500 rows per table; a batch that has not filled is "
            "sent after this many seconds.",
        )
        parser.add_argument(
            "--touches_refresh_seconds",
            type=int,
            default=DEFAULT_TOUCHES_REFRESH_SECONDS,
            help="With --read_touches_table: every this many seconds, read the touches load_touches added to the "
            "touches table since (Branch's files loaded while the job runs); 0 turns it off.",
        )
        parser.add_argument(
            "--feed_topic",
            default=None,
            help="Also publish every imported event (JSON, attributes app_id, name, category) to "
            "projects/P/topics/T. Default: no feed.",
        )


def build_pipeline(pipeline: beam.Pipeline, options: PipelineOptions) -> None:
    """The whole job: read Pub/Sub, then map, dedup, write, dead-letter, count."""
    opts = options.view_as(SegmentImportOptions)
    project = bq_project(options)
    if not opts.subscription:
        raise SystemExit("give the subscription to read: --subscription projects/P/subscriptions/S")
    messages = pipeline | "ReadSegmentMessages" >> beam.io.ReadFromPubSub(
        subscription=opts.subscription, with_attributes=True
    )
    settings = import_settings(opts, default_max_event_age=STREAMING_MAX_EVENT_AGE)
    if (
        opts.max_touches_per_key < 1
        or opts.stats_flush_seconds < 1
        or opts.insert_buffering_seconds <= 0
        or opts.touches_refresh_seconds < 0
    ):
        raise SystemExit(
            "--max_touches_per_key and --stats_flush_seconds must be at least 1, --insert_buffering_seconds "
            "positive, --touches_refresh_seconds 0 or more"
        )
    import_messages(
        messages,
        opts,
        settings,
        project,
        feeds=True,
        feed_topic=opts.feed_topic,
        max_touches_per_key=opts.max_touches_per_key,
        stats_flush_seconds=opts.stats_flush_seconds,
        insert_buffering_seconds=opts.insert_buffering_seconds,
        touches_refresh_seconds=opts.touches_refresh_seconds,
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
    check_live_tables(options)
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, options)
    return pipeline.run()


def run_until_stopped(result: beam.runners.runner.PipelineResult) -> None:
    """Keep a local streaming job running until Ctrl-C or SIGTERM, then cancel it: the local
    runners run the job on threads of this process, which must not end first."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops it as Ctrl-C does
    logging.info("the streaming job runs until Ctrl-C or SIGTERM")
    try:
        result.wait_until_finish()
    except KeyboardInterrupt:
        logging.info("stopping the streaming job")
        result.cancel()


def arg_parser() -> argparse.ArgumentParser:
    """The job's command line (``--help``)."""
    return job_parser("beam_jobs.segment_import", __doc__, SegmentImportOptions, ImporterOptions)


def main(argv: Sequence[str] | None = None) -> None:
    logging.getLogger().setLevel(logging.INFO)
    argv = parse_job_args(arg_parser(), argv)
    result = run(argv)
    if not runs_on_dataflow(make_options(argv)):
        run_until_stopped(result)


if __name__ == "__main__":
    main()

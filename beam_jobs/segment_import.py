"""The streaming import: Segment events on Pub/Sub -> Branch events in BigQuery.

    python -m beam_jobs.segment_import --project P --dataset segment_branch \\
        --subscription projects/P/subscriptions/S --runner=DataflowRunner --region R ...

Every message ends as exactly one of imported / duplicate / skipped / rejected: imported
rows go to ``events``, rejected messages (with their raw payload) to ``rejected_events``,
and per-minute counts of all four to ``import_stats``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions, StandardOptions

from beam_jobs.import_graph import import_messages
from beam_jobs.options import (
    ImporterOptions,
    bq_project,
    check_live_tables,
    import_settings,
    job_parser,
    parse_job_args,
)


class SegmentImportOptions(ImporterOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--subscription",
            required=True,
            help="Pub/Sub subscription with Segment events: projects/P/subscriptions/S.",
        )
        parser.add_argument(
            "--max_event_age",
            default="24h",
            help="Reject events older than this (Branch's real-time rule; 'off' disables).",
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
    messages = pipeline | "ReadSegmentMessages" >> beam.io.ReadFromPubSub(
        subscription=opts.subscription, with_attributes=True
    )
    settings = import_settings(opts, max_event_age=opts.max_event_age)
    import_messages(messages, opts, settings, project, feeds=True, feed_topic=opts.feed_topic)


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


def arg_parser() -> argparse.ArgumentParser:
    """The job's command line (``--help``)."""
    return job_parser("beam_jobs.segment_import", __doc__, SegmentImportOptions, ImporterOptions)


def main(argv: Sequence[str] | None = None) -> None:
    logging.getLogger().setLevel(logging.INFO)
    argv = parse_job_args(arg_parser(), argv)
    run(argv)


if __name__ == "__main__":
    main()

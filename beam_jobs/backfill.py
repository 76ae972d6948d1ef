"""Backfill: import Segment archives (JSON lines, optionally gzipped, local or gs://).

    python -m beam_jobs.backfill --project P --dataset segment_branch --default_app_id APP \\
        --input 'gs://bucket/segment/2026/11/*.jsonl.gz' [--runner=DataflowRunner --region R ...]

Locally (``--runner=FnApiRunner``) it waits for the end and prints its counters and a last
line ``BACKFILL lines=N imported=N duplicate=N skipped=N rejected=N consistent=true``.

Same mapping, dedup rule and tables as the streaming job. Differences, by design: the
stale-event check is off by default (history is old), and dedup runs on event time over
sorted copies, so replaying a backfill decides every message identically. Event ids are
deterministic, so a backfill run twice adds no rows to the deduplicating views
(``events_dedup``); ``import_stats`` counts each run's processing.
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Sequence
from datetime import timedelta

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from beam_jobs.import_graph import import_messages
from beam_jobs.options import (
    BACKFILL_MAX_EVENT_AGE,
    ImporterOptions,
    InputFilesOptions,
    bq_project,
    check_live_tables,
    import_settings,
    input_patterns,
    job_parser,
    parse_job_args,
    runs_on_dataflow,
)
from domain.keyed_replay import KeyedPlan
from schemas.reasons import METRICS_NAMESPACE, Reason
from transforms.archives import ARCHIVE_LINES, ReadArchiveChunks

# --dedup_shards=auto: at least 256 shards (groups to spread over workers), and one more per
# ~1M events of the archive, estimated from its size (docs/operations.md, "Backfill").
DEFAULT_DEDUP_SHARDS = 256
EVENTS_PER_DEDUP_SHARD = 1_000_000
ARCHIVE_BYTES_PER_EVENT = {"gz": 150, "": 1_100}  # gzipped / plain JSON lines (tools.samples' corpus: ~1.1 KB)
AUTO = "auto"
DEFAULT_ATTRIBUTION_BUCKET_HOURS = 24
# --attribution_plan=auto: an archive of up to this many events (estimated) is attributed in
# memory, one group per app (about 1 GB for a worker at its bound); a larger one by the keyed
# plan, with one key shard per ~200k events (a group holds its shard's conversions of one bucket).
IN_MEMORY_MAX_EVENTS = 5_000_000
EVENTS_PER_ATTRIBUTION_SHARD = 200_000
PLANS = (AUTO, "in_memory", "keyed")


class BackfillOptions(ImporterOptions, InputFilesOptions, PipelineOptions):
    """The backfill's own options (a direct subclass of PipelineOptions too: see
    beam_jobs/options.py)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--dedup_shards",
            default=AUTO,
            help="Shards of the event id the dedup groups copies by (a shard's worker holds its keys, ~100 B "
            "each, and its repeated copies), or auto: at least 256, and one per ~1M events of the input, "
            "estimated from the files' sizes. Default: auto.",
        )
        parser.add_argument(
            "--attribution_plan",
            choices=PLANS,
            default=AUTO,
            help="How attribution is decided: in_memory (one group per app, replayed by one worker: fast, "
            "bounded by the app's archive), keyed (groups per identity key shard and time bucket: no group "
            "grows with the app), or auto: in_memory up to ~5M events of input (estimated from the files' "
            "sizes), keyed above. Both decide alike. Default: auto.",
        )
        parser.add_argument(
            "--attribution_bucket_hours",
            type=int,
            default=DEFAULT_ATTRIBUTION_BUCKET_HOURS,
            help="Attribution groups each identity key's conversions by this many hours of event time, with "
            "the touches they could use copied in: a very active user's group holds one bucket of its "
            "activity (smaller: smaller groups, more copies of each touch). Default: 24.",
        )


def estimated_events(patterns: Sequence[str]) -> int:
    """The events the archives matching ``patterns`` hold, estimated from their sizes."""
    total = 0
    for result in FileSystems.match(list(patterns)):
        for found in result.metadata_list:
            total += found.size_in_bytes // ARCHIVE_BYTES_PER_EVENT["gz" if found.path.endswith(".gz") else ""]
    return total


def _archive_events(patterns: Sequence[str]) -> int:
    try:
        return estimated_events(patterns)
    except OSError as error:  # (an input that cannot be listed yet: the read step says so)
        logging.warning("input not listed (%s): shards for an empty input", error)
        return 0


def dedup_shards(value: str, patterns: Sequence[str]) -> int:
    """``--dedup_shards``: a number, or ``auto`` (:data:`DEFAULT_DEDUP_SHARDS`, and one per
    :data:`EVENTS_PER_DEDUP_SHARD` estimated events beyond that)."""
    if value != AUTO:
        shards = int(value)
        if shards < 1:
            raise ValueError("--dedup_shards must be auto or at least 1")
        return shards
    return max(DEFAULT_DEDUP_SHARDS, math.ceil(_archive_events(patterns) / EVENTS_PER_DEDUP_SHARD))


def attribution_plan(plan: str, patterns: Sequence[str], bucket: timedelta) -> KeyedPlan | None:
    """``--attribution_plan``: None (in memory) or the keyed plan, with one key shard per
    :data:`EVENTS_PER_ATTRIBUTION_SHARD` estimated events (at least one)."""
    events = _archive_events(patterns) if plan != "in_memory" else 0
    if plan == "in_memory" or (plan == AUTO and events <= IN_MEMORY_MAX_EVENTS):
        return None
    return KeyedPlan(max(1, math.ceil(events / EVENTS_PER_ATTRIBUTION_SHARD)), bucket)


def build_pipeline(pipeline: beam.Pipeline, options: PipelineOptions) -> None:
    """The whole job: read the archives, then map, dedup, write, dead-letter, count."""
    opts = options.view_as(BackfillOptions)
    project = bq_project(options)
    if opts.attribution_bucket_hours < 1:
        raise ValueError("--attribution_bucket_hours must be at least 1")
    patterns = input_patterns(options)
    shards = dedup_shards(opts.dedup_shards, patterns)
    chunks = [
        pipeline | f"ReadArchive{i}" >> ReadArchiveChunks(pattern) for i, pattern in enumerate(patterns)
    ] | "FlattenArchives" >> beam.Flatten()
    settings = import_settings(options, default_max_event_age=BACKFILL_MAX_EVENT_AGE)
    import_messages(
        chunks,
        opts,
        settings,
        project,
        dedup_shards=shards,
        keyed=attribution_plan(opts.attribution_plan, patterns, timedelta(hours=opts.attribution_bucket_hours)),
    )


def outcome_counts(result) -> dict[str, int]:
    """The job's Beam counters (archive_lines, mapped, imported, duplicate, skipped.*,
    rejected.*) after it finished."""
    counts: dict[str, int] = {}
    for counter in result.metrics().query(beam.metrics.MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]:
        counts[counter.key.metric.name] = counts.get(counter.key.metric.name, 0) + counter.committed
    return counts


def summary(counts: dict[str, int]) -> str:
    """The last line a local backfill prints: every archive line accounted for, or not.

    ``imported`` is counted when a row leaves dedup; a row BigQuery then refuses is counted
    again as ``rejected.sink_error``, so it is taken out of ``imported`` here.
    """
    sink_errors = counts.get(f"rejected.{Reason.SINK_ERROR.value}", 0)
    outcomes = {
        "imported": counts.get("imported", 0) - sink_errors,
        "duplicate": counts.get("duplicate", 0),
        "skipped": sum(v for k, v in counts.items() if k.startswith("skipped.")),
        "rejected": sum(v for k, v in counts.items() if k.startswith("rejected.")),
    }
    lines = counts.get(ARCHIVE_LINES, 0)
    consistent = str(lines == sum(outcomes.values())).lower()
    return " ".join(
        ["BACKFILL", f"lines={lines}", *(f"{k}={v}" for k, v in outcomes.items()), f"consistent={consistent}"]
    )


def run(argv: Sequence[str] | None = None, *, wait: bool = True):
    options = PipelineOptions(argv)
    check_live_tables(options)
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, options)
    result = pipeline.run()
    if wait:
        result.wait_until_finish()
    return result


def arg_parser() -> argparse.ArgumentParser:
    """The job's command line (``--help``)."""
    return job_parser("beam_jobs.backfill", __doc__, BackfillOptions, InputFilesOptions, ImporterOptions)


def main(argv: Sequence[str] | None = None) -> None:
    logging.getLogger().setLevel(logging.INFO)
    argv = parse_job_args(arg_parser(), argv)
    on_dataflow = runs_on_dataflow(PipelineOptions(argv))
    result = run(argv, wait=not on_dataflow)
    if on_dataflow:
        print("submitted; outcome counters are in the Dataflow job's metrics (namespace segment_import)")
        return
    counts = outcome_counts(result)
    for name, value in sorted(counts.items()):
        print(f"{name:<40} {value:>10}")
    print(summary(counts))


if __name__ == "__main__":
    main()

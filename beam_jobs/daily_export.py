"""Daily Export: every complete day of every app as Branch v2 files (rules §8, 10). Batch.

Scheduled (Cloud Scheduler or cron, e.g. hourly; README "Daily Export"):

    python -m beam_jobs.daily_export --project P --dataset segment_branch \\
        --app_config gs://bucket/config/apps.yaml --all_apps --export_date=auto \\
        --output gs://bucket/exports [--runner=DataflowRunner --region R ...]

``--export_date=auto`` (the default) exports each day of the last ``--lookback_days`` that
is complete (D + 1 day + ``--ready_after`` has passed: the streaming job's
``--max_event_age`` plus a safety lag) and either was never exported or has changed since
(the day's partition of ``events`` changed, by ``INFORMATION_SCHEMA.PARTITIONS``, and the
app's row count or latest ``ingested_at`` that day differs from the manifest's: a backfill or
replay landed in it). An app-day is read in hash shards of the event id, each formatted and
written by its own worker. One day by hand: ``--app_id APP --export_date=2026-11-19``
(exported even if not complete yet; the API serves it only once complete and re-exported).

Writes ``<output>/<app_id>/<YYYY-MM-DD>/<app_id>-<day>-<topic>-v2-<hash>-<n>.csv.gz``
(``<= --max_rows_per_file`` rows each, a header in each) and then that directory's
``manifest.json`` (files, row counts, the snapshot it was made from). The manifest is
written last, so its presence means the day's export is finished; the Export API lists it.
The stages are in ``transforms/exports.py``; columns, formats and rules in
``domain/export_files.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from adapters.storage import load_app_config
from beam_jobs.options import ImporterOptions, bq_project, job_parser, parse_job_args, runs_on_dataflow
from domain.export_files import DEFAULT_LOOKBACK_DAYS, DEFAULT_READY_AFTER, MAX_ROWS_PER_FILE
from domain.timestamps import parse_duration
from schemas.tables import EVENTS, EVENTS_DEDUP
from transforms.exports import ExportDays, ExportShard, PlanExports, StageDay, manifests_since

AUTO = "auto"
# Of ImporterOptions, the options the export reads (the other parameters of its Flex Template).
SHARED_OPTIONS = ("dataset", "bq_project", "app_config")


def _day_or_auto(value: str) -> str:
    """``auto`` or a YYYY-MM-DD day, kept as text (checked here so a bad one fails at parse)."""
    if value == AUTO:
        return value
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a day YYYY-MM-DD, got {value!r}") from None


class DailyExportOptions(PipelineOptions):
    """The export's own options; ``SHARED_OPTIONS`` come from ImporterOptions."""

    @classmethod
    def _add_argparse_args(cls, parser):
        # Nothing is ``required=True``: Beam parses every options class for every pipeline in
        # the process, so a required flag here would break the other jobs. Checked in build_pipeline.
        parser.add_argument("--output", help="Export root (local or gs://): <root>/<app_id>/<day>/ (required).")
        parser.add_argument("--app_id", help="Export this app only. Default: every app of the app config.")
        # ``--all_apps`` alone, or ``--all_apps=true`` as a Flex Template passes it.
        parser.add_argument(
            "--all_apps",
            nargs="?",
            const="true",
            default="false",
            choices=("true", "false"),
            help="Export every app of the app config (also what no --app_id means). Default: false.",
        )
        # A string, parsed where the job is built: Beam serializes every option into the
        # pipeline proto, where only JSON values fit.
        parser.add_argument(
            "--export_date",
            type=_day_or_auto,
            default=AUTO,
            help="auto: every complete day of the look-back window not yet exported or changed since; or "
            "one UTC day, YYYY-MM-DD (exported even if not complete yet). Default: auto.",
        )
        parser.add_argument(
            "--lookback_days", type=int, default=DEFAULT_LOOKBACK_DAYS, help="Days --export_date=auto looks back."
        )
        parser.add_argument(
            "--ready_after",
            default=f"{DEFAULT_READY_AFTER // timedelta(hours=1)}h",
            help="A day is complete this long after it ends: the import's --max_event_age plus a safety lag.",
        )
        parser.add_argument("--now", default=None, help="The run's clock, ISO-8601 (tests). Default: now.")
        parser.add_argument(
            "--max_rows_per_file", type=int, default=MAX_ROWS_PER_FILE, help="Start a new file after this many rows."
        )


def export_apps(options: PipelineOptions) -> list[str]:
    opts = options.view_as(DailyExportOptions)
    if opts.app_id and opts.all_apps == "true":
        raise ValueError("daily export: --app_id and --all_apps exclude each other")
    if opts.app_id:
        return [opts.app_id]
    return [app.app_id for app in load_app_config(options.view_as(ImporterOptions).app_config).apps]


def export_day(options: PipelineOptions) -> date | None:
    """The one day to export, or None for ``--export_date=auto``."""
    value = options.view_as(DailyExportOptions).export_date
    return None if value == AUTO else date.fromisoformat(value)


def build_pipeline(pipeline: beam.Pipeline, options: PipelineOptions) -> None:
    opts = options.view_as(DailyExportOptions)
    if opts.output is None:
        raise ValueError("daily export needs --output")
    if opts.lookback_days < 1 or opts.max_rows_per_file < 1:
        raise ValueError("daily export: --lookback_days and --max_rows_per_file must be at least 1")
    ready_after = parse_duration(opts.ready_after) or timedelta(0)
    now = datetime.fromisoformat(opts.now).astimezone(UTC) if opts.now else None
    project, dataset = bq_project(options), options.view_as(ImporterOptions).dataset
    plan = PlanExports(
        project,
        dataset,
        EVENTS,
        opts.output,
        export_apps(options),
        export_day(options),
        ready_after,
        opts.lookback_days,
        now,
    )
    stage = StageDay(project, dataset, f"{project}.{dataset}.{EVENTS_DEDUP}", opts.max_rows_per_file)
    export = ExportShard(project, opts.output, opts.max_rows_per_file)
    (
        pipeline
        | "Run" >> beam.Create([uuid.uuid4().hex])
        | "PlanDays" >> beam.ParDo(plan)
        | "ExportDays" >> ExportDays(stage, export, opts.output)
    )


def run(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Run the export to completion; returns the manifests of the days it (re-)exported."""
    options = PipelineOptions(argv)
    started = datetime.now(UTC)
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, options)
    pipeline.run().wait_until_finish()
    return manifests_since(options.view_as(DailyExportOptions).output, export_apps(options), started)


def arg_parser() -> argparse.ArgumentParser:
    """The job's command line (``--help``)."""
    return job_parser("beam_jobs.daily_export", __doc__, DailyExportOptions, shared=SHARED_OPTIONS)


def main(argv: Sequence[str] | None = None) -> None:
    logging.getLogger().setLevel(logging.INFO)
    argv = parse_job_args(arg_parser(), argv)
    options = PipelineOptions(argv)
    if runs_on_dataflow(options):
        pipeline = beam.Pipeline(options=options)
        build_pipeline(pipeline, options)
        pipeline.run()  # each day's manifest, written last by the job, marks its completion
        print("submitted; a day's export is complete when <output>/<app_id>/<day>/manifest.json appears")
        return
    for written in run(argv):
        print(json.dumps({k: written[k] for k in ("app_id", "export_date", "complete", "row_counts")}))


if __name__ == "__main__":
    main()

"""Daily Export: one app's events of one UTC day as gzipped CSV files per topic.

    python -m beam_jobs.daily_export --project P --dataset segment_branch --app_id local-app \
        --export_date 2026-11-19 --output gs://bucket/exports/local-app/2026-11-19 \
        [--max_rows_per_file 200000] [--runner DataflowRunner ...]

Writes ``<output>/<topic>/<topic>-SSSSS-of-NNNNN.csv.gz`` (Branch export column names, a
header in every file, at most ``--max_rows_per_file`` rows each, no file for a topic without
events) and then ``<output>/manifest.json`` listing the files and row counts per topic. The
manifest is written last, so its presence means the export is complete. The stages are in
``transforms/exports.py``; the columns and the CSV form in ``domain/export_files.py``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from beam_jobs.options import ImporterOptions, bq_project, runs_on_dataflow
from domain.event_names import TOPICS
from domain.export_files import MAX_ROWS_PER_FILE
from schemas.tables import EVENTS_DEDUP
from transforms.exports import ExportTopic, QueryTopicDay, read_manifest, write_manifest


class DailyExportOptions(PipelineOptions):
    """The export's own options; ``--dataset`` and ``--bq_project`` come from ImporterOptions."""

    @classmethod
    def _add_argparse_args(cls, parser):
        # Not ``required=True``: Beam parses every options class for every pipeline in the
        # process, so a required flag here would break the other jobs. Checked in build_pipeline.
        parser.add_argument("--app_id", help="The app whose events are exported (required).")
        parser.add_argument("--export_date", type=date.fromisoformat, help="UTC day, YYYY-MM-DD (required).")
        parser.add_argument("--output", help="Directory (local or gs://) for the files and manifest (required).")
        parser.add_argument(
            "--max_rows_per_file", type=int, default=MAX_ROWS_PER_FILE, help="Start a new file after this many rows."
        )


def build_pipeline(pipeline: beam.Pipeline, options: PipelineOptions) -> None:
    opts = options.view_as(DailyExportOptions)
    missing = [flag for flag in ("app_id", "export_date", "output") if getattr(opts, flag) is None]
    if missing:
        raise ValueError(f"daily export needs --{', --'.join(missing)}")
    project, dataset = bq_project(options), options.view_as(ImporterOptions).dataset
    output = opts.output.rstrip("/")
    read = QueryTopicDay(project, f"{project}.{dataset}.{EVENTS_DEDUP}", opts.app_id, opts.export_date)
    (
        [pipeline | f"Export[{topic}]" >> ExportTopic(topic, read, output, opts.max_rows_per_file) for topic in TOPICS]
        | "AllEntries" >> beam.Flatten()
        | "Collect" >> beam.combiners.ToList()
        | "WriteManifest" >> beam.Map(write_manifest, output, opts.app_id, opts.export_date)
    )


def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the export to completion; returns its manifest."""
    options = PipelineOptions(argv)
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, options)
    pipeline.run().wait_until_finish()
    return read_manifest(options.view_as(DailyExportOptions).output)


def main(argv: Sequence[str] | None = None) -> None:
    logging.getLogger().setLevel(logging.INFO)
    argv = argv if argv is not None else sys.argv[1:]
    options = PipelineOptions(argv)
    if runs_on_dataflow(options):
        pipeline = beam.Pipeline(options=options)
        build_pipeline(pipeline, options)
        pipeline.run()  # the manifest, written last by the job, marks completion
        print("submitted; the export is complete when manifest.json appears in --output")
        return
    print(json.dumps(run(argv)["row_counts"]))


if __name__ == "__main__":
    main()

"""Daily Export: one app's events of one UTC day as gzipped CSV files per topic.

    python -m beam_jobs.daily_export --project P --dataset segment_branch --app_id local-app \
        --export_date 2026-11-19 --output gs://bucket/exports/local-app/2026-11-19 \
        [--max_rows_per_file 200000] [--runner DataflowRunner ...]

Writes ``<output>/<topic>/<topic>-SSSSS-of-NNNNN.csv.gz`` (Branch export column names, a
header in every file, at most ``--max_rows_per_file`` rows each, no file for a topic without
events) and then ``<output>/manifest.json`` listing the files and row counts per topic. The
manifest is written last, so its presence means the export is complete.

Reading: one parameterized query per topic on ``events_dedup`` (one row per event id),
issued from a DoFn through ``transforms.bq_client.make_client`` and read page by page.
Beam's ``ReadFromBigQuery`` would read in parallel on Dataflow (Storage Read API), but it
ignores the BigQuery emulator, so this job could not be tested locally with it. The
trade-off: each topic's rows stream through one worker thread (a day of one app is
millions of rows at most, which the paged reader handles in minutes); everything after
the read is redistributed (``Reshuffle``), so CSV encoding and the gzip writes run in
parallel. Files roll over at the row limit inside Beam's own file sink
(``max_records_per_shard``), which works on every runner and local or ``gs://`` paths.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import sys
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterator, Sequence

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions
from google.cloud import bigquery

from beam_jobs.options import ImporterOptions, bq_project, runs_on_dataflow
from schemas.tables import EVENTS, schema_fields
from serving.query_sql import DATA_SOURCES, EVENTS_DEDUP
from transforms.bq_client import make_client

MAX_ROWS_PER_FILE = 200_000
MANIFEST = "manifest.json"
QUERY_PAGE_SIZE = 10_000

# Branch's export columns: identity and time first, then every user_data_* and event_data_*
# column of the events table (so new ones flow into the export), then the JSON columns.
# Internal bookkeeping (app_id, topic, ingest times, Segment ids) stays out; the Segment
# anonymous id travels inside custom_data as the seed asks.
_SCHEMA_COLUMNS = [field["name"] for field in schema_fields(EVENTS)]
EXPORT_COLUMNS: tuple[str, ...] = (
    "id", "name", "timestamp", "timestamp_iso", "origin", "customer_event_alias",
    *(c for c in _SCHEMA_COLUMNS if c.startswith(("user_data_", "event_data_"))),
    "content_items", "custom_data",
)
_PLAIN_COLUMNS = [c for c in EXPORT_COLUMNS if c not in ("timestamp", "timestamp_iso", "content_items", "custom_data")]


class DailyExportOptions(PipelineOptions):
    """The export's own options; ``--dataset`` and ``--bq_project`` come from ImporterOptions."""

    @classmethod
    def _add_argparse_args(cls, parser):
        # Not ``required=True``: Beam parses every options class for every pipeline in the
        # process, so a required flag here would break the other jobs. Checked in build_pipeline.
        parser.add_argument("--app_id", help="The app whose events are exported (required).")
        parser.add_argument("--export_date", type=date.fromisoformat, help="UTC day, YYYY-MM-DD (required).")
        parser.add_argument("--output", help="Directory (local or gs://) for the files and manifest (required).")
        parser.add_argument("--max_rows_per_file", type=int, default=MAX_ROWS_PER_FILE,
                            help="Start a new file after this many rows.")


def export_sql(view: str) -> str:
    """One topic's rows of one app and day; JSON columns as JSON text (same in BigQuery and the emulator)."""
    plain = ", ".join(_PLAIN_COLUMNS)
    return (f"SELECT {plain}, `timestamp`, segment_anonymous_id, "
            f"TO_JSON_STRING(content_items) AS content_items, TO_JSON_STRING(custom_data) AS custom_data "
            f"FROM `{view}` WHERE app_id = @app_id AND topic = @topic "
            f"AND `timestamp` >= @day_start AND `timestamp` < @day_end")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):  # the emulator pads NUMERIC to 9 decimals; BigQuery does not
        return format(value.normalize(), "f")
    return str(value)


def csv_line(row: dict[str, Any]) -> str:
    """One events_dedup row (as :func:`export_sql` selects it) as a CSV line in EXPORT_COLUMNS order."""
    moment: datetime = row["timestamp"]
    custom_data = json.loads(row["custom_data"]) if row["custom_data"] else {}
    if row["segment_anonymous_id"] is not None:
        custom_data = {**(custom_data or {}), "segment_anonymous_id": row["segment_anonymous_id"]}
    values = {
        **{c: _cell(row[c]) for c in _PLAIN_COLUMNS},
        "timestamp": str(int(moment.timestamp() * 1000)),
        "timestamp_iso": moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "content_items": row["content_items"] or "[]",
        "custom_data": json.dumps(custom_data, separators=(",", ":"), ensure_ascii=False) if custom_data else "",
    }
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([values[c] for c in EXPORT_COLUMNS])
    return out.getvalue()


class QueryTopicDay(beam.DoFn):
    """topic -> CSV lines of that topic's events for one app and day (paged query)."""

    def __init__(self, project: str, view: str, app_id: str, day: date) -> None:
        self.project, self.view, self.app_id, self.day = project, view, app_id, day

    def setup(self) -> None:
        self.client = make_client(self.project)

    def process(self, topic: str) -> Iterator[str]:
        start = datetime.combine(self.day, time(), tzinfo=timezone.utc)
        config = bigquery.QueryJobConfig(query_parameters=[
            bigquery.ScalarQueryParameter("app_id", "STRING", self.app_id),
            bigquery.ScalarQueryParameter("topic", "STRING", topic),
            bigquery.ScalarQueryParameter("day_start", "TIMESTAMP", start),
            bigquery.ScalarQueryParameter("day_end", "TIMESTAMP", start + timedelta(days=1)),
        ])
        for row in self.client.query(export_sql(self.view), job_config=config).result(page_size=QUERY_PAGE_SIZE):
            yield csv_line(dict(row))


class ExportTopic(beam.PTransform):
    """One topic's CSV files; outputs manifest entries ("file", topic, path) and ("rows", topic, n)."""

    def __init__(self, topic: str, read: QueryTopicDay, output: str, max_rows_per_file: int) -> None:
        super().__init__()
        self.topic, self.read, self.output, self.max_rows_per_file = topic, read, output, max_rows_per_file

    def expand(self, pbegin):
        lines = (
            pbegin
            | "Topic" >> beam.Create([self.topic])
            | "QueryDay" >> beam.ParDo(self.read)
            | "Redistribute" >> beam.Reshuffle()
        )
        files = lines | "WriteCsvGz" >> beam.io.WriteToText(
            f"{self.output}/{self.topic}/{self.topic}", file_name_suffix=".csv.gz",
            compression_type=CompressionTypes.GZIP, header=",".join(EXPORT_COLUMNS),
            max_records_per_shard=self.max_rows_per_file, skip_if_empty=True)
        topic = self.topic
        return (
            (files | "FileEntry" >> beam.Map(lambda path: ("file", topic, path)),
             lines | "CountRows" >> beam.combiners.Count.Globally()
             | "RowsEntry" >> beam.Map(lambda n: ("rows", topic, n)))
            | "Entries" >> beam.Flatten()
        )


def write_manifest(entries: list[tuple[str, str, Any]], output: str, app_id: str, day: date) -> None:
    """``manifest.json``: files (relative to ``output``) and row counts per topic."""
    prefix = output.rstrip("/") + "/"
    manifest = {
        "app_id": app_id,
        "export_date": day.isoformat(),
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "files": {t: sorted(p.removeprefix(prefix) for kind, topic, p in entries if kind == "file" and topic == t)
                  for t in DATA_SOURCES},
        "row_counts": {t: sum(n for kind, topic, n in entries if kind == "rows" and topic == t) for t in DATA_SOURCES},
    }
    with FileSystems.create(prefix + MANIFEST, mime_type="application/json") as handle:
        handle.write(json.dumps(manifest, indent=1).encode())


def build_pipeline(pipeline: beam.Pipeline, options: PipelineOptions) -> None:
    opts = options.view_as(DailyExportOptions)
    missing = [flag for flag in ("app_id", "export_date", "output") if getattr(opts, flag) is None]
    if missing:
        raise ValueError(f"daily export needs --{', --'.join(missing)}")
    project, dataset = bq_project(options), options.view_as(ImporterOptions).dataset
    output = opts.output.rstrip("/")
    read = QueryTopicDay(project, f"{project}.{dataset}.{EVENTS_DEDUP}", opts.app_id, opts.export_date)
    (
        [pipeline | f"Export[{topic}]" >> ExportTopic(topic, read, output, opts.max_rows_per_file)
         for topic in DATA_SOURCES]
        | "AllEntries" >> beam.Flatten()
        | "Collect" >> beam.combiners.ToList()
        | "WriteManifest" >> beam.Map(write_manifest, output, opts.app_id, opts.export_date)
    )


def read_manifest(output: str) -> dict[str, Any]:
    with FileSystems.open(f"{output.rstrip('/')}/{MANIFEST}") as handle:
        return json.loads(handle.read())


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

"""The Daily Export's Beam stages: one topic's events of one app and day -> gzipped CSV files.

Reading: one parameterized query per topic on ``events_dedup`` (one row per event id),
issued from a DoFn and read page by page. Beam's ``ReadFromBigQuery`` would read in
parallel on Dataflow (Storage Read API), but it ignores the BigQuery emulator, so the job
could not be tested locally with it. The trade-off: each topic's rows stream through one
worker thread (a day of one app is millions of rows at most, which the paged reader
handles in minutes); everything after the read is redistributed (``Reshuffle``), so CSV
encoding and the gzip writes run in parallel. Files roll over at the row limit inside
Beam's own file sink (``max_records_per_shard``), on every runner and local or ``gs://``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from google.cloud import bigquery

from adapters.bigquery import make_client
from domain.export_files import EXPORT_COLUMNS, MANIFEST, PLAIN_COLUMNS, csv_line, manifest

QUERY_PAGE_SIZE = 10_000


def export_sql(view: str) -> str:
    """One topic's rows of one app and day; JSON columns as JSON text (same in BigQuery and the emulator)."""
    plain = ", ".join(PLAIN_COLUMNS)
    return (
        f"SELECT {plain}, `timestamp`, segment_anonymous_id, "
        f"TO_JSON_STRING(content_items) AS content_items, TO_JSON_STRING(custom_data) AS custom_data "
        f"FROM `{view}` WHERE app_id = @app_id AND topic = @topic "
        f"AND `timestamp` >= @day_start AND `timestamp` < @day_end"
    )


class QueryTopicDay(beam.DoFn):
    """topic -> CSV lines of that topic's events for one app and day (paged query)."""

    def __init__(self, project: str, view: str, app_id: str, day: date) -> None:
        self.project, self.view, self.app_id, self.day = project, view, app_id, day

    def setup(self) -> None:
        self.client = make_client(self.project)

    def process(self, topic: str) -> Iterator[str]:
        start = datetime.combine(self.day, time(), tzinfo=UTC)
        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter("app_id", "STRING", self.app_id),
                bigquery.ScalarQueryParameter("topic", "STRING", topic),
                bigquery.ScalarQueryParameter("day_start", "TIMESTAMP", start),
                bigquery.ScalarQueryParameter("day_end", "TIMESTAMP", start + timedelta(days=1)),
            ]
        )
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
            f"{self.output}/{self.topic}/{self.topic}",
            file_name_suffix=".csv.gz",
            compression_type=CompressionTypes.GZIP,
            header=",".join(EXPORT_COLUMNS),
            max_records_per_shard=self.max_rows_per_file,
            skip_if_empty=True,
        )
        topic = self.topic
        return (
            files | "FileEntry" >> beam.Map(lambda path: ("file", topic, path)),
            lines
            | "CountRows" >> beam.combiners.Count.Globally()
            | "RowsEntry" >> beam.Map(lambda n: ("rows", topic, n)),
        ) | "Entries" >> beam.Flatten()


def write_manifest(entries: list[tuple[str, str, Any]], output: str, app_id: str, day: date) -> None:
    """``manifest.json``, written last: its presence means the export is complete."""
    with FileSystems.create(f"{output.rstrip('/')}/{MANIFEST}", mime_type="application/json") as handle:
        handle.write(json.dumps(manifest(entries, output, app_id, day.isoformat()), indent=1).encode())


def read_manifest(output: str) -> dict[str, Any]:
    with FileSystems.open(f"{output.rstrip('/')}/{MANIFEST}") as handle:
        return json.loads(handle.read())

"""The Daily Export's Beam stages: plan the app-days to export, read each one, write its files,
then its manifest.

Planning runs inside the pipeline (not when the graph is built), so a Flex Template launch
needs no BigQuery access and ``--export_date=auto`` decides on the clock of the run itself.

Reading: one parameterized query per app and day on ``events_dedup`` (one row per event id,
every topic at once: the day's partition is scanned once, not once per topic), issued from a
DoFn and read page by page. Beam's ``ReadFromBigQuery`` would read in parallel on Dataflow
(Storage Read API), but it ignores the BigQuery emulator, so the job could not be tested
locally with it. Rows are numbered per topic as they are read, so each file's key
``(app, day, token, topic, n)`` is known before the shuffle and the files (``<= max rows``
each) are gzipped in parallel, on every runner, local or ``gs://``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from google.cloud import bigquery

from adapters.bigquery import make_client
from domain.export_files import (
    JSON_COLUMNS,
    MANIFEST,
    VIEW_COLUMNS,
    DayExport,
    DaySnapshot,
    complete_days,
    csv_line,
    export_token,
    file_name,
    header_line,
    is_complete,
    manifest,
    needs_export,
)

QUERY_PAGE_SIZE = 10_000
OCTET_STREAM = "application/octet-stream"
FileKey = tuple[str, str, str, str, int]  # app_id, day, token, topic, n


def day_dir(root: str, app_id: str, day: date) -> str:
    """Where one app's day lives: ``<root>/<app_id>/<YYYY-MM-DD>/`` (files and manifest)."""
    return f"{root.rstrip('/')}/{app_id}/{day.isoformat()}"


def export_sql(view: str) -> str:
    """One app's events of one day, every topic; JSON columns as JSON text (same in BigQuery and the emulator)."""
    plain = ", ".join(f"`{c}`" for c in VIEW_COLUMNS)
    json_text = ", ".join(f"TO_JSON_STRING({c}) AS {c}" for c in JSON_COLUMNS)
    return (
        f"SELECT topic, {plain}, {json_text} FROM `{view}` "
        f"WHERE app_id = @app_id AND `timestamp` >= @day_start AND `timestamp` < @day_end"
    )


def snapshot_sql(table: str) -> str:
    """Rows and latest ingestion per app and day of the raw events table: one cheap query for
    every app over the look-back window (duplicates count too: any late write is a change)."""
    return (
        f"SELECT app_id, DATE(`timestamp`) AS day, COUNT(*) AS n, MAX(ingested_at) AS max_ingested_at "
        f"FROM `{table}` WHERE app_id IN UNNEST(@apps) AND `timestamp` >= @start AND `timestamp` < @end "
        f"GROUP BY app_id, day"
    )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def day_snapshots(
    client: bigquery.Client, table: str, app_ids: Sequence[str], days: Sequence[date]
) -> dict[tuple[str, date], DaySnapshot]:
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ArrayQueryParameter("apps", "STRING", list(app_ids)),
            bigquery.ScalarQueryParameter("start", "TIMESTAMP", _day_start(min(days))),
            bigquery.ScalarQueryParameter("end", "TIMESTAMP", _day_start(max(days) + timedelta(days=1))),
        ]
    )
    found = {
        (row["app_id"], row["day"]): DaySnapshot(row["n"], row["max_ingested_at"].astimezone(UTC).isoformat())
        for row in client.query(snapshot_sql(table), job_config=config).result()
    }
    return {(app, day): found.get((app, day), DaySnapshot()) for app in app_ids for day in days}


def read_manifest(directory: str) -> dict[str, Any] | None:
    """The manifest of an app's day, None when that day was never exported."""
    path = f"{directory.rstrip('/')}/{MANIFEST}"
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as handle:
        return json.loads(handle.read())


def manifests_since(root: str, app_ids: Sequence[str], since: datetime) -> list[dict[str, Any]]:
    """The manifests of these apps written at or after ``since`` (what one run exported)."""
    found = FileSystems.match([f"{root.rstrip('/')}/{app}/*/{MANIFEST}" for app in app_ids])
    paths = sorted(m.path for result in found for m in result.metadata_list)
    manifests = [read_manifest(path.rsplit("/", 1)[0]) for path in paths]
    return [m for m in manifests if m and datetime.fromisoformat(m["generated_at"]) >= since]


class PlanExports(beam.DoFn):
    """The run's app-days: the given day for every app (``--export_date=D``), or with
    ``--export_date=auto`` every complete day of the look-back window that was never exported
    or whose events changed since (rules §10)."""

    def __init__(
        self,
        project: str,
        table: str,
        root: str,
        app_ids: Sequence[str],
        export_date: date | None,
        ready_after: timedelta,
        lookback_days: int,
        now: datetime | None,
    ) -> None:
        self.project, self.table, self.root, self.app_ids = project, table, root, tuple(app_ids)
        self.export_date, self.ready_after, self.lookback_days, self.now = export_date, ready_after, lookback_days, now
        self.skipped = Metrics.counter("daily_export", "days_up_to_date")

    def process(self, run_id: str) -> Iterator[DayExport]:
        now = self.now or datetime.now(UTC)
        days = [self.export_date] if self.export_date else complete_days(now, self.ready_after, self.lookback_days)
        snapshots = day_snapshots(make_client(self.project), self.table, self.app_ids, days)
        for (app_id, day), snapshot in sorted(snapshots.items()):
            if self.export_date is None and not needs_export(read_manifest(day_dir(self.root, app_id, day)), snapshot):
                self.skipped.inc()
                continue
            complete = is_complete(day, now, self.ready_after)
            yield DayExport(app_id, day, export_token(app_id, day, run_id), snapshot, complete)


class QueryDay(beam.DoFn):
    """An app's day -> (file key, CSV line) for each of its events; row i of a topic goes to file
    ``i // max_rows_per_file``."""

    def __init__(self, project: str, view: str, max_rows_per_file: int) -> None:
        self.project, self.view, self.max_rows_per_file = project, view, max_rows_per_file
        self.rows = Metrics.counter("daily_export", "rows")

    def setup(self) -> None:
        self.client = make_client(self.project)

    def process(self, plan: DayExport) -> Iterator[tuple[FileKey, str]]:
        if plan.snapshot.rows == 0:  # nothing stored for the day: no query to pay for
            return
        start = _day_start(plan.day)
        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter("app_id", "STRING", plan.app_id),
                bigquery.ScalarQueryParameter("day_start", "TIMESTAMP", start),
                bigquery.ScalarQueryParameter("day_end", "TIMESTAMP", start + timedelta(days=1)),
            ]
        )
        per_topic: Counter[str] = Counter()
        day = plan.day.isoformat()
        for row in self.client.query(export_sql(self.view), job_config=config).result(page_size=QUERY_PAGE_SIZE):
            topic = row["topic"]
            n = per_topic[topic] // self.max_rows_per_file
            per_topic[topic] += 1
            self.rows.inc()
            yield (plan.app_id, day, plan.token, topic, n), csv_line(dict(row))


class WriteCsvGz(beam.DoFn):
    """(file key, lines) -> one gzipped CSV file, header first; outputs ((app, day), (topic, name, rows))."""

    def __init__(self, root: str) -> None:
        self.root = root

    def process(self, element: tuple[FileKey, Iterable[str]]) -> Iterator[tuple[tuple[str, str], tuple[str, str, int]]]:
        (app_id, day, token, topic, n), lines = element
        name = file_name(app_id, date.fromisoformat(day), topic, token, n)
        path = f"{day_dir(self.root, app_id, date.fromisoformat(day))}/{name}"
        rows = 0
        # GZIP, not AUTO from the name: Beam's compressor writes the single gzip layer readers expect.
        with FileSystems.create(path, mime_type=OCTET_STREAM, compression_type=CompressionTypes.GZIP) as out:
            out.write(header_line().encode() + b"\n")
            for line in lines:
                out.write(line.encode() + b"\n")
                rows += 1
        yield (app_id, day), (topic, name, rows)


class WriteManifest(beam.DoFn):
    """((app, day), {"plan": [plan], "files": [...]}) -> the day's manifest.json, after its files."""

    def __init__(self, root: str) -> None:
        self.root = root

    def process(self, element: tuple[tuple[str, str], dict[str, list[Any]]]) -> Iterator[dict[str, Any]]:
        _, grouped = element
        [plan] = grouped["plan"]
        content = manifest(plan, grouped["files"], datetime.now(UTC))
        path = f"{day_dir(self.root, plan.app_id, plan.day)}/{MANIFEST}"
        with FileSystems.create(path, mime_type="application/json") as handle:
            handle.write(json.dumps(content, indent=1).encode())
        yield content


class ExportDays(beam.PTransform):
    """Planned app-days -> their files and manifests; outputs each manifest written."""

    def __init__(self, read: QueryDay, root: str) -> None:
        super().__init__()
        self.read, self.root = read, root

    def expand(self, plans):
        files = (
            plans
            | "Spread" >> beam.Reshuffle()
            | "QueryDay" >> beam.ParDo(self.read)
            | "GroupFiles" >> beam.GroupByKey()
            | "WriteCsvGz" >> beam.ParDo(WriteCsvGz(self.root))
        )
        keyed_plans = plans | "KeyPlans" >> beam.Map(lambda plan: ((plan.app_id, plan.day.isoformat()), plan))
        return (
            {"plan": keyed_plans, "files": files}
            | "FilesPerDay" >> beam.CoGroupByKey()
            | "WriteManifest" >> beam.ParDo(WriteManifest(self.root))
        )

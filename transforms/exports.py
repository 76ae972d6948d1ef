"""The Daily Export's Beam stages: plan the app-days to export, read each one in hash shards,
each shard's files written by the worker that read it, then the day's manifest.

Planning runs inside the pipeline (not when the graph is built), so a Flex Template launch
needs no BigQuery access and ``--export_date=auto`` decides on the clock of the run itself.
It reads partition metadata (``INFORMATION_SCHEMA.PARTITIONS``): only a day whose partition
changed since an app's export is counted per app (one partition, three columns).

Reading: an app-day is staged once (its ``events_dedup`` rows in a table clustered by their
hash shard of the event id, ``MOD(ABS(FARM_FINGERPRINT(id)), K)``, ``K`` from the day's row
count so that a shard is about three quarters of a file: ``adapters.export_store``), then read
as ``K`` shards, one parameterized query per shard issued from a DoFn (its own clustered
blocks) and read page by page in event-id order per topic. The shards are spread over the
workers; each formats its rows and writes its own gzipped files (``<= max rows`` each), so no
row crosses a shuffle and a file's rows are a function of the event ids (a re-export of an
unchanged day writes the same rows in the same files). The staged table is dropped once the
day's manifest is written. Beam's ``ReadFromBigQuery`` would read in parallel on
Dataflow (Storage Read API), but it ignores the BigQuery emulator, so the job could not be
tested locally with it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from adapters.bigquery import make_client
from adapters.export_store import (
    day_dir,
    day_snapshots,
    drop_table,
    materialize_day,
    partition_snapshots,
    read_manifest,
    read_shard,
    write_manifest,
)
from domain.export_files import (
    MANIFEST,
    DayExport,
    complete_days,
    export_line,
    export_shards,
    export_token,
    file_name,
    header_line,
    is_complete,
    manifest,
    needs_export,
    partition_unchanged,
)

OCTET_STREAM = "application/octet-stream"
FileKey = tuple[str, str, str, str, int]  # app_id, day, token, topic, n


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


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
        dataset: str,
        table: str,
        root: str,
        app_ids: Sequence[str],
        export_date: date | None,
        ready_after: timedelta,
        lookback_days: int,
        now: datetime | None,
    ) -> None:
        self.project, self.dataset, self.table, self.root = project, dataset, table, root
        self.app_ids = tuple(app_ids)
        self.export_date, self.ready_after, self.lookback_days, self.now = export_date, ready_after, lookback_days, now
        self.skipped = Metrics.counter("daily_export", "days_up_to_date")
        self.counted = Metrics.counter("daily_export", "days_counted")

    def process(self, run_id: str) -> Iterator[DayExport]:
        now = self.now or datetime.now(UTC)
        days = [self.export_date] if self.export_date else complete_days(now, self.ready_after, self.lookback_days)
        client = make_client(self.project)
        partitions = partition_snapshots(client, self.dataset, self.table, days)
        for day in days:
            existing = {app_id: read_manifest(day_dir(self.root, app_id, day)) for app_id in self.app_ids}
            apps = [
                app_id
                for app_id in self.app_ids
                if self.export_date is not None or not partition_unchanged(existing[app_id], partitions[day])
            ]
            self.skipped.inc(len(self.app_ids) - len(apps))
            if not apps:  # (no row of the day read: its partition is as it was at every app's export)
                continue
            self.counted.inc()
            snapshots = day_snapshots(client, f"{self.project}.{self.dataset}.{self.table}", apps, day)
            for app_id in apps:
                snapshot = snapshots[app_id]
                if self.export_date is None and not needs_export(existing[app_id], snapshot):
                    self.skipped.inc()
                    continue
                complete = is_complete(day, now, self.ready_after)
                yield DayExport(app_id, day, export_token(app_id, day, run_id), snapshot, complete, partitions[day])


class DayShard(NamedTuple):
    """One hash shard of an app-day's export: read, formatted and written by one worker, from
    the day's rows staged in ``table``."""

    plan: DayExport
    table: str
    shard: int
    shards: int


def staging_table(project: str, dataset: str, plan: DayExport) -> str:
    """Where an app-day's rows wait for its shards (dropped once its manifest is written)."""
    return f"{project}.{dataset}.export_staging_{plan.token}"


class StageDay(beam.DoFn):
    """An app-day -> its rows staged in one query, then its shards (as many as its rows need,
    :func:`domain.export_files.export_shards`; none for a day with no rows)."""

    def __init__(self, project: str, dataset: str, view: str, max_rows_per_file: int) -> None:
        self.project, self.dataset, self.view, self.max_rows_per_file = project, dataset, view, max_rows_per_file

    def setup(self) -> None:
        self.client = make_client(self.project)

    def process(self, plan: DayExport) -> Iterator[DayShard]:
        if plan.snapshot.rows == 0:  # nothing stored for the day: no query to pay for
            return
        table = staging_table(self.project, self.dataset, plan)
        shards = export_shards(plan.snapshot.rows, self.max_rows_per_file)
        materialize_day(self.client, self.view, table, plan.app_id, plan.day, shards)
        for shard in range(shards):
            yield DayShard(plan, table, shard, shards)


ExportedFile = tuple[tuple[str, str], tuple[str, str, int]]  # ((app, day), (topic, name, rows))


class ExportShard(beam.DoFn):
    """One shard of an app-day -> its files: the rows of each topic, by event id, in files of
    at most ``max_rows_per_file`` rows (file ``shard + shards * part``); outputs each file."""

    def __init__(self, project: str, root: str, max_rows_per_file: int) -> None:
        self.project, self.root, self.max_rows_per_file = project, root, max_rows_per_file
        self.rows = Metrics.counter("daily_export", "rows")

    def setup(self) -> None:
        self.client = make_client(self.project)

    def process(self, work: DayShard) -> Iterator[ExportedFile]:
        writer: _FileWriter | None = None
        for row in read_shard(self.client, work.table, work.shard):
            topic = row["topic"]
            if writer is None or writer.topic != topic or writer.rows >= self.max_rows_per_file:
                part = writer.part + 1 if writer is not None and writer.topic == topic else 0
                if writer is not None:
                    yield writer.close()
                writer = _FileWriter(self.root, work.plan, topic, work.shard + work.shards * part, part)
            writer.write(row)
        if writer is not None:
            self.rows.inc(writer.rows)
            yield writer.close()


class _FileWriter:
    """One gzipped CSV file being written, header first."""

    def __init__(self, root: str, plan: DayExport, topic: str, n: int, part: int) -> None:
        self.plan, self.topic, self.part, self.rows = plan, topic, part, 0
        self.name = file_name(plan.app_id, plan.day, topic, plan.token, n)
        # GZIP, not AUTO from the name: Beam's compressor writes the single gzip layer readers expect.
        self._out = FileSystems.create(
            f"{day_dir(root, plan.app_id, plan.day)}/{self.name}",
            mime_type=OCTET_STREAM,
            compression_type=CompressionTypes.GZIP,
        )
        self._text = io.StringIO()  # (lines encoded and written many at a time)
        self._text.write(header_line() + "\n")

    def write(self, row: Any) -> None:
        self._text.write(export_line(row))
        self.rows += 1
        if self.rows % _LINES_PER_WRITE == 0:
            self._flush()

    def _flush(self) -> None:
        self._out.write(self._text.getvalue().encode())
        self._text.seek(0)
        self._text.truncate()

    def close(self) -> ExportedFile:
        self._flush()
        self._out.close()
        return (self.plan.app_id, self.plan.day.isoformat()), (self.topic, self.name, self.rows)


_LINES_PER_WRITE = 1_000


class WriteManifest(beam.DoFn):
    """((app, day), {"plan": [plan], "files": [...]}) -> the day's manifest.json, after its files."""

    def __init__(self, root: str, project: str, dataset: str) -> None:
        self.root, self.project, self.dataset = root, project, dataset

    def setup(self) -> None:
        self.client = make_client(self.project)

    def process(self, element: tuple[tuple[str, str], dict[str, list[Any]]]) -> Iterator[dict[str, Any]]:
        _, grouped = element
        [plan] = grouped["plan"]
        content = manifest(plan, grouped["files"], datetime.now(UTC))
        write_manifest(day_dir(self.root, plan.app_id, plan.day), content)
        drop_table(self.client, staging_table(self.project, self.dataset, plan))
        yield content


class ExportDays(beam.PTransform):
    """Planned app-days -> their files and manifests; outputs each manifest written. Each
    app-day is staged once, then read in shards spread over the workers."""

    def __init__(self, stage: StageDay, export: ExportShard, root: str) -> None:
        super().__init__()
        self.stage, self.export, self.root = stage, export, root

    def expand(self, plans):
        files = (
            plans
            | "SpreadDays" >> beam.Reshuffle()
            | "StageDay" >> beam.ParDo(self.stage)
            | "SpreadShards" >> beam.Reshuffle()
            | "ExportShard" >> beam.ParDo(self.export)
        )
        keyed_plans = plans | "KeyPlans" >> beam.Map(lambda plan: ((plan.app_id, plan.day.isoformat()), plan))
        return (
            {"plan": keyed_plans, "files": files}
            | "FilesPerDay" >> beam.CoGroupByKey()
            | "WriteManifest" >> beam.ParDo(WriteManifest(self.root, self.stage.project, self.stage.dataset))
        )

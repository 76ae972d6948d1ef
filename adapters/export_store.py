"""The Daily Export's store outside Beam: where an app's day lives, its manifest read and written
(a local directory or ``gs://``), and what BigQuery says changed.

The Export API reads manifests through this module (no Beam in the service); the job writes
them through it too, so both agree on the paths and the format.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from google.cloud import bigquery

from domain.export_files import JSON_COLUMNS, MANIFEST, VIEW_COLUMNS, DaySnapshot, PartitionSnapshot


def day_dir(root: str, app_id: str, day: date) -> str:
    """Where one app's day lives: ``<root>/<app_id>/<YYYY-MM-DD>/`` (files and manifest)."""
    return f"{root.rstrip('/')}/{app_id}/{day.isoformat()}"


def _blob(path: str):
    from google.cloud import storage  # (here: a local export root needs no Cloud Storage client)

    bucket, _, name = path.removeprefix("gs://").partition("/")
    return storage.Client().bucket(bucket).blob(name)


def read_manifest(directory: str) -> dict[str, Any] | None:
    """The manifest of an app's day, None when that day was never exported."""
    path = f"{directory.rstrip('/')}/{MANIFEST}"
    if path.startswith("gs://"):
        blob = _blob(path)
        return json.loads(blob.download_as_bytes()) if blob.exists() else None
    local = Path(path)
    return json.loads(local.read_bytes()) if local.is_file() else None


def write_manifest(directory: str, content: dict[str, Any]) -> None:
    """Write an app's day's manifest (last: its presence means the day's files are all there)."""
    path = f"{directory.rstrip('/')}/{MANIFEST}"
    data = json.dumps(content, indent=1).encode()
    if path.startswith("gs://"):
        _blob(path).upload_from_string(data, content_type="application/json")
        return
    local = Path(path)
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.with_name(f".{MANIFEST}.partial")
    partial.write_bytes(data)
    partial.replace(local)  # (atomic: a reader sees the old manifest or the new one)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def partition_snapshots(
    client: bigquery.Client, dataset: str, table: str, days: Sequence[date]
) -> dict[date, PartitionSnapshot]:
    """Rows and last change of each day's partition of ``table`` (``INFORMATION_SCHEMA.PARTITIONS``:
    metadata, no table scan); a day without a partition is an empty snapshot."""
    sql = (
        f"SELECT partition_id, total_rows, last_modified_time FROM `{client.project}.{dataset}.INFORMATION_SCHEMA.PARTITIONS` "
        "WHERE table_name = @table AND partition_id IN UNNEST(@ids)"
    )
    ids = {day.strftime("%Y%m%d"): day for day in days}
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("table", "STRING", table),
            bigquery.ArrayQueryParameter("ids", "STRING", sorted(ids)),
        ]
    )
    found = {
        ids[row["partition_id"]]: PartitionSnapshot(
            int(row["total_rows"] or 0), row["last_modified_time"].astimezone(UTC).isoformat()
        )
        for row in client.query(sql, job_config=config).result()
    }
    return {day: found.get(day, PartitionSnapshot()) for day in days}


def day_snapshot_sql(table: str) -> str:
    return (
        f"SELECT app_id, COUNT(*) AS n, MAX(ingested_at) AS max_ingested_at FROM `{table}` "
        "WHERE app_id IN UNNEST(@apps) AND `timestamp` >= @start AND `timestamp` < @end GROUP BY app_id"
    )


def day_snapshots(client: bigquery.Client, table: str, app_ids: Sequence[str], day: date) -> dict[str, DaySnapshot]:
    """Rows and latest ingestion per app of one day of the raw events table (one partition;
    duplicates count too: any late write is a change)."""
    sql = day_snapshot_sql(table)
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ArrayQueryParameter("apps", "STRING", list(app_ids)),
            bigquery.ScalarQueryParameter("start", "TIMESTAMP", _day_start(day)),
            bigquery.ScalarQueryParameter("end", "TIMESTAMP", _day_start(day + timedelta(days=1))),
        ]
    )
    found = {
        row["app_id"]: DaySnapshot(row["n"], row["max_ingested_at"].astimezone(UTC).isoformat())
        for row in client.query(sql, job_config=config).result()
    }
    return {app: found.get(app, DaySnapshot()) for app in app_ids}


# --------------------------------------------------------------------------- an app-day's rows

PAGE_SIZE = 10_000


def export_sql(view: str) -> str:
    """One app's events of one day, every topic; JSON columns as JSON text (same in BigQuery and
    the emulator)."""
    plain = ", ".join(f"`{c}`" for c in VIEW_COLUMNS)
    json_text = ", ".join(f"TO_JSON_STRING({c}) AS {c}" for c in JSON_COLUMNS)
    return (
        f"SELECT topic, {plain}, {json_text} FROM `{view}` "
        f"WHERE app_id = @app_id AND `timestamp` >= @day_start AND `timestamp` < @day_end"
    )


def materialize_day(client: bigquery.Client, view: str, destination: str, app_id: str, day: date, shards: int) -> None:
    """An app-day's export rows, as the view gives them, into the table ``destination``,
    clustered by their hash shard of the event id (``MOD(ABS(FARM_FINGERPRINT(id)), shards)``,
    column ``shard``), so that each shard's read scans its own blocks. Two queries: the
    emulator cannot hash the id next to the view's record columns, so the rows are staged
    first (``<destination>_rows``, dropped after)."""
    start = _day_start(day)
    rows = f"{destination}_rows"
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("app_id", "STRING", app_id),
            bigquery.ScalarQueryParameter("day_start", "TIMESTAMP", start),
            bigquery.ScalarQueryParameter("day_end", "TIMESTAMP", start + timedelta(days=1)),
        ],
    )
    client.query(f"CREATE OR REPLACE TABLE `{rows}` AS {export_sql(view)}", job_config=config).result()
    sharded = (
        f"CREATE OR REPLACE TABLE `{destination}` CLUSTER BY shard AS "
        f"SELECT *, MOD(ABS(FARM_FINGERPRINT(id)), @shards) AS shard FROM `{rows}`"
    )
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("shards", "INT64", shards)])
    client.query(sharded, job_config=config).result()
    drop_table(client, rows)


def read_shard(client: bigquery.Client, table: str, shard: int) -> Iterator[Any]:
    """The rows of ``table`` (:func:`materialize_day`'s) of one shard, by topic and event id,
    page by page."""
    sql = f"SELECT * EXCEPT(shard) FROM `{table}` WHERE shard = @shard ORDER BY topic, id"
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("shard", "INT64", shard)])
    return iter(client.query(sql, job_config=config).result(page_size=PAGE_SIZE))


def drop_table(client: bigquery.Client, table: str) -> None:
    client.delete_table(table, not_found_ok=True)

"""The ``touches`` table read back (rules §9): the touches the jobs' attribution starts from.

A touch is in ``touches`` because a job saw it in the stream or an archive, or because
``load_touches`` read it from Branch's export files; a link (``source = 'link'``) because a
streaming job's conversion taught it. The jobs read back those a conversion of theirs could
still use, so that touches loaded from Branch's files, and stream touches and links from before
a restart, attribute later conversions.

The read is split so that it runs in parallel and no worker holds more than a split: per app
and day of the range (the table is partitioned by day), and within a day into ``shards`` by
a hash of the touch id, as many as the day's rows need for about ``ROWS_PER_SPLIT`` each
(:func:`plan_splits`, one small count query; :func:`read_split`, one query per split, read page
by page). The same SQL runs on BigQuery and the emulator. Rows come back in the jobs' own row
shape (timestamps as BigQuery text); a touch written twice comes back twice (its keyed state
holds it once).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any, NamedTuple

from google.cloud import bigquery

from domain.timestamps import to_bq_timestamp
from schemas.tables import TOUCHES

PAGE_SIZE = 10_000
ROWS_PER_SPLIT = 200_000


class Split(NamedTuple):
    """One query's share of the read: an app's touches in ``[since, until]`` whose id hashes to
    ``shard`` of ``shards``."""

    app_id: str
    since: datetime
    until: datetime
    shard: int
    shards: int


def _parameters(app_id: str, since: datetime, until: datetime, links: bool) -> list[Any]:
    return [
        bigquery.ScalarQueryParameter("app_id", "STRING", app_id),
        bigquery.ScalarQueryParameter("since", "TIMESTAMP", since),
        bigquery.ScalarQueryParameter("until", "TIMESTAMP", until),
        bigquery.ScalarQueryParameter("links", "BOOL", links),
    ]


_RANGE = (
    "app_id = @app_id AND timestamp >= @since AND timestamp <= @until AND (@links OR source IS DISTINCT FROM 'link')"
)


def plan_splits(
    client: bigquery.Client,
    dataset: str,
    app_id: str,
    since: datetime,
    until: datetime,
    *,
    links: bool,
    rows_per_split: int = ROWS_PER_SPLIT,
) -> list[Split]:
    """The splits of ``app_id``'s touches (and links, with ``links``) in ``[since, until]``: per
    day that has any, ``ceil(rows / rows_per_split)`` hash shards."""
    sql = f"SELECT DATE(timestamp) AS day, COUNT(*) AS n FROM `{client.project}.{dataset}.{TOUCHES}` WHERE {_RANGE} GROUP BY day"
    config = bigquery.QueryJobConfig(query_parameters=_parameters(app_id, since, until, links))
    splits = []
    for row in client.query(sql, job_config=config).result():
        start = datetime.combine(row.day, time(), UTC)
        day_since, day_until = max(since, start), min(until, start + timedelta(days=1) - timedelta(microseconds=1))
        shards = max(1, math.ceil(row.n / rows_per_split))
        splits += [Split(app_id, day_since, day_until, shard, shards) for shard in range(shards)]
    return splits


def _touches_rows(client: bigquery.Client, sql: str, config: bigquery.QueryJobConfig) -> Iterator[dict[str, Any]]:
    """A query's rows, page by page, as touches rows (times as BigQuery's timestamp text)."""
    for found in client.query(sql, job_config=config).result(page_size=PAGE_SIZE):
        row = dict(found.items())
        for column, value in row.items():
            if isinstance(value, datetime):
                row[column] = to_bq_timestamp(value)
        yield row


def read_split(client: bigquery.Client, dataset: str, split: Split, *, links: bool) -> Iterator[dict[str, Any]]:
    """The rows of one split, page by page, as touches rows (:meth:`domain.touches.Touch.from_row`
    reads them)."""
    sql = (
        f"SELECT * FROM `{client.project}.{dataset}.{TOUCHES}` WHERE {_RANGE} "
        "AND MOD(ABS(FARM_FINGERPRINT(id)), @shards) = @shard"
    )
    config = bigquery.QueryJobConfig(
        query_parameters=[
            *_parameters(split.app_id, split.since, split.until, links),
            bigquery.ScalarQueryParameter("shards", "INT64", split.shards),
            bigquery.ScalarQueryParameter("shard", "INT64", split.shard),
        ]
    )
    yield from _touches_rows(client, sql, config)


def read_loaded(
    client: bigquery.Client,
    dataset: str,
    app_id: str,
    loaded_after: datetime,
    loaded_until: datetime,
    touched_since: datetime,
    sources: tuple[str, ...],
) -> Iterator[dict[str, Any]]:
    """``app_id``'s rows of ``sources`` (``load_touches``' export topics) ingested in
    ``(loaded_after, loaded_until]`` whose touch time is at or after ``touched_since`` (the
    partition filter: what a conversion can still use), as touches rows."""
    sql = (
        f"SELECT * FROM `{client.project}.{dataset}.{TOUCHES}` WHERE app_id = @app_id AND timestamp >= @touched_since "
        "AND ingested_at > @loaded_after AND ingested_at <= @loaded_until AND source IN UNNEST(@sources)"
    )
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("app_id", "STRING", app_id),
            bigquery.ScalarQueryParameter("touched_since", "TIMESTAMP", touched_since),
            bigquery.ScalarQueryParameter("loaded_after", "TIMESTAMP", loaded_after),
            bigquery.ScalarQueryParameter("loaded_until", "TIMESTAMP", loaded_until),
            bigquery.ArrayQueryParameter("sources", "STRING", list(sources)),
        ]
    )
    yield from _touches_rows(client, sql, config)

"""The ``touches`` table read back (SPEC section 9): the touches the jobs' attribution starts from.

A touch is in ``touches`` because a job saw it in the stream or an archive, or because
``load_touches`` read it from Branch's export files. The jobs read back, at start, those a
conversion of theirs could still be attributed to, so that touches loaded from Branch's files,
and stream touches from before a restart, attribute later conversions.

One parameterized query per app and time range, read page by page: a partition filter on
``timestamp`` (the table is partitioned by its day), the same SQL on BigQuery and the emulator.
Rows come back in the jobs' own row shape (timestamps as BigQuery text), one per touch id (a
touch written twice, by a redelivery or a second run, is the same touch).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from google.cloud import bigquery

from domain.timestamps import to_bq_timestamp
from schemas.tables import TOUCHES

PAGE_SIZE = 10_000


def touches_sql(table: str) -> str:
    """One app's touches with ``since <= timestamp <= until``."""
    return f"SELECT * FROM `{table}` WHERE app_id = @app_id AND timestamp >= @since AND timestamp <= @until"


def read_touches(
    client: bigquery.Client, dataset: str, app_id: str, since: datetime, until: datetime
) -> Iterator[dict[str, Any]]:
    """``app_id``'s touches in ``touches`` with ``since <= timestamp <= until``, as touches rows
    (:meth:`domain.attribution.Touch.from_row` reads them), one per touch id, in no order."""
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("app_id", "STRING", app_id),
            bigquery.ScalarQueryParameter("since", "TIMESTAMP", since),
            bigquery.ScalarQueryParameter("until", "TIMESTAMP", until),
        ]
    )
    table = f"{client.project}.{dataset}.{TOUCHES}"
    seen: set[str] = set()
    for found in client.query(touches_sql(table), job_config=config).result(page_size=PAGE_SIZE):
        row = dict(found.items())
        if row["id"] in seen:
            continue
        seen.add(row["id"])
        for column, value in row.items():
            if isinstance(value, datetime):
                row[column] = to_bq_timestamp(value)
        yield row

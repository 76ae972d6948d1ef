"""The service's one BigQuery query runner, with one error mapping.

Every query is SQL text built from the service's own constants plus query parameters for
every value a caller sent (``serving/query_sql.py``, ``serving/status_sql.py``).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from fastapi import HTTPException
from google.api_core.exceptions import GoogleAPIError, NotFound
from google.cloud import bigquery

from adapters.rollup import Coverage, coverage
from serving.settings import DEFAULT_MAX_BYTES_BILLED

_LOG = logging.getLogger(__name__)

Parameter = bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter


@dataclasses.dataclass(frozen=True)
class Query:
    """SQL text and its parameters."""

    sql: str
    parameters: list[Parameter]


def scalar(name: str, kind: str, value: Any) -> bigquery.ScalarQueryParameter:
    return bigquery.ScalarQueryParameter(name, kind, value)


class QueryRunner:
    def __init__(self, client: bigquery.Client, max_bytes_billed: int = DEFAULT_MAX_BYTES_BILLED) -> None:
        self.client = client
        self.max_bytes_billed = max_bytes_billed

    def job_config(self, query: Query) -> bigquery.QueryJobConfig:
        """Parameters and the cost cap: the one way a query of this service is configured."""
        return bigquery.QueryJobConfig(query_parameters=query.parameters, maximum_bytes_billed=self.max_bytes_billed)

    def store(self, query: Query, table: str) -> None:
        """Run the query once into ``table`` (``project.dataset.name``; its dataset expires tables)."""
        config = self.job_config(query)
        try:
            self.client.query(f"CREATE TABLE `{table}` AS\n{query.sql}", job_config=config).result()
        except GoogleAPIError:
            _LOG.exception("BigQuery query failed")
            raise HTTPException(502, "the query failed in BigQuery") from None

    def read(self, table: str, start: int, count: int) -> list[dict[str, Any]] | None:
        """Rows ``start`` to ``start + count`` of a stored result (no query job); None when it is gone."""
        try:
            return [dict(row) for row in self.client.list_rows(table, start_index=start, max_results=count)]
        except NotFound:
            return None
        except GoogleAPIError:
            _LOG.exception("BigQuery read failed")
            raise HTTPException(502, "reading the result failed in BigQuery") from None

    def coverage(self, tables: str) -> Coverage | None:
        """What the rollups of ``project.dataset`` hold (table metadata, no query job); None without."""
        try:
            return coverage(self.client, tables)
        except NotFound:
            return None
        except GoogleAPIError:
            _LOG.exception("reading the rollups' coverage failed; answering from events_dedup")
            return None

    def rows(self, query: Query) -> list[dict[str, Any]]:
        """The query's rows as dicts; HTTP 502 when BigQuery fails (the details go to the log)."""
        config = self.job_config(query)
        try:
            return [dict(row) for row in self.client.query(query.sql, job_config=config).result()]
        except GoogleAPIError:
            _LOG.exception("BigQuery query failed")
            raise HTTPException(502, "the query failed in BigQuery") from None

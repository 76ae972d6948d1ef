"""The service's one BigQuery query runner, with one error mapping.

Every query is SQL text built from the service's own constants plus query parameters for
every value a caller sent (``serving/query_sql.py``, ``serving/status_sql.py``).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from fastapi import HTTPException
from google.api_core.exceptions import GoogleAPIError
from google.cloud import bigquery

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

    def rows(self, query: Query) -> list[dict[str, Any]]:
        """The query's rows as dicts; HTTP 502 when BigQuery fails (the details go to the log)."""
        config = self.job_config(query)
        try:
            return [dict(row) for row in self.client.query(query.sql, job_config=config).result()]
        except GoogleAPIError:
            _LOG.exception("BigQuery query failed")
            raise HTTPException(502, "the query failed in BigQuery") from None

"""``POST /v1/query/analytics``: Branch's Query API over the ``events_dedup`` view.

The handler authenticates first (so an unauthenticated caller learns nothing about the
request's validity), then validates the body into :class:`AnalyticsRequest`, and runs the
one parameterized query :mod:`serving.query_sql` builds, scoped to the caller's app.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

from fastapi import APIRouter, Body, HTTPException, Query, Request
from google.api_core.exceptions import GoogleAPIError
from google.cloud import bigquery
from pydantic import ValidationError

from domain.config import AppConfig
from schemas.tables import EVENTS_DEDUP
from serving.auth import authenticate
from serving.query_sql import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    AnalyticsRequest,
    build_analytics_query,
    result_rows,
)

log = logging.getLogger(__name__)
router = APIRouter()

# Bounds `after` well inside INT64 so a huge offset is a 400, not a BigQuery error.
MAX_AFTER = 2**31


def authenticated_app(request: Request, body: dict[str, Any]) -> AppConfig:
    """The app whose ``branch_key``/``branch_secret`` the body carries, else HTTP 401."""
    key, secret = body.get("branch_key"), body.get("branch_secret")
    app = None
    if isinstance(key, str) and isinstance(secret, str):
        app = authenticate(request.app.state.settings.config, key, secret)
    if app is None:
        raise HTTPException(401, "invalid or missing branch_key / branch_secret")
    return app


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """Pydantic errors as one readable line (field path: problem)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in errors)


def run_query(request: Request, sql: str, parameters: list[Any]) -> list[dict[str, Any]]:
    """Run a parameterized query on the app's BigQuery client; 502 when BigQuery fails."""
    config = bigquery.QueryJobConfig(query_parameters=parameters)
    try:
        return [dict(row) for row in request.app.state.bq_client.query(sql, job_config=config).result()]
    except GoogleAPIError:
        log.exception("BigQuery query failed")
        raise HTTPException(502, "the query failed in BigQuery") from None


@router.post("/v1/query/analytics")
def query_analytics(
    request: Request,
    body: dict[str, Any] = Body(...),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    after: int = Query(0, ge=0, le=MAX_AFTER),
) -> dict[str, Any]:
    app = authenticated_app(request, body)
    try:
        parsed = AnalyticsRequest.model_validate(body)
    except ValidationError as exc:
        raise HTTPException(400, validation_message(exc.errors())) from None
    settings = request.app.state.settings
    query = build_analytics_query(parsed, app_id=app.app_id, limit=limit, after=after,
                                  view=f"{settings.project}.{settings.dataset}.{EVENTS_DEDUP}")
    results, total = result_rows(parsed, run_query(request, query.sql, query.parameters))
    next_url = (str(request.url.include_query_params(limit=limit, after=after + limit))
                if after + limit < total else None)
    return {"results": results, "paging": {"next_url": next_url, "total_count": total}}

"""``POST /v1/query/analytics``: Branch's Query API over the ``events_dedup`` view.

The handler authenticates first (so an unauthenticated caller learns nothing about the
request's validity), then validates the body into :class:`AnalyticsRequest`, and runs the
one parameterized query :mod:`serving.query_sql` builds, scoped to the caller's app.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from pydantic import ValidationError

from schemas.tables import EVENTS_DEDUP
from serving.auth import require_app
from serving.errors import validation_message
from serving.query_sql import DEFAULT_LIMIT, MAX_LIMIT, AnalyticsRequest, build_analytics_query, result_rows

router = APIRouter()

# Bounds `after` well inside INT64 so a huge offset is a 400, not a BigQuery error.
MAX_AFTER = 2**31


@router.post("/v1/query/analytics")
def query_analytics(
    request: Request,
    body: dict[str, Any] = Body(...),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    after: int = Query(0, ge=0, le=MAX_AFTER),
) -> dict[str, Any]:
    app = require_app(request, body.get("branch_key"), body.get("branch_secret"))
    try:
        parsed = AnalyticsRequest.model_validate(body)
    except ValidationError as exc:
        raise HTTPException(400, validation_message(exc.errors())) from None
    settings = request.app.state.settings
    query = build_analytics_query(
        parsed,
        app_id=app.app_id,
        limit=limit,
        after=after,
        view=f"{settings.project}.{settings.dataset}.{EVENTS_DEDUP}",
    )
    results, total = result_rows(parsed, request.app.state.queries.rows(query))
    next_url = (
        str(request.url.include_query_params(limit=limit, after=after + limit)) if after + limit < total else None
    )
    return {"results": results, "paging": {"next_url": next_url, "total_count": total}}

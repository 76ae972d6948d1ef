"""``POST /v1/query/analytics``: Branch's Query API over the ``events_dedup`` view.

The handler authenticates first (so an unauthenticated caller learns nothing about the
request), applies the app's rate limits, validates the body into :class:`AnalyticsRequest`
and runs the one parameterized query :mod:`serving.query_sql` builds, scoped to the caller's
app and days in the app's timezone.

Paging as Branch's clients follow it: ``limit``, ``after`` and ``query_id`` in the URL (or,
for clients that send them there, the body); ``paging.next_url`` is a relative URL with all
three, present only when another page exists. ``query_id`` pins the rows counted to those
ingested before the first page was asked for, so later pages never shift.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from domain.config import AppConfig
from schemas.tables import EVENTS_DEDUP
from serving.auth import require_app
from serving.errors import error_response, validation_message
from serving.query_sql import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    AnalyticsRequest,
    build_analytics_query,
    result_rows,
    served,
)

router = APIRouter()

PATH = "/v1/query/analytics"
# Bounds `after` well inside INT64 so a huge offset is a 400, not a BigQuery error.
MAX_AFTER = 2**31
RATE_LIMITED = "Rate limit reached."
_QUERY_ID = re.compile(r"^q([0-9]{1,19})$")


@dataclasses.dataclass(frozen=True)
class Paging:
    limit: int
    after: int
    cutoff: datetime  # rows ingested after it are not counted (the query_id)

    @property
    def query_id(self) -> str:
        return f"q{int(self.cutoff.timestamp() * 1_000_000)}"

    @classmethod
    def of(cls, url: dict[str, str], body: dict[str, Any], now: datetime) -> Paging:
        """From the URL's ``limit``/``after``/``query_id``, else the body's; ValueError names the bad one."""

        def value(name: str) -> Any:
            return url[name] if name in url else body.get(name)

        limit = _integer("limit", value("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
        after = _integer("after", value("after"), 0, 0, MAX_AFTER)
        query_id = value("query_id")
        if query_id in (None, ""):
            return cls(limit, after, now)
        match = _QUERY_ID.match(str(query_id))
        if not match:
            raise ValueError("query_id: not a query_id this service returned")
        try:
            cutoff = datetime.fromtimestamp(int(match.group(1)) / 1_000_000, UTC)
        except (OverflowError, ValueError, OSError):
            raise ValueError("query_id: not a query_id this service returned") from None
        return cls(limit, after, cutoff)

    def next_url(self) -> str:
        query = urlencode({"limit": self.limit, "after": self.after + self.limit, "query_id": self.query_id})
        return f"{PATH}?{query}"


def _integer(name: str, raw: Any, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    text = str(raw) if not isinstance(raw, bool) else "x"
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ValueError(f"{name}: must be an integer from {low} to {high}")
    return int(text)


def _credentials(request: Request, body: dict[str, Any]) -> tuple[Any, Any]:
    """The body's branch_key/branch_secret, else HTTP Basic ``key:secret`` (some scripts send that)."""
    if "branch_key" in body or "branch_secret" in body:
        return body.get("branch_key"), body.get("branch_secret")
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        key, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return key, secret


def _rate_limited(request: Request, app: AppConfig) -> JSONResponse | None:
    wait = request.app.state.rate_limiter.acquire(app.app_id, app.query_rate_limits.windows())
    if wait is None:
        return None
    response = error_response(429, RATE_LIMITED)
    response.headers["Retry-After"] = str(wait)
    return response


@router.post(PATH, response_model=None)
@router.post(f"{PATH}/", response_model=None, include_in_schema=False)
def query_analytics(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any] | JSONResponse:
    app = require_app(request, *_credentials(request, body))
    limited = _rate_limited(request, app)
    if limited is not None:
        return limited
    try:
        paging = Paging.of(dict(request.query_params), body, datetime.now(UTC))
        parsed = AnalyticsRequest.model_validate(body)
        window = parsed.window(app.zone)
    except ValidationError as exc:
        raise HTTPException(400, validation_message(exc.errors())) from None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if not served(parsed):  # a data source or aggregation this importer never has rows for
        return {"results": [], "paging": {"total_count": 0}}
    settings = request.app.state.settings
    query = build_analytics_query(
        parsed,
        app_id=app.app_id,
        view=f"{settings.project}.{settings.dataset}.{EVENTS_DEDUP}",
        window=window,
        cutoff=paging.cutoff,
        limit=paging.limit,
        after=paging.after,
    )
    results, total, widest = result_rows(parsed, window, request.app.state.queries.rows(query))
    page: dict[str, Any] = {"total_count": total}
    if widest > paging.after + paging.limit:
        page["next_url"] = paging.next_url()
    return {"results": results, "paging": page}

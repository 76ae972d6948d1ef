"""``POST /v1/query/analytics``: Branch's Query API over the ``events_dedup`` view.

The handler authenticates first (so an unauthenticated caller learns nothing about the
request), applies the app's rate limits, validates the body into :class:`AnalyticsRequest`
and runs the one parameterized query :mod:`serving.query_sql` builds, scoped to the caller's
app and days in the app's timezone.

The query reads a rollup table where one holds the request (:func:`serving.query_sql.rollup_for`),
else ``events_dedup``; either way under the cost cap.

Paging as Branch's clients follow it: ``limit``, ``after`` and ``query_id`` in the URL (or,
for clients that send them there, the body); ``paging.next_url`` is a relative URL with all
three, present only when another page exists. The first request runs the query once into a
table of the results dataset (its tables expire after a day); ``query_id`` names that table
and its bucket sizes, signed for the app and the request, and every page is read from the
table (``list_rows``): one query job per ``query_id``, and later pages never shift.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from domain.config import AppConfig
from schemas.tables import EVENTS_DEDUP, results_dataset
from serving.auth import require_app
from serving.errors import error_response, validation_message
from serving.queries import QueryRunner
from serving.query_sql import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    AnalyticsRequest,
    Window,
    build_analytics_query,
    page_span,
    parse_sizes,
    result_rows,
    rollup_for,
    served,
)
from serving.settings import ServingSettings
from serving.signing import Signer

router = APIRouter()

PATH = "/v1/query/analytics"
# Bounds `after` well inside INT64 so a huge offset is a 400, not a BigQuery error.
MAX_AFTER = 2**31
RATE_LIMITED = "Rate limit reached."
# r<result table>.<bucket sizes>.<signature>
_QUERY_ID = re.compile(r"^r([0-9a-f]{32})\.((?:[0-9]{1,10}(?:-[0-9]{1,10}){0,15})?)\.([A-Za-z0-9_-]{43})$")
NOT_OURS = "query_id: not a query_id this service returned"
EXPIRED = "query_id: its result has expired; ask again without query_id"


@dataclasses.dataclass(frozen=True)
class StoredResult:
    """A query's whole result in a table of the results dataset, and the rows of each bucket."""

    table: str  # the table's name in the results dataset
    sizes: tuple[int, ...]
    signature: str

    @property
    def query_id(self) -> str:
        return f"r{self.table}.{'-'.join(map(str, self.sizes))}.{self.signature}"

    @classmethod
    def signed(
        cls, signer: Signer, app_id: str, request: AnalyticsRequest, table: str, sizes: tuple[int, ...]
    ) -> StoredResult:
        return cls(table, sizes, signer.sign(*_signed_parts(app_id, request, table, sizes)))

    def valid(self, signer: Signer, app_id: str, request: AnalyticsRequest) -> bool:
        return signer.verify(self.signature, *_signed_parts(app_id, request, self.table, self.sizes))


def _signed_parts(app_id: str, request: AnalyticsRequest, table: str, sizes: tuple[int, ...]) -> tuple[str, ...]:
    """What a query_id's signature binds: the app and the request, so no other app or body reads it."""
    digest = hashlib.sha256(request.model_dump_json().encode()).hexdigest()
    return ("query_id", app_id, digest, table, "-".join(map(str, sizes)))


@dataclasses.dataclass(frozen=True)
class Paging:
    limit: int
    after: int
    stored: StoredResult | None  # None: the first request of a query

    @classmethod
    def of(cls, url: dict[str, str], body: dict[str, Any]) -> Paging:
        """From the URL's ``limit``/``after``/``query_id``, else the body's; ValueError names the bad one."""

        def value(name: str) -> Any:
            return url[name] if name in url else body.get(name)

        limit = _integer("limit", value("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
        after = _integer("after", value("after"), 0, 0, MAX_AFTER)
        query_id = value("query_id")
        if query_id in (None, ""):
            return cls(limit, after, None)
        match = _QUERY_ID.match(str(query_id))
        if not match:
            raise ValueError(NOT_OURS)
        return cls(limit, after, StoredResult(match[1], tuple(parse_sizes(match[2])), match[3]))

    def next_url(self, query_id: str) -> str:
        query = urlencode({"limit": self.limit, "after": self.after + self.limit, "query_id": query_id})
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


def _run_query(
    queries: QueryRunner, settings: ServingSettings, app_id: str, request: AnalyticsRequest, window: Window
) -> str:
    """Run the request's query once into a new table of the results dataset; return its name."""
    tables = f"{settings.project}.{settings.dataset}"
    covered = queries.coverage(tables) if settings.use_rollups else None
    rollup = rollup_for(request, window, covered.since, covered.boundary) if covered else None
    query = build_analytics_query(
        request,
        app_id=app_id,
        view=f"{tables}.{EVENTS_DEDUP}",
        window=window,
        cutoff=datetime.now(UTC),
        rollup=f"{tables}.{rollup}" if rollup else None,
        boundary=covered.boundary if rollup and covered else None,
    )
    name = uuid.uuid4().hex
    queries.store(query, f"{settings.project}.{results_dataset(settings.dataset)}.{name}")
    return name


@router.post(PATH, response_model=None)
@router.post(f"{PATH}/", response_model=None, include_in_schema=False)
def query_analytics(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any] | JSONResponse:
    app = require_app(request, *_credentials(request, body))
    limited = _rate_limited(request, app)
    if limited is not None:
        return limited
    try:
        paging = Paging.of(dict(request.query_params), body)
        parsed = AnalyticsRequest.model_validate(body)
        window = parsed.window(app.zone)
    except ValidationError as exc:
        raise HTTPException(400, validation_message(exc.errors())) from None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    signer: Signer = request.app.state.session_signer
    if paging.stored is not None and not paging.stored.valid(signer, app.app_id, parsed):
        raise HTTPException(400, NOT_OURS)
    if not served(parsed):  # a data source or aggregation this importer never has rows for
        return {"results": [], "paging": {"total_count": 0}}
    settings: ServingSettings = request.app.state.settings
    queries: QueryRunner = request.app.state.queries
    results_table = f"{settings.project}.{results_dataset(settings.dataset)}"
    stored = paging.stored
    rows: list[dict[str, Any]] | None = None
    if stored is None:
        name = _run_query(queries, settings, app.app_id, parsed, window)
        buckets = len(window.days) if parsed.daily else 1
        # The first page of a first request is among the first limit x buckets rows.
        rows = queries.read(f"{results_table}.{name}", 0, 1 if paging.after else paging.limit * buckets)
        if not rows:
            raise HTTPException(502, "the stored result could not be read")
        sizes = tuple(parse_sizes(rows[0]["_sizes"]))
        stored = StoredResult.signed(signer, app.app_id, parsed, name, sizes)
    start, count = page_span(list(stored.sizes), paging.after, paging.limit)
    if rows is None or paging.after:
        rows = queries.read(f"{results_table}.{stored.table}", start, count) if count else []
        if rows is None:
            raise HTTPException(400, EXPIRED)
    results = result_rows(parsed, window, rows[:count])
    page: dict[str, Any] = {"total_count": sum(stored.sizes)}
    if max(stored.sizes, default=0) > paging.after + paging.limit:
        page["next_url"] = paging.next_url(stored.query_id)
    return {"results": results, "paging": page}

"""Import status page and Liveview: the seed's "Validating the integration" flow (issue 8).

A user checks that the import works the way the seed describes: an import card with a dot
per enabled platform (green: events imported in the last N minutes; amber: messages seen
but none imported; grey: nothing in that window), outcome counts, the top skip/reject
reasons with links to the raw payloads, a self-refreshing Liveview of recent events, and a
per-minute chart by category. The page is plain server-rendered HTML plus one small
vanilla script (no build step); the script reads the same JSON endpoints
(``/v1/status/*``) that scripts use.

Security, because payloads are attacker-controlled and apps must not see each other:
every value reaches SQL as a query parameter and every query is scoped to the caller's
``app_id``; every HTML value is escaped (the script only ever sets ``textContent``) and a
strict Content-Security-Policy forbids inline script. The login form trades the Branch
key + secret for an HMAC-signed, expiring session cookie (HttpOnly, SameSite=Strict)
that holds neither; it is signed with ``SEGMENT_BRANCH_SESSION_KEY`` (set it when several
server processes share sessions), else with a random per-process key.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path
from string import Template
from typing import Any, Literal
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Form, HTTPException, Path as PathParam, Query, Request, Security
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.security import APIKeyCookie, APIKeyHeader
from google.cloud import bigquery
from pydantic import BaseModel

from domain.config import AppConfig, ImporterConfig, Platform
from schemas.reasons import Outcome
from serving.auth import authenticate
from serving.settings import ServingSettings
from domain.event_names import CATEGORIES

router = APIRouter(tags=["status"])

SESSION_COOKIE = "segment_branch_status"
SESSION_TTL = timedelta(hours=4)
SESSION_KEY_ENV = "SEGMENT_BRANCH_SESSION_KEY"
_PROCESS_SESSION_KEY = secrets.token_bytes(32)

DEFAULT_WINDOW_MINUTES = 60
MAX_WINDOW_MINUTES = 7 * 24 * 60
# How far back "last event time" looks: bounds the partitions the card scans.
LAST_EVENT_LOOKBACK = timedelta(days=7)
TOP_REASONS = 5
EXAMPLES_PER_REASON = 3
LIVEVIEW_REFRESH_SECONDS = 10

_TEMPLATES = Path(__file__).with_name("templates")
_STATIC = Path(__file__).with_name("static")
_ASSETS = {"status.js": "text/javascript", "status.css": "text/css"}
# No inline script or style: an escaped-but-mistaken payload still cannot run.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# Identifier columns of `events`, by the name Liveview shows (values are never shown).
_IDENTIFIERS = {
    "developer_identity": "user_data_developer_identity",
    "idfa": "user_data_idfa",
    "idfv": "user_data_idfv",
    "aaid": "user_data_aaid",
    "android_id": "user_data_android_id",
    "browser_fingerprint_id": "user_data_browser_fingerprint_id",
    "anonymous_id": "segment_anonymous_id",
}


# --------------------------------------------------------------------------- response models

class OutcomeCounts(BaseModel):
    imported: int = 0
    duplicate: int = 0
    skipped: int = 0
    rejected: int = 0


class PlatformStatus(BaseModel):
    platform: Platform
    dot: Literal["green", "amber", "grey"]
    window_counts: OutcomeCounts
    last_event_at: datetime | None


class RejectedExample(BaseModel):
    rejected_at: datetime
    segment_event: str | None
    segment_message_id: str | None
    detail: str | None
    payload_url: str


class ReasonCount(BaseModel):
    outcome: Literal["skipped", "rejected"]
    reason: str
    last_day: int
    examples: list[RejectedExample]


class StatusSummary(BaseModel):
    app_id: str
    generated_at: datetime
    window_minutes: int
    platforms: list[PlatformStatus]
    last_event_at: datetime | None
    last_hour: OutcomeCounts
    last_day: OutcomeCounts
    top_reasons: list[ReasonCount]


class LiveviewRow(BaseModel):
    outcome: Literal["imported", "rejected"]
    name: str | None
    category: str | None
    timestamp: datetime | None
    processed_at: datetime
    platform: str | None
    identifiers: list[str]
    warnings: list[str]
    reason: str | None
    payload_url: str | None


class Liveview(BaseModel):
    app_id: str
    generated_at: datetime
    rows: list[LiveviewRow]


class ChartPoint(BaseModel):
    minute: datetime
    category: str
    count: int


class Chart(BaseModel):
    app_id: str
    start: datetime
    end: datetime
    categories: list[str]
    points: list[ChartPoint]


# --------------------------------------------------------------------------- sessions

def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: str) -> str:
    key = os.environ.get(SESSION_KEY_ENV, "").encode() or _PROCESS_SESSION_KEY
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def _credential_tag(app: AppConfig) -> str:
    """Changes with the app's secret, so rotating a secret ends the sessions opened with it."""
    return hashlib.sha256(app.branch_secret_hash.encode()).hexdigest()[:16]


def make_session(app: AppConfig, now: float | None = None) -> str:
    """A signed token naming the app and an expiry; it holds no secret."""
    expires = int((now if now is not None else time.time()) + SESSION_TTL.total_seconds())
    payload = _b64(orjson.dumps({"app": app.app_id, "exp": expires, "cred": _credential_tag(app)}))
    return f"{payload}.{_signature(payload)}"


def read_session(token: str, config: ImporterConfig, now: float | None = None) -> AppConfig | None:
    """The app a valid, unexpired session token names, else None."""
    payload, _, signature = token.partition(".")
    if not hmac.compare_digest(signature.encode(), _signature(payload).encode()):
        return None
    try:
        data = orjson.loads(_unb64(payload))
        app = config.app_by_id(data["app"])
        fresh = data["exp"] > (now if now is not None else time.time())
    except (ValueError, KeyError, TypeError):
        return None
    return app if app is not None and fresh and data.get("cred") == _credential_tag(app) else None


_session_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                               description="Session from the status page's login form (POST /status/login).")
_key_header = APIKeyHeader(name="branch_key", auto_error=False, description="Branch key (with branch_secret).")
_secret_header = APIKeyHeader(name="branch_secret", auto_error=False, description="Branch secret (with branch_key).")


def _settings(request: Request) -> ServingSettings:
    return request.app.state.settings


def session_app(request: Request) -> AppConfig | None:
    """The app of the request's session cookie, if any."""
    token = request.cookies.get(SESSION_COOKIE)
    return read_session(token, _settings(request).config) if token else None


def authenticated_app(
    request: Request,
    session: str | None = Security(_session_cookie),
    branch_key: str | None = Security(_key_header),
    branch_secret: str | None = Security(_secret_header),
) -> AppConfig:
    """The caller's app: ``branch_key`` + ``branch_secret`` headers when sent, else the session."""
    config = _settings(request).config
    if branch_key is not None or branch_secret is not None:
        app = authenticate(config, branch_key, branch_secret)
    else:
        app = read_session(session, config) if session else None
    if app is None:
        raise HTTPException(401, "authentication required: session cookie or branch_key + branch_secret headers")
    return app


# --------------------------------------------------------------------------- queries

def _table(request: Request, name: str) -> str:
    settings = _settings(request)
    return f"`{settings.project}.{settings.dataset}.{name}`"


def _query(request: Request, sql: str, **params: tuple[str, Any]) -> list[dict[str, Any]]:
    """Run ``sql`` with named parameters ``name=(type, value)``; rows as dicts."""
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter(name, kind, value) for name, (kind, value) in params.items()])
    client: bigquery.Client = request.app.state.bq_client
    return [dict(row) for row in client.query(sql, job_config=config).result()]


def _payload_url(sha256: str, rejected_at: datetime) -> str:
    return f"/status/rejected/{sha256}?" + urlencode({"at": rejected_at.isoformat()})


def _counts(rows: list[dict[str, Any]], column: str) -> OutcomeCounts:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["outcome"]] = totals.get(row["outcome"], 0) + row[column]
    return OutcomeCounts(**{k: v for k, v in totals.items() if k in OutcomeCounts.model_fields})


def dot_colour(counts: OutcomeCounts) -> Literal["green", "amber", "grey"]:
    """Green once anything was imported; amber when messages came but none was imported."""
    if counts.imported:
        return "green"
    return "amber" if counts.duplicate or counts.skipped or counts.rejected else "grey"


def build_summary(request: Request, app: AppConfig, window_minutes: int) -> StatusSummary:
    """The import card's data: one pass over import_stats, plus last-event times and examples."""
    now = datetime.now(timezone.utc)
    window_start, hour_start, day_start = (now - timedelta(minutes=window_minutes), now - timedelta(hours=1),
                                           now - timedelta(days=1))
    stats = _query(request, f"""
        SELECT platform, outcome, reason,
               SUM(IF(minute >= @window_start, count, 0)) AS in_window,
               SUM(IF(minute >= @hour_start, count, 0)) AS last_hour,
               SUM(IF(minute >= @day_start, count, 0)) AS last_day
        FROM {_table(request, "import_stats_dedup")}
        WHERE app_id = @app_id AND minute >= @since
        GROUP BY platform, outcome, reason""",
        app_id=("STRING", app.app_id), window_start=("TIMESTAMP", window_start),
        hour_start=("TIMESTAMP", hour_start), day_start=("TIMESTAMP", day_start),
        since=("TIMESTAMP", min(window_start, day_start)))
    last_events = {row["platform"]: row["last_event_at"] for row in _query(request, f"""
        SELECT user_data_os AS platform, MAX(timestamp) AS last_event_at
        FROM {_table(request, "events")}
        WHERE app_id = @app_id AND timestamp >= @since
        GROUP BY platform""", app_id=("STRING", app.app_id), since=("TIMESTAMP", now - LAST_EVENT_LOOKBACK))}
    examples: dict[str, list[RejectedExample]] = {}
    for row in _query(request, f"""
            SELECT reason, rejected_at, segment_event, segment_message_id, detail, payload_sha256
            FROM {_table(request, "rejected_events_dedup")}
            WHERE app_id = @app_id AND rejected_at >= @day_start
            QUALIFY ROW_NUMBER() OVER (PARTITION BY reason ORDER BY rejected_at DESC) <= @per_reason""",
            app_id=("STRING", app.app_id), day_start=("TIMESTAMP", day_start),
            per_reason=("INT64", EXAMPLES_PER_REASON)):
        examples.setdefault(row["reason"], []).append(RejectedExample(
            payload_url=_payload_url(row["payload_sha256"], row["rejected_at"]),
            **{k: row[k] for k in ("rejected_at", "segment_event", "segment_message_id", "detail")}))

    platforms = []
    for platform in sorted(app.enabled_platforms, key=lambda p: list(Platform).index(p)):
        counts = _counts([r for r in stats if r["platform"] == platform.value], "in_window")
        platforms.append(PlatformStatus(platform=platform, dot=dot_colour(counts), window_counts=counts,
                                        last_event_at=last_events.get(platform.value)))
    reasons: dict[tuple[str, str], int] = {}
    for row in stats:
        if row["reason"] and row["last_day"]:
            key = (row["outcome"], row["reason"])
            reasons[key] = reasons.get(key, 0) + row["last_day"]
    top = sorted(reasons.items(), key=lambda item: (-item[1], item[0][1]))[:TOP_REASONS]
    return StatusSummary(
        app_id=app.app_id, generated_at=now, window_minutes=window_minutes, platforms=platforms,
        last_event_at=max((t for t in last_events.values() if t is not None), default=None),
        last_hour=_counts(stats, "last_hour"), last_day=_counts(stats, "last_day"),
        top_reasons=[ReasonCount(outcome=outcome, reason=reason, last_day=count,
                                 examples=examples.get(reason, []) if outcome == Outcome.REJECTED.value else [])
                     for (outcome, reason), count in top])


def build_liveview(request: Request, app: AppConfig, *, name: str | None, category: str | None,
                   platform: str | None, outcome: str, hours: int, limit: int) -> Liveview:
    """Most recent imported events and/or rejected messages, newest processed first.

    Skipped and duplicate messages are only counted (import_stats), never stored one by
    one, so Liveview can list imported and rejected ones only. Rejected rows have no
    category or platform, so filtering on either leaves them out.
    """
    now = datetime.now(timezone.utc)
    params: dict[str, tuple[str, Any]] = {
        "app_id": ("STRING", app.app_id), "since": ("TIMESTAMP", now - timedelta(hours=hours)),
        "limit": ("INT64", limit)}
    rows: list[LiveviewRow] = []
    if outcome in ("all", "imported"):
        filters = {key: (sql, value) for key, sql, value in (
            ("name", "STRPOS(LOWER(name), LOWER(@name)) > 0", name),
            ("category", "category = @category", category),
            ("platform", "user_data_os = @platform", platform)) if value}
        flags = ", ".join(f"{column} IS NOT NULL AS {label}" for label, column in _IDENTIFIERS.items())
        for row in _query(request, f"""
                SELECT name, category, timestamp, ingested_at, user_data_os AS platform, warnings, {flags}
                FROM {_table(request, "events")}
                WHERE app_id = @app_id AND timestamp >= @since {"".join(f" AND {sql}" for sql, _ in filters.values())}
                ORDER BY ingested_at DESC, timestamp DESC
                LIMIT @limit""", **params, **{key: ("STRING", value) for key, (_, value) in filters.items()}):
            rows.append(LiveviewRow(
                outcome="imported", name=row["name"], category=row["category"], timestamp=row["timestamp"],
                processed_at=row["ingested_at"], platform=row["platform"],
                identifiers=[label for label in _IDENTIFIERS if row[label]], warnings=row["warnings"] or [],
                reason=None, payload_url=None))
    if outcome in ("all", "rejected") and not category and not platform:
        for row in _query(request, f"""
                SELECT segment_event, rejected_at, reason, payload_sha256
                FROM {_table(request, "rejected_events_dedup")}
                WHERE app_id = @app_id AND rejected_at >= @since
                      {"AND STRPOS(LOWER(segment_event), LOWER(@name)) > 0" if name else ""}
                ORDER BY rejected_at DESC
                LIMIT @limit""", **params, **({"name": ("STRING", name)} if name else {})):
            rows.append(LiveviewRow(
                outcome="rejected", name=row["segment_event"], category=None, timestamp=None,
                processed_at=row["rejected_at"], platform=None, identifiers=[], warnings=[], reason=row["reason"],
                payload_url=_payload_url(row["payload_sha256"], row["rejected_at"])))
    rows.sort(key=lambda r: (r.processed_at, r.timestamp or r.processed_at), reverse=True)
    return Liveview(app_id=app.app_id, generated_at=now, rows=rows[:limit])


def build_chart(request: Request, app: AppConfig, hours: int) -> Chart:
    """Imported events per minute of event time, by category, over the last ``hours``."""
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(hours=hours)
    points = [ChartPoint(**row) for row in _query(request, f"""
        SELECT TIMESTAMP_TRUNC(timestamp, MINUTE) AS minute, category, COUNT(*) AS count
        FROM {_table(request, "events")}
        WHERE app_id = @app_id AND timestamp >= @start AND timestamp < @end
        GROUP BY minute, category
        ORDER BY minute, category""",
        app_id=("STRING", app.app_id), start=("TIMESTAMP", start), end=("TIMESTAMP", end))]
    return Chart(app_id=app.app_id, start=start, end=end, categories=list(CATEGORIES), points=points)


# --------------------------------------------------------------------------- JSON endpoints

_WindowParam = Query(DEFAULT_WINDOW_MINUTES, ge=1, le=MAX_WINDOW_MINUTES,
                     description="Minutes a platform's dot looks back for imported events.")


@router.get("/v1/status/summary", response_model=StatusSummary)
def status_summary(request: Request, window: int = _WindowParam,
                   app: AppConfig = Security(authenticated_app)) -> StatusSummary:
    """The import card: a dot per enabled platform, outcome counts, top skip/reject reasons."""
    return build_summary(request, app, window)


@router.get("/v1/status/liveview", response_model=Liveview)
def status_liveview(
    request: Request,
    name: str | None = Query(None, max_length=256, description="Case-insensitive part of the event name."),
    category: str | None = Query(None, pattern=f"^({'|'.join(CATEGORIES)})$"),
    platform: Platform | None = Query(None),
    outcome: Literal["all", "imported", "rejected"] = Query("all"),
    hours: int = Query(24, ge=1, le=7 * 24, description="How far back (event time / rejection time) to look."),
    limit: int = Query(50, ge=1, le=500),
    app: AppConfig = Security(authenticated_app),
) -> Liveview:
    """The most recent imported events and rejected messages, filterable."""
    return build_liveview(request, app, name=name or None, category=category,
                          platform=platform.value if platform else None, outcome=outcome, hours=hours, limit=limit)


@router.get("/v1/status/chart", response_model=Chart)
def status_chart(request: Request, hours: int = Query(3, ge=1, le=24),
                 app: AppConfig = Security(authenticated_app)) -> Chart:
    """Imported events per minute by category (event time)."""
    return build_chart(request, app, hours)


# --------------------------------------------------------------------------- HTML

class Html(str):
    """Markup built here from escaped parts: ``render`` inserts it as is."""


def _esc(value: Any) -> str:
    return value if isinstance(value, Html) else escape("" if value is None else str(value))


def render(template: str, *, title: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """Fill ``templates/<template>.html`` into the layout; every plain value is HTML-escaped."""
    body = Template((_TEMPLATES / f"{template}.html").read_text()).substitute(
        {k: _esc(v) for k, v in values.items()})
    page = Template((_TEMPLATES / "layout.html").read_text()).substitute(title=escape(title), body=body)
    return HTMLResponse(page, status_code=status_code, headers=_PAGE_HEADERS)


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "never"


def _dots(summary: StatusSummary) -> Html:
    return Html("".join(
        f'<li class="platform" data-platform="{p.platform.value}" data-dot="{p.dot}">'
        f'<span class="dot dot-{p.dot}" title="{p.dot}"></span> <b>{p.platform.value}</b> '
        f'<span class="muted">last event: {_esc(_time(p.last_event_at))}; in window: '
        f'{p.window_counts.imported} imported, {p.window_counts.skipped} skipped, '
        f'{p.window_counts.rejected} rejected</span></li>'
        for p in summary.platforms))


def _count_rows(summary: StatusSummary) -> Html:
    return Html("".join(
        f'<tr data-outcome="{o}"><td>{o}</td><td class="num">{getattr(summary.last_hour, o)}</td>'
        f'<td class="num">{getattr(summary.last_day, o)}</td></tr>' for o in OutcomeCounts.model_fields))


def _example_links(reason: ReasonCount) -> str:
    if not reason.examples:
        return '<span class="muted">payload not stored</span>'
    return " ".join(f'<a href="{_esc(e.payload_url)}">{_esc(e.segment_event or e.segment_message_id or "payload")}</a>'
                    for e in reason.examples)


def _reason_rows(summary: StatusSummary) -> Html:
    if not summary.top_reasons:
        return Html('<tr><td colspan="4" class="muted">No skipped or rejected messages in the last day.</td></tr>')
    return Html("".join(
        f'<tr data-reason="{_esc(r.reason)}"><td>{_esc(r.reason)}</td><td>{r.outcome}</td>'
        f'<td class="num">{r.last_day}</td><td>{_example_links(r)}</td></tr>'
        for r in summary.top_reasons))


def _options(choices: list[str], selected: str | None, blank: str | None) -> Html:
    options = [f'<option value="">{_esc(blank)}</option>'] if blank is not None else []
    options += [f'<option value="{_esc(c)}"{" selected" if c == selected else ""}>{_esc(c)}</option>' for c in choices]
    return Html("".join(options))


@router.get("/status/login", include_in_schema=False)
def login_form() -> HTMLResponse:
    return render("login", title="Sign in: Segment import status", error="")


@router.post("/status/login", include_in_schema=False)
def login(request: Request, branch_key: str = Form(""), branch_secret: str = Form("")) -> Response:
    """Trade key + secret for a session cookie; the secret never appears in a URL or cookie."""
    app = authenticate(_settings(request).config, branch_key, branch_secret)
    if app is None:
        return render("login", title="Sign in: Segment import status", status_code=401,
                      error=Html('<p class="error" role="alert">Unknown Branch key or wrong secret.</p>'))
    response = RedirectResponse("/status", status_code=303)
    response.set_cookie(SESSION_COOKIE, make_session(app), max_age=int(SESSION_TTL.total_seconds()), path="/",
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/status/logout", include_in_schema=False)
def logout() -> RedirectResponse:
    response = RedirectResponse("/status/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/status", include_in_schema=False)
def status_page(
    request: Request,
    window: int = _WindowParam,
    name: str = Query("", max_length=256),
    category: str = Query(""),
    platform: str = Query(""),
    outcome: str = Query("all"),
) -> Response:
    """The page: the import card rendered here, Liveview and chart filled by status.js."""
    app = session_app(request)
    if app is None:
        return RedirectResponse("/status/login", status_code=303)
    summary = build_summary(request, app, window)
    return render(
        "status", title=f"Segment import status: {app.app_id}", app_id=app.app_id, window=window,
        generated_at=_time(summary.generated_at), last_event_at=_time(summary.last_event_at),
        dots=_dots(summary), count_rows=_count_rows(summary), reason_rows=_reason_rows(summary),
        name=name, category_options=_options(list(CATEGORIES), category, "any category"),
        platform_options=_options([p.value for p in Platform], platform, "any platform"),
        outcome_options=_options(["all", "imported", "rejected"], outcome, None),
        refresh_seconds=LIVEVIEW_REFRESH_SECONDS)


@router.get("/status/rejected/{payload_sha256}", include_in_schema=False)
def rejected_payload(
    request: Request,
    payload_sha256: str = PathParam(pattern="^[0-9a-f]{64}$"),
    at: datetime = Query(..., description="The row's rejected_at."),
) -> Response:
    """One rejected message's raw payload (text, else base64), escaped, for the app's own rows only."""
    app = session_app(request)
    if app is None:
        return RedirectResponse("/status/login", status_code=303)
    rows = _query(request, f"""
        SELECT rejected_at, reason, detail, stage, segment_message_id, segment_event,
               payload_string, payload_bytes, payload_size, payload_truncated
        FROM {_table(request, "rejected_events_dedup")}
        WHERE app_id = @app_id AND rejected_at = @at AND payload_sha256 = @sha256
        LIMIT 1""", app_id=("STRING", app.app_id), at=("TIMESTAMP", at), sha256=("STRING", payload_sha256))
    if not rows:
        return render("not_found", title="Payload not found", status_code=404)
    row = rows[0]
    text = row["payload_string"]
    encoding = "UTF-8 text" if text is not None else "base64 (not valid UTF-8)"
    if text is None:
        text = base64.b64encode(row["payload_bytes"] or b"").decode()
    return render(
        "rejected", title=f"Rejected payload: {row['reason']}", reason=row["reason"], detail=row["detail"],
        stage=row["stage"], rejected_at=_time(row["rejected_at"]), segment_event=row["segment_event"],
        segment_message_id=row["segment_message_id"], payload_size=row["payload_size"], encoding=encoding,
        truncated=" (truncated when stored)" if row["payload_truncated"] else "", payload=text,
        sha256=payload_sha256)


@router.get("/status/assets/{name}", include_in_schema=False)
def asset(name: str) -> Response:
    if name not in _ASSETS:
        return Response(status_code=404)
    return FileResponse(_STATIC / name, media_type=_ASSETS[name], headers={"X-Content-Type-Options": "nosniff"})

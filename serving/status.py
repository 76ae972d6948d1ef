"""Import status page and Liveview: the seed's "Validating the integration" flow (routes).

The page is plain server-rendered HTML (``status_html``) plus one small vanilla script that
reads the same JSON endpoints (``/v1/status/*``) scripts use; the data comes from
``status_data``. The login form trades the Branch key + secret for a signed, expiring session
cookie (HttpOnly, SameSite=Strict) that holds neither (``serving.auth``).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request, Security
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from domain.config import AppConfig
from domain.event_names import CATEGORIES
from domain.identifiers import Platform
from domain.mapping import ORIGIN
from serving import status_data, status_html, status_sql
from serving.auth import SESSION_COOKIE, SESSION_TTL, authenticate, caller_app, make_session, session_app
from serving.status_html import Html, render, time_text
from serving.status_models import Campaigns, Chart, Liveview, StatusSummary, WebhookFailures

router = APIRouter(tags=["status"])

DEFAULT_WINDOW_MINUTES = 60
MAX_WINDOW_MINUTES = 7 * 24 * 60
LIVEVIEW_REFRESH_SECONDS = 10

_WindowParam = Query(
    DEFAULT_WINDOW_MINUTES,
    ge=1,
    le=MAX_WINDOW_MINUTES,
    description="Minutes a platform's dot looks back for imported events.",
)


def _dataset(request: Request) -> str:
    settings = request.app.state.settings
    return f"{settings.project}.{settings.dataset}"


@router.get("/v1/status/summary", response_model=StatusSummary)
def status_summary(
    request: Request, window: int = _WindowParam, app: AppConfig = Security(caller_app)
) -> StatusSummary:
    """The import card: a dot per enabled platform, outcome counts, top skip/reject reasons."""
    return status_data.build_summary(request.app.state.queries, _dataset(request), app, window)


@router.get("/v1/status/liveview", response_model=Liveview)
def status_liveview(
    request: Request,
    name: str | None = Query(None, max_length=256, description="Case-insensitive part of the event name."),
    category: str | None = Query(None, pattern=f"^({'|'.join(CATEGORIES)})$"),
    platform: Platform | None = Query(None),
    origin: str | None = Query(None, max_length=64, description="The events' origin (e.g. SEGMENT)."),
    outcome: Literal["all", "imported", "rejected"] = Query("all"),
    hours: int = Query(24, ge=1, le=7 * 24, description="How far back (event time / rejection time) to look."),
    limit: int = Query(50, ge=1, le=500),
    app: AppConfig = Security(caller_app),
) -> Liveview:
    """The most recent imported events and rejected messages, filterable."""
    return status_data.build_liveview(
        request.app.state.queries,
        _dataset(request),
        app,
        name=name or None,
        category=category,
        platform=platform.value if platform else None,
        outcome=outcome,
        hours=hours,
        limit=limit,
        origin=origin or None,
    )


@router.get("/v1/status/chart", response_model=Chart)
def status_chart(request: Request, hours: int = Query(3, ge=1, le=24), app: AppConfig = Security(caller_app)) -> Chart:
    """Imported events per minute by category (import_stats: publish time when streaming, event time in backfills)."""
    return status_data.build_chart(request.app.state.queries, _dataset(request), app, hours)


@router.get("/v1/status/campaigns", response_model=Campaigns)
def status_campaigns(
    request: Request, hours: int = Query(24, ge=1, le=7 * 24), app: AppConfig = Security(caller_app)
) -> Campaigns:
    """Attributed conversions and revenue by campaign and channel, and the attributed share."""
    settings = request.app.state.settings
    return status_data.build_campaigns(
        request.app.state.queries, _dataset(request), app, hours, use_rollups=settings.use_rollups
    )


@router.get("/v1/status/webhook_failures", response_model=WebhookFailures)
def status_webhook_failures(
    request: Request,
    subscription: str = Query(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$"),
    hours: int = Query(24, ge=1, le=7 * 24),
    limit: int = Query(50, ge=1, le=500),
    app: AppConfig = Security(caller_app),
) -> WebhookFailures:
    """The latest deliveries to one of the app's webhook subscriptions that were given up."""
    if app.webhook(subscription) is None:
        raise HTTPException(404, f"no webhook subscription {subscription!r} for this app")
    return status_data.build_webhook_failures(
        request.app.state.queries, _dataset(request), app, subscription, hours, limit
    )


@router.get("/status/login", include_in_schema=False)
def login_form() -> HTMLResponse:
    return render("login", title="Sign in: Segment import status", error="")


@router.post("/status/login", include_in_schema=False)
def login(request: Request, branch_key: str = Form(""), branch_secret: str = Form("")) -> Response:
    """Trade key + secret for a session cookie; the secret never appears in a URL or cookie."""
    app = authenticate(request.app.state.settings.config, branch_key, branch_secret)
    if app is None:
        return render(
            "login",
            title="Sign in: Segment import status",
            status_code=401,
            error=Html('<p class="error" role="alert">Unknown Branch key or wrong secret.</p>'),
        )
    response = RedirectResponse("/status", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        make_session(app, request.app.state.session_signer),
        max_age=int(SESSION_TTL.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
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
    origin: str = Query("", max_length=64),
    outcome: str = Query("all"),
) -> Response:
    """The page: the import card rendered here, Liveview and chart filled by status.js."""
    app = session_app(request)
    if app is None:
        return RedirectResponse("/status/login", status_code=303)
    summary = status_data.build_summary(request.app.state.queries, _dataset(request), app, window)
    campaigns = status_data.build_campaigns(
        request.app.state.queries, _dataset(request), app, 24, use_rollups=request.app.state.settings.use_rollups
    )
    return render(
        "status",
        title=f"Segment import status: {app.app_id}",
        app_id=app.app_id,
        window=window,
        generated_at=time_text(summary.generated_at),
        last_event_at=time_text(summary.last_event_at),
        dots=status_html.dots(summary),
        count_rows=status_html.count_rows(summary),
        reason_rows=status_html.reason_rows(summary),
        double_tracking=status_html.double_tracking(summary),
        webhook_rows=status_html.webhook_rows(summary),
        name=name,
        category_options=status_html.options(list(CATEGORIES), category, "any category"),
        platform_options=status_html.options([p.value for p in Platform], platform, "any platform"),
        origin_options=status_html.options([ORIGIN], origin, "any origin"),
        outcome_options=status_html.options(["all", "imported", "rejected"], outcome, None),
        refresh_seconds=LIVEVIEW_REFRESH_SECONDS,
        attributed_share=f"{campaigns.attributed_share:.1%}",
        attributed=campaigns.attributed,
        imported=campaigns.imported,
        campaign_rows=status_html.campaign_rows(campaigns),
    )


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
    rows = request.app.state.queries.rows(
        status_sql.rejected_payload(_dataset(request), app.app_id, at, payload_sha256)
    )
    if not rows:
        return render("not_found", title="Payload not found", status_code=404)
    row = rows[0]
    text = row["payload_string"]
    encoding = "UTF-8 text" if text is not None else "base64 (not valid UTF-8)"
    if text is None:
        text = base64.b64encode(row["payload_bytes"] or b"").decode()
    return render(
        "rejected",
        title=f"Rejected payload: {row['reason']}",
        reason=row["reason"],
        detail=row["detail"],
        stage=row["stage"],
        rejected_at=time_text(row["rejected_at"]),
        segment_event=row["segment_event"],
        segment_message_id=row["segment_message_id"],
        payload_size=row["payload_size"],
        encoding=encoding,
        truncated=" (truncated when stored)" if row["payload_truncated"] else "",
        payload=text,
        sha256=payload_sha256,
    )


@router.get("/status/assets/{name}", include_in_schema=False)
def asset(name: str) -> Response:
    if name not in status_html.ASSETS:
        return Response(status_code=404)
    return FileResponse(
        status_html.STATIC / name, media_type=status_html.ASSETS[name], headers={"X-Content-Type-Options": "nosniff"}
    )

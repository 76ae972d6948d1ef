"""The status page's data: the import card, Liveview and the chart, from the tables.

A user checks that the import works the way the seed describes: a dot per enabled platform
(green: events imported in the last N minutes; amber: messages seen but none imported; grey:
nothing in that window), outcome counts, the top skip/reject reasons with links to the raw
payloads, Liveview and a per-minute chart by category.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from adapters.rollup import floor_hour
from domain.config import AppConfig
from domain.event_names import CATEGORIES, CUSTOM, standard_event
from domain.identifiers import Platform
from schemas.reasons import Outcome
from serving import status_sql
from serving.queries import QueryRunner
from serving.status_models import (
    CampaignRow,
    Campaigns,
    Chart,
    ChartPoint,
    Dot,
    DoubleTracked,
    Liveview,
    LiveviewRow,
    OutcomeCounts,
    PlatformStatus,
    ReasonCount,
    RejectedExample,
    StatusSummary,
    WebhookFailure,
    WebhookFailures,
    WebhookHealth,
)

# How far back "last event time" looks (in import_stats).
LAST_EVENT_LOOKBACK = timedelta(days=7)
# The most of events_dedup any status query reads: its last day (rules §11). Older hours come
# from the rollups (campaigns); Liveview shows at most this far back.
RECENT_EVENTS = timedelta(days=1)
TOP_REASONS = 5
EXAMPLES_PER_REASON = 3
TOP_CAMPAIGNS = 20


def payload_url(sha256: str, rejected_at: datetime) -> str:
    return f"/status/rejected/{sha256}?" + urlencode({"at": rejected_at.isoformat()})


def _counts(rows: list[dict[str, Any]], column: str) -> OutcomeCounts:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["outcome"]] = totals.get(row["outcome"], 0) + row[column]
    return OutcomeCounts(**{k: v for k, v in totals.items() if k in OutcomeCounts.model_fields})


def dot_colour(counts: OutcomeCounts) -> Dot:
    """Green once anything was imported; amber when messages came but none was imported."""
    if counts.imported:
        return "green"
    return "amber" if counts.duplicate or counts.skipped or counts.rejected else "grey"


def build_summary(queries: QueryRunner, dataset: str, app: AppConfig, window_minutes: int) -> StatusSummary:
    """The import card's data: one pass over import_stats, plus last-event times and examples."""
    now = datetime.now(UTC)
    day_start = now - timedelta(days=1)
    stats = queries.rows(
        status_sql.outcome_counts(
            dataset,
            app.app_id,
            window_start=now - timedelta(minutes=window_minutes),
            hour_start=now - timedelta(hours=1),
            day_start=day_start,
        )
    )
    last_events = {
        row["platform"]: row["last_event_at"]
        for row in queries.rows(status_sql.last_event_times(dataset, app.app_id, now - LAST_EVENT_LOOKBACK))
    }
    examples: dict[str, list[RejectedExample]] = {}
    for row in queries.rows(status_sql.rejected_examples(dataset, app.app_id, day_start, EXAMPLES_PER_REASON)):
        examples.setdefault(row["reason"], []).append(
            RejectedExample(
                payload_url=payload_url(row["payload_sha256"], row["rejected_at"]),
                **{k: row[k] for k in ("rejected_at", "segment_event", "segment_message_id", "detail")},
            )
        )

    platforms = []
    for platform in sorted(app.enabled_platforms, key=lambda p: list(Platform).index(p)):
        counts = _counts([r for r in stats if r["platform"] == platform.value], "in_window")
        platforms.append(
            PlatformStatus(
                platform=platform,
                dot=dot_colour(counts),
                window_counts=counts,
                last_event_at=last_events.get(platform.value),
            )
        )
    reasons: dict[tuple[str, str], int] = {}
    for row in stats:
        if row["reason"] and row["last_day"]:
            key = (row["outcome"], row["reason"])
            reasons[key] = reasons.get(key, 0) + row["last_day"]
    top = sorted(reasons.items(), key=lambda item: (-item[1], item[0][1]))[:TOP_REASONS]
    return StatusSummary(
        app_id=app.app_id,
        generated_at=now,
        window_minutes=window_minutes,
        platforms=platforms,
        last_event_at=max((t for t in last_events.values() if t is not None), default=None),
        last_hour=_counts(stats, "last_hour"),
        last_day=_counts(stats, "last_day"),
        top_reasons=[
            ReasonCount(
                outcome=outcome,  # type: ignore[arg-type]  # (skipped or rejected: the rows with a reason)
                reason=reason,
                last_day=count,
                examples=examples.get(reason, []) if outcome == Outcome.REJECTED.value else [],
            )
            for (outcome, reason), count in top
        ],
        double_tracked=[
            DoubleTracked(name=row["name"], last_day=int(row["events"]))
            for row in queries.rows(status_sql.double_tracked(dataset, app.app_id, day_start))
        ],
        webhooks=webhook_health(queries, dataset, app, day_start) if app.webhooks else [],
    )


def webhook_health(queries: QueryRunner, dataset: str, app: AppConfig, since: datetime) -> list[WebhookHealth]:
    """Every configured subscription, with its deliveries since ``since`` (0 when none yet)."""
    found = {row["subscription_id"]: row for row in queries.rows(status_sql.webhook_health(dataset, app.app_id, since))}
    health = []
    for subscription in app.webhooks:
        row = found.get(subscription.id) or {}
        health.append(
            WebhookHealth(
                subscription_id=subscription.id,
                url=subscription.url,
                enabled=subscription.enabled,
                delivered=int(row.get("delivered") or 0),
                failed=int(row.get("failed") or 0),
                last_error=row.get("last_error"),
                failures_url=f"/v1/status/webhook_failures?{urlencode({'subscription': subscription.id})}",
            )
        )
    return health


def build_webhook_failures(
    queries: QueryRunner, dataset: str, app: AppConfig, subscription_id: str, hours: int, limit: int
) -> WebhookFailures:
    since = datetime.now(UTC) - timedelta(hours=hours)
    rows = queries.rows(status_sql.webhook_failures(dataset, app.app_id, subscription_id, since, limit))
    return WebhookFailures(
        app_id=app.app_id, subscription_id=subscription_id, rows=[WebhookFailure(**row) for row in rows]
    )


_DETAIL = {
    "id": "id",
    "segment_message_id": "segment_message_id",
    "customer_event_alias": "customer_event_alias",
    "revenue": "event_data_revenue",
    "currency": "event_data_currency",
    "attributed": "attributed",
    "campaign": "last_attributed_touch_data_tilde_campaign",
    "channel": "last_attributed_touch_data_tilde_channel",
    "user_agent": "user_data_user_agent",
    "custom_data": "custom_data",  # JSON text (the SQL's TO_JSON_STRING), as the pipeline carries it
}


def _event_detail(row: dict[str, Any]) -> dict[str, Any]:
    """The Liveview detail of an imported event: what it is, what it was worth, what drove it."""
    detail = {label: row[column] for label, column in _DETAIL.items() if row[column] is not None}
    if "revenue" in detail:
        detail["revenue"] = float(detail["revenue"])
    return detail


def build_liveview(
    queries: QueryRunner,
    dataset: str,
    app: AppConfig,
    *,
    name: str | None,
    category: str | None,
    platform: str | None,
    outcome: str,
    hours: int,
    limit: int,
    origin: str | None = None,
) -> Liveview:
    """Most recent imported events and/or rejected messages, newest processed first.

    Skipped and duplicate messages are only counted (import_stats), never stored one by
    one, so Liveview can list imported and rejected ones only. Rejected rows have no
    category or platform, so filtering on either leaves them out.
    """
    now = datetime.now(UTC)
    since = now - timedelta(hours=hours)
    rows: list[LiveviewRow] = []
    if outcome in ("all", "imported"):
        recent = max(since, now - RECENT_EVENTS)
        for row in queries.rows(
            status_sql.latest_events(
                dataset, app.app_id, recent, limit, name=name, category=category, platform=platform, origin=origin
            )
        ):
            rows.append(
                LiveviewRow(
                    outcome="imported",
                    name=row["name"],
                    category=row["category"],
                    timestamp=row["timestamp"],
                    processed_at=row["ingested_at"],
                    platform=row["platform"],
                    identifiers=[label for label in status_sql.IDENTIFIERS if row[label]],
                    warnings=row["warnings"] or [],
                    reason=None,
                    payload_url=None,
                    origin=row["origin"],
                    detail=_event_detail(row),
                )
            )
    if outcome in ("all", "rejected") and not category and not platform and not origin:
        for row in queries.rows(status_sql.latest_rejections(dataset, app.app_id, since, limit, name=name)):
            rows.append(
                LiveviewRow(
                    outcome="rejected",
                    name=row["segment_event"],
                    category=None,
                    timestamp=None,
                    processed_at=row["rejected_at"],
                    platform=None,
                    identifiers=[],
                    warnings=[],
                    reason=row["reason"],
                    payload_url=payload_url(row["payload_sha256"], row["rejected_at"]),
                )
            )
    rows.sort(key=lambda r: (r.processed_at, r.timestamp or r.processed_at), reverse=True)
    return Liveview(app_id=app.app_id, generated_at=now, rows=rows[:limit])


def _category(name: str | None) -> str:
    standard = standard_event(name) if name else None
    return standard[1] if standard else CUSTOM


def build_chart(queries: QueryRunner, dataset: str, app: AppConfig, hours: int) -> Chart:
    """Imported events per minute, by category, over the last ``hours`` (from import_stats)."""
    end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(hours=hours)
    counts: dict[tuple[datetime, str], int] = {}
    for row in queries.rows(status_sql.imports_per_minute(dataset, app.app_id, start, end)):
        key = (row["minute"], _category(row["name"]))
        counts[key] = counts.get(key, 0) + int(row["count"])
    points = [
        ChartPoint(minute=minute, category=category, count=count)
        for (minute, category), count in sorted(
            counts.items(), key=lambda item: (item[0][0], CATEGORIES.index(item[0][1]))
        )
    ]
    return Chart(app_id=app.app_id, start=start, end=end, categories=list(CATEGORIES), points=points)


def build_campaigns(
    queries: QueryRunner, dataset: str, app: AppConfig, hours: int, *, use_rollups: bool = True
) -> Campaigns:
    """The last ``hours``' attributed conversions and revenue by campaign and channel, and the
    share of imported events attributed (rules §9): whole hours from the attribution rollup,
    the hours after its last run from events_dedup (at most its last day)."""
    now = datetime.now(UTC)
    since = now - timedelta(hours=hours)
    covered = queries.coverage(dataset) if use_rollups else None
    start = floor_hour(since)
    if covered is not None and covered.since <= start < covered.boundary:
        since, rolled_to = start, covered.boundary
        recent_from = max(rolled_to, now - RECENT_EVENTS)
    else:  # no rollup run covers the range: the recent day only
        rolled_to = start
        recent_from = max(since, now - RECENT_EVENTS)
    period = (since, rolled_to, recent_from)
    [share] = queries.rows(status_sql.attributed_share(dataset, app.app_id, *period))
    imported, attributed = int(share["imported"] or 0), int(share["attributed"] or 0)
    rows = [
        CampaignRow(**{**row, "revenue": float(row["revenue"]) if row["revenue"] is not None else None})
        for row in queries.rows(status_sql.campaign_totals(dataset, app.app_id, *period, TOP_CAMPAIGNS))
    ]
    return Campaigns(app_id=app.app_id, since=since, imported=imported, attributed=attributed,
                     attributed_share=attributed / imported if imported else 0.0, rows=rows)  # fmt: skip

"""The status endpoints' response shapes (``/v1/status/*``; the page renders the same)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from domain.identifiers import Platform

Dot = Literal["green", "amber", "grey"]


class OutcomeCounts(BaseModel):
    imported: int = 0
    duplicate: int = 0
    skipped: int = 0
    rejected: int = 0


class PlatformStatus(BaseModel):
    platform: Platform
    dot: Dot
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


class DoubleTracked(BaseModel):
    """Events imported although the app tracks them with the Branch SDK too: counted twice in Branch."""

    name: str | None
    last_day: int


class StatusSummary(BaseModel):
    app_id: str
    generated_at: datetime
    window_minutes: int
    platforms: list[PlatformStatus]
    last_event_at: datetime | None
    last_hour: OutcomeCounts
    last_day: OutcomeCounts
    top_reasons: list[ReasonCount]
    double_tracked: list[DoubleTracked] = []
    webhooks: list[WebhookHealth] = []


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
    origin: str | None = None
    # An imported event's details: ids, alias, revenue, attribution, user agent, custom data as JSON
    # text (empty for rejections).
    detail: dict[str, str | float | bool | None] = {}


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


class CampaignRow(BaseModel):
    campaign: str | None
    channel: str | None
    currency: str | None
    conversions: int
    revenue: float | None


class WebhookHealth(BaseModel):
    """One subscription's deliveries over the last day."""

    subscription_id: str
    url: str
    enabled: bool
    delivered: int
    failed: int
    last_error: str | None
    failures_url: str


class WebhookFailure(BaseModel):
    failed_at: datetime
    event_id: str
    last_status: int | None
    last_error: str | None
    attempts: int
    body: str


class WebhookFailures(BaseModel):
    app_id: str
    subscription_id: str
    rows: list[WebhookFailure]


class Campaigns(BaseModel):
    app_id: str
    since: datetime
    imported: int
    attributed: int
    attributed_share: float
    rows: list[CampaignRow]

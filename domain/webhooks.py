"""Webhook subscriptions (Data Feeds out): what each one receives and how (pure, no I/O).

An app's config lists subscriptions, in the spirit of Branch's webhook builder: a URL, a
filter (event name, category, platform, ``attributed``, campaign, channel, advertising
partner), and either a POST of the event as JSON in Branch's event-ontology naming or a GET
whose query string is a template over the event's columns (as ad-partner postbacks are).

Every delivery carries an idempotency key (event id + subscription: the same across retries
and replays, so a receiver drops repeats of this at-least-once delivery) and, when the
subscription names a secret, an HMAC-SHA256 signature over the timestamp and body. The
secret is referenced (an environment variable or a Secret Manager version), never written
in the config.

The transport (HTTP, retries, concurrency) is ``adapters.webhook_delivery``; the Beam stage
``transforms.webhooks``.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import string
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SIGNATURE_HEADER = "X-Segment-Branch-Signature"  # t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">
IDEMPOTENCY_HEADER = "Idempotency-Key"
SUBSCRIPTION_HEADER = "X-Segment-Branch-Subscription"
EVENT_ID_HEADER = "X-Segment-Branch-Event-Id"
USER_AGENT = "segment-branch-importer-webhooks/1"

_TOUCH_PREFIX = "last_attributed_touch_data_tilde_"
_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,127}$")


class SecretRef(BaseModel):
    """Where a subscription's signing secret lives: never the secret itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]{0,127}$")
    secret_manager: str | None = Field(default=None, pattern=r"^projects/[^/\s]+/secrets/[^/\s]+/versions/[^/\s]+$")

    @model_validator(mode="after")
    def _one(self) -> SecretRef:
        if (self.env is None) == (self.secret_manager is None):
            raise ValueError("give exactly one of env (a variable name) or secret_manager (a version name)")
        return self


class WebhookFilter(BaseModel):
    """Which imported events a subscription receives: every listed condition must hold
    (an empty list or a missing key: any value)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    attributed: bool | None = None
    campaigns: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    advertising_partners: tuple[str, ...] = ()

    def matches(self, row: Mapping[str, Any]) -> bool:
        return (
            _listed(self.names, row.get("name"))
            and _listed(self.categories, row.get("category"))
            and _listed(self.platforms, row.get("user_data_os"))
            and (self.attributed is None or bool(row.get("attributed")) is self.attributed)
            and _listed(self.campaigns, row.get(f"{_TOUCH_PREFIX}campaign"))
            and _listed(self.channels, row.get(f"{_TOUCH_PREFIX}channel"))
            and _listed(self.advertising_partners, row.get(f"{_TOUCH_PREFIX}advertising_partner_name"))
        )


def _listed(allowed: tuple[str, ...], value: Any) -> bool:
    return not allowed or value in allowed


class WebhookSubscription(BaseModel):
    """One subscription of an app (``webhooks:`` in the app config)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    enabled: bool = True  # false: kept in the config, not delivered to (segment-branch webhook test still can)
    url: str = Field(min_length=8, max_length=2048, pattern=r"^https?://\S+$")
    method: Literal["POST", "GET"] = "POST"
    # GET: the query string, ``{column}`` placeholders filled with the event's (URL-encoded) values.
    query_template: str | None = Field(default=None, max_length=2048)
    filter: WebhookFilter = WebhookFilter()
    secret: SecretRef | None = None
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    max_attempts: int = Field(default=6, ge=1, le=20)
    retry_budget_seconds: float = Field(default=120.0, gt=0, le=3600)
    max_concurrency: int = Field(default=4, ge=1, le=64)

    @field_validator("query_template")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        if value is not None:
            for _, field, _, _ in string.Formatter().parse(value):
                if field is not None and not _FIELD.match(field):
                    raise ValueError(f"placeholder {{{field}}} is not a column name")
        return value

    @model_validator(mode="after")
    def _get_has_a_template(self) -> WebhookSubscription:
        if self.method == "GET" and self.query_template is None:
            raise ValueError("a GET subscription needs a query_template")
        return self


def idempotency_key(event_id: str, subscription_id: str) -> str:
    """The same for every attempt and replay of one event to one subscription."""
    return hashlib.sha256(f"{event_id}\x1f{subscription_id}".encode()).hexdigest()[:32]


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """``t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``: the timestamp is
    signed too, so a receiver can refuse an old request replayed by someone else."""
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: bytes, header: str, body: bytes) -> bool:
    """A receiver's check of :func:`signature` (constant time)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        return False
    return hmac.compare_digest(signature(secret, int(parts["t"]), body), f"t={parts['t']},v1={parts['v1']}")


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _json_column(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def event_body(row: Mapping[str, Any]) -> dict[str, Any]:
    """An imported event in Branch's event-ontology shape (``name``, ``timestamp``,
    ``user_data``, ``event_data``, ``content_items``, ``custom_data``,
    ``last_attributed_touch_data``), plus its id, category, origin and attribution."""
    user = {
        k.removeprefix("user_data_"): _json_value(v)
        for k, v in row.items()
        if k.startswith("user_data_") and v is not None
    }
    event = {
        k.removeprefix("event_data_"): _json_value(v)
        for k, v in row.items()
        if k.startswith("event_data_") and v is not None
    }
    touch = {
        "~" + k.removeprefix(_TOUCH_PREFIX): _json_value(v)
        for k, v in row.items()
        if k.startswith(_TOUCH_PREFIX) and v is not None
    }
    items = [
        {k: _json_column(v) if k == "custom_fields" else _json_value(v) for k, v in item.items() if v is not None}
        for item in row.get("content_items") or []
    ]
    return {
        "id": row.get("id"),
        "name": row.get("name"),
        "customer_event_alias": row.get("customer_event_alias"),
        "category": row.get("category"),
        "origin": row.get("origin"),
        "timestamp": _json_value(row.get("timestamp")),
        "user_data": user,
        "event_data": event,
        "content_items": items,
        "custom_data": _json_column(row.get("custom_data")) or {},
        "attributed": bool(row.get("attributed")),
        "last_attributed_touch_type": row.get("last_attributed_touch_type"),
        "last_attributed_touch_timestamp": _json_value(row.get("last_attributed_touch_timestamp")),
        "last_attributed_touch_data": touch,
    }


def query_string(template: str, row: Mapping[str, Any]) -> str:
    """A GET subscription's query string: each ``{column}`` the event's value, URL-encoded
    (empty when the event has none)."""
    out = []
    for literal, field, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if field is not None:
            value = _json_value(row.get(field))
            out.append(
                "" if value is None else quote(str(value).lower() if isinstance(value, bool) else str(value), safe="")
            )
    return "".join(out)


def delivery_url(subscription: WebhookSubscription, row: Mapping[str, Any]) -> str:
    if subscription.method == "POST" or subscription.query_template is None:
        return subscription.url
    separator = "&" if "?" in subscription.url else "?"
    return f"{subscription.url}{separator}{query_string(subscription.query_template, row)}"


Verdict = Literal["delivered", "retry", "failed"]


def verdict(status: int | None) -> Verdict:
    """2xx delivered; no answer (timeout, refused), 408, 429 and 5xx retried; other 4xx failed
    at once (the receiver refused this request: sending it again would not change that)."""
    if status is None or status in (408, 429) or status >= 500:
        return "retry"
    return "delivered" if 200 <= status < 300 else "failed"


def backoff_seconds(attempt: int, *, base: float = 0.5, cap: float = 30.0, rand: random.Random | None = None) -> float:
    """Exponential backoff with full jitter before retry number ``attempt`` (1, 2, ...)."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return (rand or random).uniform(0, ceiling)

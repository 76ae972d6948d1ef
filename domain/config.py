"""App configuration: which Branch apps the importer serves and how (YAML or JSON file).

A file holds ``apps`` (one entry per Branch app) and optionally ``default_app_id``, the app
for messages without a ``branch_key`` attribute (Segment's Pub/Sub destination sets none).
Branch secrets are stored only as salted PBKDF2 hashes; ``segment-branch hash-secret``
makes one.
"""

from __future__ import annotations

import os
import zoneinfo
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain import event_names
from domain.credentials import HASH_PATTERN
from domain.identifiers import Platform
from domain.touches import DEFAULT_CLICK_WINDOW_DAYS, DEFAULT_IMPRESSION_WINDOW_DAYS, Windows
from domain.webhooks import WebhookSubscription

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default_app_config.yaml")
MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 0.001, 90.0


class EventOverride(BaseModel):
    """A per-app event-name override: the Branch name, and its category (derived if omitted)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    category: str | None = None

    @model_validator(mode="after")
    def _category(self) -> EventOverride:
        standard = event_names.standard_event(self.name)
        if self.category is None:
            object.__setattr__(self, "category", standard[1] if standard else event_names.CUSTOM)
        elif self.category not in event_names.CATEGORIES:
            raise ValueError(f"category must be one of {event_names.CATEGORIES}")
        if standard:
            object.__setattr__(self, "name", standard[0])
        return self


class AttributionConfig(BaseModel):
    """An app's attribution windows, in days (Branch's range 0.001-90; 0 turns a type off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    click_window_days: float = DEFAULT_CLICK_WINDOW_DAYS
    impression_window_days: float = DEFAULT_IMPRESSION_WINDOW_DAYS

    @field_validator("click_window_days", "impression_window_days")
    @classmethod
    def _in_range(cls, value: float) -> float:
        if value != 0 and not MIN_WINDOW_DAYS <= value <= MAX_WINDOW_DAYS:
            raise ValueError(f"must be 0 (off) or {MIN_WINDOW_DAYS} to {MAX_WINDOW_DAYS} days")
        return value

    def windows(self) -> Windows:
        return Windows.of_days(self.click_window_days, self.impression_window_days)


class QueryRateLimits(BaseModel):
    """How many Query API requests an app may make per second, minute and hour (Branch's
    defaults); the next one is answered 429 until the oldest falls out of its window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_second: int = Field(default=5, ge=1, le=1_000_000)
    per_minute: int = Field(default=20, ge=1, le=1_000_000)
    per_hour: int = Field(default=150, ge=1, le=1_000_000)

    def windows(self) -> tuple[tuple[float, int], ...]:
        """``(window seconds, allowed requests)`` pairs."""
        return ((1.0, self.per_second), (60.0, self.per_minute), (3600.0, self.per_hour))


class AppConfig(BaseModel):
    """One Branch app: identity, credentials (hashed) and import choices."""

    # Errors never echo input values: a secret pasted into the file must not reach a log.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    app_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    branch_key: str = Field(min_length=1, max_length=128)
    branch_secret_hash: str = Field(pattern=HASH_PATTERN)
    enabled_platforms: frozenset[Platform] = frozenset(Platform)
    natively_tracked_events: tuple[str, ...] = ()
    # More values that are never an identity (rules §4), besides domain.identifiers.PLACEHOLDER_IDS.
    placeholder_ids: tuple[str, ...] = ()
    event_map: dict[str, EventOverride] = Field(default_factory=dict)
    attribution: AttributionConfig = AttributionConfig()
    # The app's reporting timezone (IANA name): the Query API's days, as in Branch's dashboard.
    timezone: str = "UTC"
    query_rate_limits: QueryRateLimits = QueryRateLimits()
    # Data Feeds out: where imported events are pushed (domain.webhooks).
    webhooks: tuple[WebhookSubscription, ...] = ()

    @field_validator("webhooks")
    @classmethod
    def _unique_subscriptions(cls, value: tuple[WebhookSubscription, ...]) -> tuple[WebhookSubscription, ...]:
        ids = [s.id for s in value]
        if len(ids) != len(set(ids)):
            raise ValueError("duplicate webhook subscription id")
        return value

    def webhook(self, subscription_id: str) -> WebhookSubscription | None:
        return next((s for s in self.webhooks if s.id == subscription_id), None)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA timezone name such as UTC or America/Los_Angeles") from None
        return value

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @field_validator("event_map", mode="before")
    @classmethod
    def _short_overrides(cls, value: Any) -> Any:
        # ``"Signed Up": "COMPLETE_REGISTRATION"`` is shorthand for ``{"name": ...}``.
        if isinstance(value, dict):
            return {k: ({"name": v} if isinstance(v, str) else v) for k, v in value.items()}
        return value

    def override_lookup(self) -> dict[str, tuple[str, str]]:
        """Overrides keyed by Segment name key, as :func:`event_names.resolve_event` wants them."""
        return {event_names.name_key(k): (v.name, v.category or event_names.CUSTOM) for k, v in self.event_map.items()}

    def native_event_keys(self) -> frozenset[str]:
        """Keys of natively tracked events, in both Branch name forms when standard."""
        keys = set()
        for name in self.natively_tracked_events:
            keys.add(event_names.name_key(name))
            standard = event_names.standard_event(name)
            if standard:
                keys.add(event_names.name_key(standard[0]))
        return frozenset(keys)


class ImporterConfig(BaseModel):
    """The whole app configuration file."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    apps: tuple[AppConfig, ...] = Field(min_length=1)
    default_app_id: str | None = None

    @model_validator(mode="after")
    def _unique(self) -> ImporterConfig:
        for attr in ("app_id", "branch_key"):
            values = [getattr(app, attr) for app in self.apps]
            if len(values) != len(set(values)):
                raise ValueError(f"duplicate {attr} in apps")
        if self.default_app_id is not None and self.default_app_id not in {a.app_id for a in self.apps}:
            raise ValueError(f"default_app_id {self.default_app_id!r} is not one of the apps")
        return self

    def app_by_id(self, app_id: str) -> AppConfig | None:
        return next((a for a in self.apps if a.app_id == app_id), None)

    def app_by_key(self, branch_key: str) -> AppConfig | None:
        return next((a for a in self.apps if a.branch_key == branch_key), None)


def parse_config(text: str | bytes) -> ImporterConfig:
    """Parse a YAML or JSON configuration (JSON is YAML, but orjson is stricter and faster)."""
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError:
        raw = yaml.safe_load(text)
    if isinstance(raw, dict) and "apps" not in raw and "app_id" in raw:
        raw = {"apps": [raw], "default_app_id": raw["app_id"]}
    return ImporterConfig.model_validate(raw)


def load_config(path: str | os.PathLike | None = None) -> ImporterConfig:
    """Load a local app configuration file; the bundled local default when ``path`` is None.

    (``adapters.storage.load_app_config`` also reads ``gs://`` paths.)
    """
    return parse_config(Path(path if path is not None else DEFAULT_CONFIG_PATH).read_bytes())

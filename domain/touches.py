"""Touches (rules §9): a Branch link click or ad impression known for a user, its identity
keys and its link data.

A touch comes from Segment's ``Install Attributed``, ``Deep Link Opened`` / ``Deep Link
Clicked`` and Branch's own exported events (``branch_<NAME>``) in the stream, or from Branch's
export files. Touches and conversions carry identity keys (developer identity, advertising id,
device id, browser fingerprint; never the anonymousId). Which touch a conversion gets:
``domain.attribution``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from domain.event_names import is_branch_event, name_key
from domain.timestamps import micros_of, moment_of, parse_timestamp, to_bq_timestamp
from domain.values import to_text

CLICK = "CLICK"
IMPRESSION = "IMPRESSION"

# Identity key kinds, strongest first (the order of ``attribution_match``).
DEVELOPER_IDENTITY = "developer_identity"
ADVERTISING_ID = "advertising_id"
DEVICE_ID = "device_id"
BROWSER_FINGERPRINT = "browser_fingerprint"
KEY_KINDS = (DEVELOPER_IDENTITY, ADVERTISING_ID, DEVICE_ID, BROWSER_FINGERPRINT)

# Branch's link data, as ``last_attributed_touch_data_tilde_<key>`` columns.
LINK_KEYS = (
    "id", "campaign", "campaign_id", "channel", "feature", "stage", "tags", "advertising_partner_name",
    "ad_set_name", "ad_name", "creative_name", "keyword",
)  # fmt: skip
LINK_COLUMN_PREFIX = "last_attributed_touch_data_tilde_"
# The attribution columns of ``events``, in the schema's order.
ATTRIBUTION_COLUMNS = (
    "attributed",
    "last_attributed_touch_type",
    "last_attributed_touch_timestamp",
    *(LINK_COLUMN_PREFIX + key for key in LINK_KEYS),
    "days_from_last_attributed_touch_to_event",
    "attribution_match",
)

# Segment's mobile spec: Install Attributed's campaign object -> Branch link keys.
_CAMPAIGN_FIELDS = {
    "name": "campaign", "source": "channel", "medium": "feature", "ad_group": "ad_set_name",
    "ad_creative": "creative_name", "term": "keyword",
}  # fmt: skip
# UTM parameters of a deep link URL -> Branch link keys (a "~" key of the same link wins).
_UTM_FIELDS = {"utm_campaign": "campaign", "utm_source": "channel", "utm_medium": "feature", "utm_term": "keyword"}
MAX_LINK_VALUE = 1024  # characters: a longer value is dropped with a warning

LINK_SOURCE = "link"  # the ``source`` of a link's ``touches`` row (a touch known through a conversion)
INSTALL_ATTRIBUTED = "install attributed"
DEEP_LINK_EVENTS = frozenset({"deep link opened", "deep link clicked"})

DEFAULT_CLICK_WINDOW_DAYS = 7.0
DEFAULT_IMPRESSION_WINDOW_DAYS = 1.0


def is_touch_source(segment_name: str) -> bool:
    """Whether a (not imported) Segment event may carry a touch."""
    key = name_key(segment_name)
    return key == INSTALL_ATTRIBUTED or key in DEEP_LINK_EVENTS or is_branch_event(segment_name)


@dataclasses.dataclass(frozen=True)
class Windows:
    """An app's attribution windows; ``None`` turns a touch type off."""

    click: timedelta | None = timedelta(days=DEFAULT_CLICK_WINDOW_DAYS)
    impression: timedelta | None = timedelta(days=DEFAULT_IMPRESSION_WINDOW_DAYS)

    @classmethod
    def of_days(cls, click_days: float, impression_days: float) -> Windows:
        return cls(timedelta(days=click_days) if click_days else None,
                   timedelta(days=impression_days) if impression_days else None)  # fmt: skip

    def of(self, touch_type: str) -> timedelta | None:
        return self.click if touch_type == CLICK else self.impression

    @property
    def longest(self) -> timedelta:
        return max((w for w in (self.click, self.impression) if w is not None), default=timedelta(0))


@dataclasses.dataclass(frozen=True)
class Touch:
    """One touch: a link click or impression, when, for whom, with which link data."""

    id: str
    app_id: str
    type: str  # CLICK or IMPRESSION
    timestamp: datetime
    source: str  # the Segment event name as sent, or the Branch export topic
    keys: tuple[tuple[str, str], ...]  # identity keys (kind, value)
    link: tuple[tuple[str, Any], ...]  # (link key, value) for the keys present; tags as a tuple
    segment_message_id: str | None = None
    provider: str | None = None
    warnings: tuple[str, ...] = ()

    def link_data(self) -> dict[str, Any]:
        return dict(self.link)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Touch:
        """The touch a ``touches`` row holds (the inverse of :meth:`row`)."""
        link = []
        for key in LINK_KEYS:
            value = row.get(LINK_COLUMN_PREFIX + key)
            if value is not None and value != []:
                link.append((key, tuple(value) if isinstance(value, list) else value))
        return cls(
            id=row["id"],
            app_id=row["app_id"],
            type=row["type"],
            timestamp=parse_timestamp(row["timestamp"], "timestamp"),
            source=row.get("source") or "",
            keys=tuple((kind, row[kind]) for kind in KEY_KINDS if row.get(kind) is not None),
            link=tuple(link),
            segment_message_id=row.get("segment_message_id"),
            provider=row.get("provider"),
            warnings=tuple(row.get("warnings") or ()),
        )

    def packed(self) -> list[Any]:
        """The touch as JSON values (:meth:`unpacked` inverts it): the compact form keyed state
        stores, a deterministic encoding rather than a pickle of the object."""
        return [self.id, self.app_id, self.type, micros_of(self.timestamp), self.source, self.keys, self.link,
                self.segment_message_id, self.provider, self.warnings]  # fmt: skip

    @classmethod
    def unpacked(cls, values: list[Any]) -> Touch:
        """The touch :meth:`packed` gave (JSON turned its tuples into lists)."""
        touch_id, app_id, type_, micros, source, keys, link, message_id, provider, warnings = values
        return cls(
            touch_id,
            app_id,
            type_,
            moment_of(micros),
            source,
            tuple((kind, value) for kind, value in keys),
            tuple((key, tuple(value) if type(value) is list else value) for key, value in link),
            message_id,
            provider,
            tuple(warnings),
        )

    def row(self, ingested_at: datetime) -> dict[str, Any]:
        """The touch as a ``touches`` row."""
        return self._row(self.keys, self.source, None, ingested_at)

    def link_row(self, key: tuple[str, str], taught_by: str, ingested_at: datetime) -> dict[str, Any]:
        """The touch as a link: a ``touches`` row of source ``link`` under the one identity key
        it was taught under, by the conversion ``taught_by`` (so a restarted job knows it)."""
        return self._row((key,), LINK_SOURCE, taught_by, ingested_at)

    def _row(
        self, keys: tuple[tuple[str, str], ...], source: str, taught_by: str | None, ingested_at: datetime
    ) -> dict[str, Any]:
        identity = dict(keys)
        columns = self.columns()
        return {
            "id": self.id,
            "app_id": self.app_id,
            "type": self.type,
            "timestamp": columns.pop("last_attributed_touch_timestamp"),
            "source": source,
            **{kind: identity.get(kind) for kind in KEY_KINDS},
            **{name: value for name, value in columns.items() if name.startswith(LINK_COLUMN_PREFIX)},
            "provider": self.provider,
            "segment_message_id": self.segment_message_id,
            "warnings": list(self.warnings),
            "taught_by": taught_by,
            "ingested_at": to_bq_timestamp(ingested_at),
        }

    def columns(self) -> dict[str, Any]:
        """The touch under the ``events`` attribution column names (type, time, link data)."""
        link = self.link_data()
        columns: dict[str, Any] = {
            "last_attributed_touch_type": self.type,
            "last_attributed_touch_timestamp": to_bq_timestamp(self.timestamp),
        }
        for key in LINK_KEYS:
            value = link.get(key)
            columns[LINK_COLUMN_PREFIX + key] = list(value) if isinstance(value, tuple) else value
        return columns


# The ``user_data_*`` columns that hold an identity key, strongest kind first.
IDENTITY_COLUMNS = (
    (DEVELOPER_IDENTITY, "user_data_developer_identity"),
    (ADVERTISING_ID, "user_data_idfa"),
    (ADVERTISING_ID, "user_data_aaid"),
    (DEVICE_ID, "user_data_idfv"),
    (DEVICE_ID, "user_data_android_id"),
    (BROWSER_FINGERPRINT, "user_data_browser_fingerprint_id"),
)


def identity_keys(user: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The identity keys of a row's ``user_data_*`` columns (a zeroed advertising id was already
    dropped by the mapping; anonymousId is never one)."""
    keys = []
    for kind, column in IDENTITY_COLUMNS:
        value = user.get(column)
        if value is not None:
            keys.append((kind, value))
    return tuple(keys)


def touch_type(properties: Mapping[str, Any]) -> str:
    """IMPRESSION when ``touch_type`` (or ``last_attributed_touch_type``) says so, else CLICK."""
    for key in ("touch_type", "last_attributed_touch_type"):
        value = properties.get(key)
        if type(value) is str and value.strip().casefold() == "impression":
            return IMPRESSION
    return CLICK


def _link_value(key: str, value: Any, where: str, warnings: list[str]) -> Any:
    """A link value as stored: text (numbers as their text), tags a tuple of text; else None."""
    if key == "tags":
        items = value if type(value) is list else None
        texts = None if items is None else [to_text(item) for item in items]
        if texts is None or any(text is None or len(text) > MAX_LINK_VALUE for text in texts):
            warnings.append(f"invalid_value:{where}")
            return None
        return tuple(texts)
    text = to_text(value)
    if text is None or len(text) > MAX_LINK_VALUE:
        warnings.append(f"invalid_value:{where}")
        return None
    return text or None


def carries_link_data(properties: Mapping[str, Any]) -> bool:
    """Whether a Branch-exported event's flat properties carry link data (valid or not)."""
    return any(properties.get(name) is not None for key in LINK_KEYS for name in ("~" + key, key))


def link_data(segment_name: str, properties: Mapping[str, Any], warnings: list[str]) -> dict[str, Any]:
    """The Branch link data a touch source carries (rules §9), by link key."""
    key = name_key(segment_name)
    link: dict[str, Any] = {}
    if key == INSTALL_ATTRIBUTED:
        campaign = properties.get("campaign")
        if isinstance(campaign, dict):
            for field, link_key in _CAMPAIGN_FIELDS.items():
                if campaign.get(field) is not None:
                    link[link_key] = _link_value(link_key, campaign[field], f"campaign.{field}", warnings)
        elif campaign is not None:
            warnings.append("invalid_value:campaign")
    elif key in DEEP_LINK_EVENTS:
        link = _url_link_data(properties.get("url"), warnings)
    else:  # branch_<NAME>: flat properties, every link key with or without "~"
        for link_key in LINK_KEYS:
            for name in ("~" + link_key, link_key):
                if properties.get(name) is not None:
                    link[link_key] = _link_value(link_key, properties[name], name, warnings)
                    break
    return {k: v for k, v in link.items() if v is not None}


def _url_link_data(url: Any, warnings: list[str]) -> dict[str, Any]:
    if url is None:
        return {}
    if type(url) is not str or len(url) > 8 * MAX_LINK_VALUE:
        warnings.append("invalid_value:url")
        return {}
    try:
        query = parse_qs(urlsplit(url.strip()).query)
    except ValueError:
        warnings.append("invalid_value:url")
        return {}
    link: dict[str, Any] = {}
    for name, link_key in _UTM_FIELDS.items():
        if name in query:
            link[link_key] = _link_value(link_key, query[name][-1], f"url.{name}", warnings)
    for link_key in LINK_KEYS:  # "~" keys win over UTM parameters
        values = query.get("~" + link_key)
        if values:
            value = values if link_key == "tags" else values[-1]
            link[link_key] = _link_value(link_key, value, f"url.~{link_key}", warnings)
    return link

"""Touches from Branch's own Daily Export files (v2 CSV: eo_click, eo_install, eo_open,
eo_reinstall), rules §9: from their ``user_data_*``, ``last_attributed_touch_type``,
``last_attributed_touch_timestamp`` (else ``timestamp``) and ``last_attributed_touch_data_*``
columns. Branch writes epoch milliseconds as text, arrays as JSON text, and an empty string
for an absent value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import orjson

from domain.identifiers import DEFAULT_PLACEHOLDERS, PLACEHOLDER_WARNING, Placeholders
from domain.timestamps import EPOCH
from domain.touches import (
    ADVERTISING_ID,
    BROWSER_FINGERPRINT,
    CLICK,
    IDENTITY_COLUMNS,
    IMPRESSION,
    LINK_COLUMN_PREFIX,
    LINK_KEYS,
    MAX_LINK_VALUE,
    Touch,
)

TOUCH_TOPICS = ("eo_click", "eo_install", "eo_open", "eo_reinstall")
_TOPIC = re.compile(r"(eo_click|eo_install|eo_open|eo_reinstall)(?![a-z_])")
# Branch's export files carry no browser fingerprint column.
_IDENTITY_COLUMNS = tuple((kind, column) for kind, column in IDENTITY_COLUMNS if kind != BROWSER_FINGERPRINT)


class InvalidExportRow(ValueError):
    """A row that cannot be a touch (its detail says why)."""


def topic_of(path: str) -> str | None:
    """The touch topic an export file holds, by its name (``<app>-<day>-eo_click-v2-...``)."""
    match = _TOPIC.search(path.rsplit("/", 1)[-1])
    return match.group(1) if match else None


def _text(row: Mapping[str, Any], column: str) -> str | None:
    value = row.get(column)
    return value.strip() or None if isinstance(value, str) else None


def _epoch_ms(text: str, column: str) -> datetime:
    try:
        return EPOCH + timedelta(milliseconds=int(text))
    except (ValueError, OverflowError):
        raise InvalidExportRow(f"{column} is not epoch milliseconds: {text[:40]!r}") from None


def touch_of_export_row(
    row: Mapping[str, Any], app_id: str, topic: str, placeholders: Placeholders = DEFAULT_PLACEHOLDERS
) -> tuple[Touch | None, list[str]]:
    """The touch one export row holds, and warnings; None when the row has no identity key
    (a placeholder id, rules §4, is none: dropped with warning ``placeholder_identity``).
    Raises InvalidExportRow for a row that is not a touch at all (no id, no time)."""
    warnings: list[str] = []
    touch_id = _text(row, "id")
    if touch_id is None:
        raise InvalidExportRow("no id")
    stamp = _text(row, "last_attributed_touch_timestamp") or _text(row, "timestamp")
    if stamp is None:
        raise InvalidExportRow("no last_attributed_touch_timestamp and no timestamp")
    when = _epoch_ms(stamp, "timestamp")
    keys = []
    for kind, column in _IDENTITY_COLUMNS:
        value = _text(row, column)
        if value is None:
            continue
        if kind != ADVERTISING_ID and placeholders.holds(value):  # (a zeroed advertising id: Branch blanks it)
            if PLACEHOLDER_WARNING not in warnings:
                warnings.append(PLACEHOLDER_WARNING)
            continue
        keys.append((kind, value))
    if not keys:
        return None, warnings
    touch_type = (_text(row, "last_attributed_touch_type") or CLICK).upper()
    if touch_type not in (CLICK, IMPRESSION):
        warnings.append("invalid_value:last_attributed_touch_type")
        touch_type = CLICK
    link: list[tuple[str, Any]] = []
    for key in LINK_KEYS:
        text = _text(row, LINK_COLUMN_PREFIX + key)
        if text is None:
            continue
        if key == "tags":
            try:
                tags = orjson.loads(text)
            except orjson.JSONDecodeError:
                tags = None
            if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
                warnings.append(f"invalid_value:{LINK_COLUMN_PREFIX}tags")
                continue
            link.append((key, tuple(tags)))
        elif len(text) > MAX_LINK_VALUE:
            warnings.append(f"invalid_value:{LINK_COLUMN_PREFIX}{key}")
        else:
            link.append((key, text))
    return Touch(
        id=f"{topic}:{touch_id}",
        app_id=app_id,
        type=touch_type,
        timestamp=when,
        source=topic,
        keys=tuple(keys),
        link=tuple(link),
        warnings=tuple(warnings),
    ), warnings

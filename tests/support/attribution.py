"""Scenario builders of the attribution tests: touches, conversions, identities, in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
CONVERSION_AT = NOW - timedelta(hours=1)
IDFA, IDFV, AAID = "6D92078A-8246-4BA4-AE5B-76104861E7DC", "B5372DB0-C21E-11E4-8DFC-AA07A5B093DB", "aaid-0001"
FINGERPRINT = "fp-123"
_ids = count()


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ios(**device: Any) -> dict[str, Any]:
    return {"device": {"type": "ios", **device}}


def web(fingerprint: str = FINGERPRINT) -> tuple[dict[str, Any], dict[str, Any]]:
    """A web context and the properties that carry its browser fingerprint."""
    return {"userAgent": "Mozilla/5.0 (Windows NT 10.0)"}, {"browser_fingerprint_id": fingerprint}


def message(event: str, at: datetime, *, user_id: str | None = None, context: dict | None = None,
            properties: dict | None = None, **fields: Any) -> dict[str, Any]:  # fmt: skip
    doc: dict[str, Any] = {"type": "track", "event": event, "messageId": f"m-{next(_ids)}", "timestamp": iso(at),
                           "context": context or {}, "properties": properties or {}, **fields}  # fmt: skip
    if user_id is not None:
        doc["userId"] = user_id
    return doc


def click(at: datetime, *, campaign: str = "spring", impression: bool = False, **identity: Any) -> dict[str, Any]:
    """A Deep Link Opened touch (a click, or an impression) with ``~campaign``."""
    properties = {"url": f"https://example.app.link/x?~campaign={campaign}&~channel=facebook",
                  **({"touch_type": "impression"} if impression else {}), **identity.pop("properties", {})}  # fmt: skip
    return message("Deep Link Opened", at, properties=properties, **identity)


def purchase(at: datetime = CONVERSION_AT, **identity: Any) -> dict[str, Any]:
    properties = {"revenue": 10, "currency": "USD", **identity.pop("properties", {})}
    return message("Order Completed", at, properties=properties, **identity)


def event_time_reference(lines: list[bytes], settings: Any, now: datetime) -> dict[str, dict[str, Any]]:
    """``map --attribute`` over the lines in event-time order (a touch first at equal times,
    then by id): each attributed event's columns, by event id (its first copy's)."""
    from beam_jobs.cli import map_message
    from domain.attribution import AttributionState
    from domain.mapping import process_message
    from domain.touches import ATTRIBUTION_COLUMNS

    timed = []
    for data in lines:
        outcome = process_message(data, None, None, settings, now)
        if outcome.touch is not None:
            timed.append(((outcome.touch.timestamp, 0, outcome.touch.id), data))
        elif outcome.row is not None and outcome.event_time is not None:
            timed.append(((outcome.event_time, 1, outcome.row["id"]), data))
    state, decided = AttributionState(), {}
    for _, data in sorted(timed, key=lambda item: item[0]):
        result, _ = map_message(data, None, settings, now, attribution=state)
        row = result.row
        if row is not None and row["attributed"] and row["id"] not in decided:
            decided[row["id"]] = {column: row[column] for column in ATTRIBUTION_COLUMNS}
    return decided


def replay_chunks(
    lines: list[bytes], settings: Any, now: datetime, chunk_size: int = 7
) -> tuple[dict[str, list[Any]], dict[str, list[list[Any]]]]:
    """Per app: the touches the backfill's mapping step would emit, and its conversions'
    ``replay_entry`` entries in chunks of ``chunk_size`` (as chunks of archive lines give)."""
    from domain.mapping import process_message
    from domain.replay import replay_entry
    from domain.timestamps import micros_of

    touches: dict[str, list[Any]] = {}
    entries: dict[str, list[Any]] = {}
    for data in lines:
        outcome = process_message(data, None, None, settings, now)
        if outcome.touch is not None:
            touches.setdefault(outcome.touch.app_id, []).append(outcome.touch)
        elif outcome.row is not None and outcome.event_time is not None:
            entry = replay_entry(outcome.row, micros_of(outcome.event_time))
            if entry is not None:
                entries.setdefault(outcome.row["app_id"], []).append(entry)
    chunks = {
        app_id: [listed[i : i + chunk_size] for i in range(0, len(listed), chunk_size)]
        for app_id, listed in entries.items()
    }
    return touches, chunks

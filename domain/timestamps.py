"""Event time (rules §1) and BigQuery timestamp text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.speedups import bq_timestamp_of, segment_text, segment_timestamp
from domain.speedups import to_bq_timestamp as to_bq_timestamp  # (re-exported: the timestamps API)

# Times as integers, in microseconds since the Unix epoch (Beam's timestamps, timers, the
# dedup and replay state, the touches table's ranges): computed exactly, never through float
# seconds, which can be a microsecond off.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def micros_of(moment: datetime) -> int:
    """An aware datetime as microseconds since the epoch."""
    return (moment - EPOCH) // MICROSECOND


def moment_of(micros: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return EPOCH + timedelta(microseconds=micros)


def micros_in(span: timedelta) -> int:
    """A duration in whole microseconds."""
    return span // MICROSECOND


class InvalidTimestamp(ValueError):
    """A timestamp field that decides the event time does not parse."""


def parse_timestamp(value: Any, field: str) -> datetime:
    """An aware UTC datetime from ISO-8601 text with any offset (no offset means UTC)."""
    if type(value) is not str:
        raise InvalidTimestamp(f"{field} is not a string")
    parsed = segment_timestamp(value)  # Segment's own form, the short way
    if parsed is not None:
        return parsed
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidTimestamp(f"{field} is not an ISO-8601 timestamp: {value[:64]!r}") from None


def event_time(doc: dict, publish_time: datetime | None, now: datetime) -> datetime:
    """Segment's event time.

    ``timestamp`` if present; else ``receivedAt - (sentAt - originalTimestamp)`` (Segment's
    clock-skew correction); else ``receivedAt``; else the Pub/Sub publish time (else now).
    """
    timestamp = doc.get("timestamp")
    if timestamp is not None:
        return parse_timestamp(timestamp, "timestamp")
    received = doc.get("receivedAt")
    if received is None:
        return publish_time or now
    received_at = parse_timestamp(received, "receivedAt")
    sent, original = doc.get("sentAt"), doc.get("originalTimestamp")
    if sent is None or original is None:
        return received_at
    skew = parse_timestamp(sent, "sentAt") - parse_timestamp(original, "originalTimestamp")
    try:
        return received_at - skew
    except OverflowError:
        raise InvalidTimestamp("receivedAt - (sentAt - originalTimestamp) is out of range") from None


def bq_timestamp_text(value: Any, field: str) -> str:
    """BigQuery's text of a timestamp field that is only carried, not compared (receivedAt):
    ``bq_timestamp_of(value, parse_timestamp(value, field))``, so it raises InvalidTimestamp
    as that does; Segment's own form is checked and rewritten without a datetime."""
    text = segment_text(value)
    if text is not None:
        return text
    return bq_timestamp_of(value, parse_timestamp(value, field))


def minute_of(bq_timestamp: str) -> str:
    """The minute of a :func:`to_bq_timestamp` text, in the same format."""
    return bq_timestamp[:17] + "00.000000Z"


def parse_duration(text: str | int | float | timedelta | None) -> timedelta | None:
    """``600``, ``90s``, ``10m``, ``24h``, ``7d`` -> timedelta; ``off``/``0``/None -> None."""
    if text is None or isinstance(text, timedelta):
        return text
    text = str(text).strip().lower()
    if text in ("off", "none", "0", ""):
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except ValueError:
        raise ValueError(f"not a duration: {text!r} (e.g. 600, 10m, 24h, off)") from None
    if seconds < 0:
        raise ValueError(f"negative duration: {text!r}")
    return timedelta(seconds=seconds)

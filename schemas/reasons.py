"""Outcomes and reason codes: the stable, documented enum every message ends with.

Each message ends as exactly one outcome. Skipped and rejected messages carry one reason;
imported and duplicate messages carry none. The string values are stored in BigQuery and
shown in the API: never rename one, only add.
"""

from __future__ import annotations

import enum

# Beam counters: ``mapped``, ``imported``, ``duplicate``, ``<outcome>.<reason>``, ...
METRICS_NAMESPACE = "segment_import"


class Outcome(str, enum.Enum):
    IMPORTED = "imported"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    REJECTED = "rejected"


_SKIPPED, _REJECTED = Outcome.SKIPPED, Outcome.REJECTED


class Reason(str, enum.Enum):
    """Each reason with its outcome, the pipeline stage that decides it (stored in
    rejected_events.stage) and its description: one row each, the one source of all four."""

    outcome: Outcome
    stage: str
    description: str
    _value_: str

    def __new__(cls, value: str, outcome: Outcome, stage: str, description: str) -> Reason:
        member = str.__new__(cls, value)
        member._value_ = value
        member.outcome, member.stage, member.description = outcome, stage, description
        return member

    # Skipped: not imported by design; counted in import_stats, raw payload not stored.
    UNSUPPORTED_CALL_TYPE = (
        "unsupported_call_type",
        _SKIPPED,
        "validate",
        "Segment call type other than track (identify, page, screen, group, alias).",
    )
    NOT_IMPORTED_EVENT = (
        "not_imported_event",
        _SKIPPED,
        "map",
        "Event Branch tracks itself (clicks, installs, opens, app lifecycle, push).",
    )
    INTEGRATION_DISABLED = (
        "integration_disabled",
        _SKIPPED,
        "route",
        "The event's integrations object opts out of Branch.",
    )
    PLATFORM_NOT_ENABLED = (
        "platform_not_enabled",
        _SKIPPED,
        "identify",
        "The event's platform is not enabled for the app.",
    )
    # Rejected: bad input or sink error; raw payload kept in rejected_events.
    PAYLOAD_TOO_LARGE = (
        "payload_too_large",
        _REJECTED,
        "decode",
        "Message data larger than the payload limit (default 1 MiB).",
    )
    MALFORMED_JSON = ("malformed_json", _REJECTED, "decode", "Message data is not valid UTF-8 JSON.")
    NOT_AN_OBJECT = ("not_an_object", _REJECTED, "decode", "Message data is JSON but not an object.")
    MISSING_MESSAGE_ID = ("missing_message_id", _REJECTED, "validate", "No messageId (absent, null or empty).")
    INVALID_MESSAGE_ID = (
        "invalid_message_id",
        _REJECTED,
        "validate",
        "messageId is not a string, is over 100 characters, or is only whitespace.",
    )
    MISSING_EVENT_NAME = (
        "missing_event_name",
        _REJECTED,
        "validate",
        "A track call without a non-empty string event name.",
    )
    UNKNOWN_APP = (
        "unknown_app",
        _REJECTED,
        "route",
        "The branch_key attribute names no configured app (or no default app).",
    )
    INVALID_TIMESTAMP = (
        "invalid_timestamp",
        _REJECTED,
        "timestamp",
        "The timestamp fields deciding the event time do not parse as ISO-8601.",
    )
    STALE_EVENT = (
        "stale_event",
        _REJECTED,
        "timestamp",
        "Event time older than --max_event_age before its Pub/Sub publish time.",
    )
    FUTURE_EVENT = (
        "future_event",
        _REJECTED,
        "timestamp",
        "Event time further ahead of its Pub/Sub publish time than --max_clock_skew.",
    )
    NO_IDENTIFIER = (
        "no_identifier",
        _REJECTED,
        "identify",
        "The event cannot be tied to a user (no device id, advertising id, fingerprint or userId).",
    )
    SCHEMA_VIOLATION = ("schema_violation", _REJECTED, "schema", "The mapped row does not fit the events table schema.")
    SINK_ERROR = ("sink_error", _REJECTED, "sink", "BigQuery refused the row permanently.")
    INTERNAL_ERROR = (
        "internal_error",
        _REJECTED,
        "internal",
        "An unexpected error while processing the message (a bug): kept with the error for replay.",
    )
    INVALID_TOUCH_ROW = (
        "invalid_touch_row",
        _REJECTED,
        "touch",
        "A row of a Branch export file that cannot be a touch (load_touches): no id or time, or the wrong columns.",
    )


SKIP_REASONS = frozenset(reason for reason in Reason if reason.outcome is Outcome.SKIPPED)

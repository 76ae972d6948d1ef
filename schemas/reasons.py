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


class Reason(str, enum.Enum):
    # Skipped: not imported by design; counted in import_stats, raw payload not stored.
    UNSUPPORTED_CALL_TYPE = "unsupported_call_type"
    NOT_IMPORTED_EVENT = "not_imported_event"
    INTEGRATION_DISABLED = "integration_disabled"
    PLATFORM_NOT_ENABLED = "platform_not_enabled"
    # Rejected: bad input or sink error; raw payload kept in rejected_events.
    PAYLOAD_TOO_LARGE = "payload_too_large"
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_MESSAGE_ID = "missing_message_id"
    INVALID_MESSAGE_ID = "invalid_message_id"
    MISSING_EVENT_NAME = "missing_event_name"
    UNKNOWN_APP = "unknown_app"
    INVALID_TIMESTAMP = "invalid_timestamp"
    STALE_EVENT = "stale_event"
    FUTURE_EVENT = "future_event"
    NO_IDENTIFIER = "no_identifier"
    SCHEMA_VIOLATION = "schema_violation"
    SINK_ERROR = "sink_error"
    INTERNAL_ERROR = "internal_error"
    INVALID_TOUCH_ROW = "invalid_touch_row"

    @property
    def outcome(self) -> Outcome:
        return Outcome.SKIPPED if self in SKIP_REASONS else Outcome.REJECTED

    @property
    def stage(self) -> str:
        """The pipeline stage that decides this reason (stored in rejected_events.stage)."""
        return _STAGES[self]

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


SKIP_REASONS = frozenset(
    {
        Reason.UNSUPPORTED_CALL_TYPE,
        Reason.NOT_IMPORTED_EVENT,
        Reason.INTEGRATION_DISABLED,
        Reason.PLATFORM_NOT_ENABLED,
    }
)

_STAGES = {
    Reason.PAYLOAD_TOO_LARGE: "decode",
    Reason.MALFORMED_JSON: "decode",
    Reason.NOT_AN_OBJECT: "decode",
    Reason.MISSING_MESSAGE_ID: "validate",
    Reason.INVALID_MESSAGE_ID: "validate",
    Reason.UNSUPPORTED_CALL_TYPE: "validate",
    Reason.MISSING_EVENT_NAME: "validate",
    Reason.UNKNOWN_APP: "route",
    Reason.INTEGRATION_DISABLED: "route",
    Reason.NOT_IMPORTED_EVENT: "map",
    Reason.INVALID_TIMESTAMP: "timestamp",
    Reason.STALE_EVENT: "timestamp",
    Reason.FUTURE_EVENT: "timestamp",
    Reason.NO_IDENTIFIER: "identify",
    Reason.PLATFORM_NOT_ENABLED: "identify",
    Reason.SCHEMA_VIOLATION: "schema",
    Reason.SINK_ERROR: "sink",
    Reason.INTERNAL_ERROR: "internal",
    Reason.INVALID_TOUCH_ROW: "touch",
}

_DESCRIPTIONS = {
    Reason.UNSUPPORTED_CALL_TYPE: "Segment call type other than track (identify, page, screen, group, alias).",
    Reason.NOT_IMPORTED_EVENT: "Event Branch tracks itself (clicks, installs, opens, app lifecycle, push).",
    Reason.INTEGRATION_DISABLED: "The event's integrations object opts out of Branch.",
    Reason.PLATFORM_NOT_ENABLED: "The event's platform is not enabled for the app.",
    Reason.PAYLOAD_TOO_LARGE: "Message data larger than the payload limit (default 1 MiB).",
    Reason.MALFORMED_JSON: "Message data is not valid UTF-8 JSON.",
    Reason.NOT_AN_OBJECT: "Message data is JSON but not an object.",
    Reason.MISSING_MESSAGE_ID: "No messageId (absent, null or empty).",
    Reason.INVALID_MESSAGE_ID: "messageId is not a string, is over 100 characters, or is only whitespace.",
    Reason.MISSING_EVENT_NAME: "A track call without a non-empty string event name.",
    Reason.UNKNOWN_APP: "The branch_key attribute names no configured app (or no default app).",
    Reason.INVALID_TIMESTAMP: "The timestamp fields deciding the event time do not parse as ISO-8601.",
    Reason.STALE_EVENT: "Event time older than --max_event_age before its Pub/Sub publish time.",
    Reason.FUTURE_EVENT: "Event time further ahead of its Pub/Sub publish time than --max_clock_skew.",
    Reason.NO_IDENTIFIER: "The event cannot be tied to a user (no device id, advertising id, fingerprint or userId).",
    Reason.SCHEMA_VIOLATION: "The mapped row does not fit the events table schema.",
    Reason.SINK_ERROR: "BigQuery refused the row permanently.",
    Reason.INTERNAL_ERROR: "An unexpected error while processing the message (a bug): kept with the error for replay.",
    Reason.INVALID_TOUCH_ROW: "A row of a Branch export file that cannot be a touch (load_touches): no id or time, or the wrong columns.",
}

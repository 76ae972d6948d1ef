"""Helpers of the mapping tests: a fixed "now", minimal valid events, settings and runners.

Pure: no servers, no Beam.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from domain.config import ImporterConfig, load_config, parse_config
from domain.mapping import ImportSettings, MappingOutcome, process_message
from tools.bad_inputs import BadInput

# The fixed "now" every mapping test runs at, and an event time one minute before it.
MAPPING_NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
MAPPING_EVENT_TIME = "2026-11-28T11:59:00.000Z"
MAPPING_EVENT_TIME_BQ = "2026-11-28T11:59:00.000000Z"

# Branch keys of the bundled default app config (domain/default_app_config.yaml).
MAPPING_DEFAULT_KEY = "key_live_local_default"  # local-app: IOS, ANDROID, WEB; the default app
MAPPING_WEB_KEY = "key_live_local_web"  # local-web-app: WEB only

# Pass as a field value to mapping_track_event to remove that field from the event.
MAPPING_ABSENT = object()

_MAPPING_SECRET_HASH = "pbkdf2_sha256$20000$bG9jYWwtZGVmYXVsdC0wMQ$36SCllr9Db3i2ePwob_Z9EDvzIapsAYinakHG-kOXUs"


def mapping_track_event(event: Any = "Order Completed", **fields: Any) -> dict[str, Any]:
    """A minimal valid Segment track event (identified by userId, no client context).

    Keyword arguments override or add top-level fields; ``MAPPING_ABSENT`` removes one.
    """
    doc: dict[str, Any] = {
        "type": "track",
        "event": event,
        "messageId": "msg-0001",
        "timestamp": MAPPING_EVENT_TIME,
        "userId": "user-1",
    }
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not MAPPING_ABSENT}


def mapping_ios_context(**device: Any) -> dict[str, Any]:
    """A Segment iOS app context with an IDFA and IDFV (override via keyword args)."""
    base = {
        "type": "ios",
        "advertisingId": "6D92078A-8246-4BA4-AE5B-76104861E7DC",
        "id": "B5372DB0-C21E-11E4-8DFC-AA07A5B093DB",
    }
    base.update(device)
    return {"device": {k: v for k, v in base.items() if v is not MAPPING_ABSENT}}


def mapping_settings_for(config: ImporterConfig | None = None, **kwargs: Any) -> ImportSettings:
    """ImportSettings for ``config`` (default: the bundled app config)."""
    return ImportSettings(config if config is not None else load_config(), **kwargs)


def mapping_config_from(text: str) -> ImporterConfig:
    """Parse a YAML app config; ``{hash}`` in the text becomes a valid secret hash."""
    return parse_config(text.replace("{hash}", _MAPPING_SECRET_HASH))


_MAPPING_DEFAULT_SETTINGS = mapping_settings_for()


def mapping_process(
    payload: Any,
    attributes: Mapping[str, str] | None = None,
    *,
    settings: ImportSettings | None = None,
    now: datetime = MAPPING_NOW,
    publish_time: datetime | None = None,
) -> MappingOutcome:
    """Run process_message on a dict (orjson-encoded) or raw bytes."""
    data = payload if isinstance(payload, (bytes, bytearray)) else orjson.dumps(payload)
    return process_message(bytes(data), attributes, publish_time, settings or _MAPPING_DEFAULT_SETTINGS, now)


def mapping_imported_row(payload: Any, **kwargs: Any) -> dict[str, Any]:
    """The events row of a message that must be imported (fails the test otherwise)."""
    result = mapping_process(payload, **kwargs)
    assert result.reason is None and result.outcome.value == "imported", (result.reason, result.detail)
    assert result.row is not None
    return result.row


def one_of_each_fate() -> list[bytes]:
    """Six archive lines: two copies of one purchase (imported + duplicate), another import,
    an event without identifier and a malformed line (rejected), an identify call (skipped)."""

    def track(message_id: str, **fields: Any) -> bytes:
        return orjson.dumps(
            {
                "type": "track",
                "event": "Order Completed",
                "messageId": message_id,
                "timestamp": "2024-01-01T10:00:00Z",
                "userId": "user-1",
                **fields,
            }
        )

    return [
        track("m-1"),
        track("m-1"),  # a repeat of m-1 within the dedup window
        track("m-2", event="Product Viewed"),
        track("m-3", userId=None),  # no identifier at all
        orjson.dumps({"type": "identify", "messageId": "m-4", "userId": "user-1"}),
        b"not json",
    ]


FAULT_ATTRIBUTE = "inject_fault"


class FaultInjectingSettings(ImportSettings):
    """ImportSettings whose app lookup raises for a message carrying the ``inject_fault``
    attribute: an injected bug inside the mapping, for the failsafe tests."""

    def app_for(self, attributes: Mapping[str, str] | None) -> Any:
        if attributes and FAULT_ATTRIBUTE in attributes:
            raise RuntimeError(f"injected fault: {attributes[FAULT_ATTRIBUTE]}")
        return super().app_for(attributes)


def check_bad_input_row(item: BadInput, row: dict[str, Any]) -> None:
    """An imported row of a bad-input corpus item has the item's expected warnings and columns."""
    missing = [w for w in item.warnings if w not in row["warnings"]]
    assert not missing, (missing, row["warnings"])
    for column, expected in item.columns.items():
        assert row.get(column) == expected, (column, row.get(column))

"""Dead letters: ``rejected_events`` rows that keep the raw message exactly as it arrived.

Imported rows carry the raw message too (in ``_dead_letter_*`` fields BigQuery ignores, see
:func:`attach_raw`) so that a row BigQuery refuses can still be dead-lettered byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from domain.timestamps import to_bq_timestamp
from schemas.reasons import Reason

RAW_PAYLOAD = "_dead_letter_payload"
RAW_ATTRIBUTES = "_dead_letter_attributes"
RAW_PUBLISH_TIME = "_dead_letter_publish_time"
RAW_FIELDS = (RAW_PAYLOAD, RAW_ATTRIBUTES, RAW_PUBLISH_TIME)


def attribute_records(attributes: Mapping[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in sorted((attributes or {}).items())]


def rejected_row(
    data: bytes,
    attributes: Mapping[str, str] | None,
    publish_time: datetime | str | None,
    reason: Reason,
    detail: str | None,
    now: datetime,
    *,
    max_stored_bytes: int,
    app_id: str | None = None,
    message_id: str | None = None,
    segment_event: str | None = None,
    event_id: str | None = None,
    branch_event: str | None = None,
) -> dict[str, Any]:
    """One ``rejected_events`` row; payloads over ``max_stored_bytes`` keep a prefix and a hash."""
    stored = data[:max_stored_bytes]
    try:
        text = stored.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if isinstance(publish_time, datetime):
        publish_time = to_bq_timestamp(publish_time)
    return {
        "row_id": uuid.uuid4().hex,
        "rejected_at": to_bq_timestamp(now),
        "app_id": app_id,
        "reason": reason.value,
        "detail": detail,
        "stage": reason.stage,
        "segment_message_id": message_id,
        "segment_event": segment_event,
        "branch_event": branch_event,
        "event_id": event_id,
        "payload_string": text,
        "payload_bytes": base64.b64encode(stored).decode("ascii"),
        "payload_size": len(data),
        "payload_sha256": hashlib.sha256(data).hexdigest(),
        "payload_truncated": len(stored) < len(data),
        "attributes": attribute_records(attributes),
        "publish_time": publish_time,
    }


def raw_fields(data: bytes, attributes: Mapping[str, str] | None, publish_time: datetime | None) -> dict[str, Any]:
    """The raw message as the fields an events row carries it in (``attach_raw``)."""
    return {
        RAW_PAYLOAD: base64.b64encode(data).decode("ascii"),
        RAW_ATTRIBUTES: attribute_records(attributes),
        RAW_PUBLISH_TIME: to_bq_timestamp(publish_time) if publish_time else None,
    }


def attach_raw(
    row: dict[str, Any], data: bytes, attributes: Mapping[str, str] | None, publish_time: datetime | None
) -> dict[str, Any]:
    """Carry the raw message with an events row (the sink is told to ignore unknown fields)."""
    row.update(raw_fields(data, attributes, publish_time))
    return row


def sink_error_row(row: dict[str, Any], errors: Any, now: datetime, *, max_stored_bytes: int) -> dict[str, Any]:
    """The dead letter of an events row that BigQuery refused permanently."""
    data = base64.b64decode(row.get(RAW_PAYLOAD) or "")
    attributes = {a["key"]: a["value"] for a in row.get(RAW_ATTRIBUTES) or ()}
    return rejected_row(
        data,
        attributes,
        row.get(RAW_PUBLISH_TIME),
        Reason.SINK_ERROR,
        _error_text(errors),
        now,
        max_stored_bytes=max_stored_bytes,
        app_id=row.get("app_id"),
        message_id=row.get("segment_message_id"),
        segment_event=row.get("customer_event_alias"),
        branch_event=row.get("name"),
        event_id=row.get("id"),
    )


def strip_raw(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in RAW_FIELDS}


def _error_text(errors: Any) -> str:
    """BigQuery's per-row errors, compact and bounded (they never contain row values' secrets)."""
    if isinstance(errors, list):
        parts = [
            f"{e.get('reason', '')}: {e.get('location', '')} {e.get('message', '')}".strip()
            for e in errors
            if isinstance(e, dict)
        ]
        text = "; ".join(parts) or str(errors)
    else:
        text = str(errors)
    return text[:1000]

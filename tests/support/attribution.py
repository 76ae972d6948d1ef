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

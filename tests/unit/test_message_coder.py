"""The streaming attribution stages' messages in keyed state (``MessageCoder``): every kind
survives its encoding exactly, as compact JSON, never a pickle; so do an identity key's cell
entries (``CellCoder``)."""

from __future__ import annotations

from datetime import timedelta

import orjson

from domain.attribution import Candidate
from domain.touches import Touch
from tests.support.attribution import NOW
from transforms.streaming_attribution import (
    CellCoder,
    ConversionAt,
    DirectFound,
    LinkedFound,
    LinkLookup,
    MessageCoder,
    RawToDecide,
    RowToDecide,
    TouchAt,
)

TOUCH = Touch(
    "t-1",
    "app",
    "CLICK",
    NOW - timedelta(hours=2, microseconds=7),
    "Branch Link Clicked",
    (("developer_identity", "u1"), ("browser_fingerprint", "f1")),
    (("campaign", "spring"), ("tags", ("a", "b"))),
    "m-1",
    None,
    ("invalid_value:x",),
)
MESSAGES = [
    TouchAt(TOUCH),
    TouchAt(TOUCH, "e-1"),
    ConversionAt("e-1", NOW, 2),
    DirectFound("app", ("developer_identity", "u1"), (TOUCH,), NOW, 2),
    LinkLookup("e-1", NOW, 2, (Candidate(TOUCH, "developer_identity"),)),
    LinkLookup("e-1", NOW, 2, None),
    LinkedFound(("browser_fingerprint", "f1"), (), 2, (Candidate(TOUCH, "browser_fingerprint", True),)),
    RowToDecide({"id": "e-1", "app_id": "app", "user_data_os": None, "custom_data": {"a": [1, 2.5]}}),
    RawToDecide({"raw_payload": "e30=", "raw_attributes": [], "raw_publish_time": None}),
]


def test_every_message_kind_survives_its_encoding_exactly():
    coder = MessageCoder()
    for message in MESSAGES:
        encoded = coder.encode(message)
        assert type(orjson.loads(encoded)) is list  # JSON, not a pickle
        decoded = coder.decode(encoded)
        assert type(decoded) is type(message) and decoded == message
        assert coder.encode(decoded) == encoded
    assert coder.is_deterministic()


def test_a_keys_cell_holds_its_touches_and_waiting_conversions_apart():
    coder = CellCoder()
    touches = b'[["t-1"]]'
    for entry in (touches, b"", (ConversionAt("e-1", NOW, 2), 1_765_000_000_000_000), (MESSAGES[4], 0)):
        decoded = coder.decode(coder.encode(entry))
        assert type(decoded) is type(entry) and decoded == entry
    assert coder.is_deterministic()

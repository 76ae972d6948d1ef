"""The fuzz suite's one invariant checker and its shared strategies (tests/unit/test_fuzz_targets.py,
tests/unit/test_properties_fuzz.py; scripts/fuzz.sh runs both at length)."""

from __future__ import annotations

import base64
import json
import re

import orjson
from hypothesis import strategies as st

from domain.dead_letters import rejected_row
from domain.mapping import MAPPED_VALIDATOR, MappingOutcome
from schemas.reasons import Outcome, Reason
from tests.support.mapping import MAPPING_DEFAULT_KEY, MAPPING_NOW, MAPPING_WEB_KEY

BQ_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")

# The attributes a message can come with: the app's key, another app's, an unknown or empty one.
ATTRIBUTES = st.sampled_from(
    [
        None,
        {},
        {"branch_key": MAPPING_DEFAULT_KEY},
        {"branch_key": MAPPING_WEB_KEY},
        {"branch_key": "key_unknown"},
        {"branch_key": ""},
        {"other": "x"},
    ]
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)


def encode(value) -> bytes:
    """A JSON value as a producer would send it (lone surrogates included, as some do)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def assert_coherent_outcome(result: MappingOutcome, data: bytes | None = None, max_payload_bytes: int = 0) -> None:
    """The invariants every outcome of ``process_message`` must satisfy: exactly one outcome,
    its reason belongs to it, no bug caught by the failsafe (``internal_error``) or by the
    schema check, a rejected message's dead letter keeps its bytes (given ``data``), and an
    imported row fits the events table, serialises and carries an identity."""
    assert isinstance(result, MappingOutcome)
    assert isinstance(result.outcome, Outcome)
    assert result.outcome is not Outcome.DUPLICATE  # decided later, across messages
    assert (result.reason is None) == (result.outcome is Outcome.IMPORTED)
    if result.reason is not None:
        assert isinstance(result.reason, Reason)
        assert result.reason.outcome is result.outcome
        # A mapped row that misfits the schema is a mapping bug, not bad input.
        assert result.reason not in (Reason.SINK_ERROR, Reason.SCHEMA_VIOLATION, Reason.INTERNAL_ERROR), result.detail
        assert result.row is None
        assert result.detail
        if data is not None and result.outcome is Outcome.REJECTED:
            row = rejected_row(
                data, None, None, result.reason, result.detail, MAPPING_NOW, max_stored_bytes=max_payload_bytes
            )
            assert base64.b64decode(row["payload_bytes"]) == data[:max_payload_bytes]
            orjson.dumps(row)
        return
    row = result.row
    assert row is not None
    assert MAPPED_VALIDATOR.validate(row) is None, MAPPED_VALIDATOR.validate(row)
    orjson.dumps(row)
    assert BQ_TIMESTAMP.match(row["timestamp"]) and BQ_TIMESTAMP.match(row["ingested_at"])
    assert row["origin"] == "SEGMENT"
    assert (
        row["topic"]
        == {
            "COMMERCE": "eo_commerce_event",
            "CONTENT": "eo_content_event",
            "USER_LIFECYCLE": "eo_user_lifecycle_event",
            "CUSTOM": "eo_custom_event",
        }[row["category"]]
    )
    for blob in [row["custom_data"]] + [item["custom_fields"] for item in row["content_items"]]:
        if blob is not None:
            decoded = json.loads(blob)
            assert type(decoded) is dict and all(type(v) is str for v in decoded.values())
    for column in (
        "user_data_developer_identity",
        "user_data_idfa",
        "user_data_idfv",
        "user_data_aaid",
        "user_data_android_id",
        "user_data_browser_fingerprint_id",
    ):
        assert row[column] is None or row[column].strip()
    assert (
        row["user_data_developer_identity"]
        or row["user_data_idfa"]
        or row["user_data_idfv"]
        or row["user_data_aaid"]
        or row["user_data_android_id"]
        or row["user_data_browser_fingerprint_id"]
    )

"""Bad input: every item of the generated corpus (tools/bad_inputs.py) gets its
documented outcome, in the pure mapping and through the real streaming pipeline, and every
rejected payload is stored byte for byte (payload_too_large: prefix + size + SHA-256).

Expected outcomes come from rules §2 and the README, not from the code.

Local limits: the Pub/Sub emulator (pstest, Go gRPC) refuses publish requests over 4 MiB (the
client times out), and Beam's DirectRunner pulls 10 messages at a time through a gRPC client
with a 4 MiB receive limit (a larger pull response raises ResourceExhausted in the reader and
the job stops). So the pipeline run publishes the "10 MB" item at 2.5 MB
(``LOCAL_PULL_SAFE_DATA``); the pure test uses the real ~10 MB payload.
"""

from __future__ import annotations

import base64

import pytest

from tests.support.mapping import MAPPING_NOW, check_bad_input_row, mapping_process
from tools.bad_inputs import DEFAULT_MAX_PAYLOAD_BYTES, bad_input_corpus

CORPUS = bad_input_corpus(MAPPING_NOW)


@pytest.mark.parametrize("item", [pytest.param(item, id=item.label) for item in CORPUS])
def test_each_bad_input_gets_its_documented_outcome(item):
    result = mapping_process(item.data, item.attributes or None)
    assert (result.outcome.value, result.reason.value if result.reason else None) == (item.outcome, item.reason), (
        result.detail
    )
    if result.row is not None:
        check_bad_input_row(item, result.row)


def test_corpus_is_deterministic_and_covers_every_decode_reason():
    again = bad_input_corpus(MAPPING_NOW)
    assert [(i.label, i.data, i.outcome, i.reason) for i in again] == [
        (i.label, i.data, i.outcome, i.reason) for i in CORPUS
    ]
    reasons = {i.reason for i in CORPUS}
    assert {
        "payload_too_large",
        "malformed_json",
        "not_an_object",
        "invalid_message_id",
        "missing_event_name",
        "invalid_timestamp",
        "stale_event",
        "future_event",
        "no_identifier",
        "unknown_app",
    } <= reasons
    [ten_mb] = [i for i in CORPUS if i.label == "ten_mb"]
    assert 9_900_000 < len(ten_mb.data) <= 10_000_000


def _at_depth(depth: int, call):
    return call() if depth == 0 else _at_depth(depth - 1, call)


def test_mapping_does_not_depend_on_the_callers_stack_depth():
    [item] = [i for i in CORPUS if i.label == "nested_900"]
    shallow = mapping_process(item.data).row
    deep = _at_depth(400, lambda: mapping_process(item.data).row)
    assert shallow == deep


# ------------------------------------------------------------------ through the pipeline


def test_payload_bytes_column_round_trips_as_base64():
    """The dead-letter row's payload_bytes is base64 of the exact bytes (pure check)."""
    from domain.dead_letters import rejected_row
    from schemas.reasons import Reason

    for item in CORPUS:
        if item.outcome != "rejected":
            continue
        row = rejected_row(
            item.data,
            item.attributes,
            None,
            Reason(item.reason),
            "x",
            MAPPING_NOW,
            max_stored_bytes=DEFAULT_MAX_PAYLOAD_BYTES,
        )
        assert base64.b64decode(row["payload_bytes"]) == item.data[:DEFAULT_MAX_PAYLOAD_BYTES]
        assert row["payload_sha256"] == item.sha256 and row["payload_size"] == len(item.data)

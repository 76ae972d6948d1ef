"""Reading the forms of Segment events a user has on disk (domain.segment_input)."""

from __future__ import annotations

import orjson

from domain.segment_input import split_messages


def messages(data: bytes) -> list:
    return [orjson.loads(m) if m.startswith(b"{") else m for m in split_messages(data)]


def test_json_lines_keep_each_lines_bytes_including_bad_ones():
    data = b'{"messageId": "a"}\n\n{not json\r\n{"messageId":"b"}'
    assert list(split_messages(data)) == [b'{"messageId": "a"}', b"{not json", b'{"messageId":"b"}']


def test_a_json_array_is_its_messages():
    assert messages(b'[{"messageId": "a"}, {"messageId": "b"}]') == [{"messageId": "a"}, {"messageId": "b"}]


def test_an_sdk_batch_body_is_its_messages_with_the_batch_context():
    body = {
        "batch": [{"messageId": "a", "type": "track"}, {"messageId": "b", "context": {"ip": "1.2.3.4"}}],
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"}},
        "sentAt": "2026-11-28T12:00:00Z",
    }
    first, second = messages(orjson.dumps(body, option=orjson.OPT_INDENT_2))
    assert first["context"]["library"]["name"] == "analytics-python" and first["sentAt"] == "2026-11-28T12:00:00Z"
    assert second["context"] == {"ip": "1.2.3.4"}  # a message's own context wins


def test_one_pretty_printed_message_is_one_message():
    pretty = orjson.dumps({"messageId": "a", "type": "track", "event": "X"}, option=orjson.OPT_INDENT_2)
    assert messages(pretty) == [{"messageId": "a", "type": "track", "event": "X"}]


def test_empty_input_has_no_messages():
    assert list(split_messages(b"  \n")) == []


def test_the_local_run_publishes_a_users_batch_file_as_its_messages(tmp_path):
    """``./run_local.sh --input FILE --branch-key K``: one Pub/Sub message per event, with the key."""
    from tools.local_run import read_input

    body = {"batch": [{"messageId": "a", "type": "track"}, {"messageId": "b", "type": "track"}], "sentAt": "x"}
    path = tmp_path / "events.json"
    path.write_bytes(orjson.dumps(body))
    published = read_input(str(path), "key_live_local_web")
    assert [orjson.loads(m.data)["messageId"] for m in published] == ["a", "b"]
    assert all(m.attributes == {"branch_key": "key_live_local_web"} for m in published)


def test_json_lines_of_batch_bodies_and_arrays_expand_in_order_one_message_each():
    """A proxy's or request log's capture: one SDK request body per line."""
    lines = [
        orjson.dumps({"batch": [{"messageId": "a"}, {"messageId": "b"}], "context": {"ip": "1.1.1.1"}}),
        b'{"messageId": "c", "event": "batch"}',  # a plain message that merely says "batch"
        orjson.dumps([{"messageId": "d"}, {"messageId": "e"}]),
        b"{not json",
        orjson.dumps({"batch": [{"messageId": "f"}]}),
    ]
    out = list(split_messages(b"\n".join(lines)))
    assert out[2] == lines[1] and out[5] == b"{not json"  # single lines keep their bytes
    ids = [orjson.loads(m)["messageId"] for m in out if m.startswith(b"{") and m != b"{not json"]
    assert ids == ["a", "b", "c", "d", "e", "f"]
    assert orjson.loads(out[0])["context"] == {"ip": "1.1.1.1"}  # the batch's context, per message


def test_the_map_command_expands_batch_body_lines_one_outcome_line_per_message():
    from tests.support.cli import outputs, run_map

    def track(message_id: str) -> dict:
        return {"type": "track", "event": "Order Completed", "messageId": message_id, "userId": "u"}

    lines = [orjson.dumps({"batch": [track("a"), track("b")]}), orjson.dumps({"batch": [track("c")]})]
    out = outputs(run_map(lines, "--max-event-age", "off", "--max-clock-skew", "off"))
    assert [(line["outcome"], line["row"]["segment_message_id"]) for line in out] == [
        ("imported", "a"),
        ("imported", "b"),
        ("imported", "c"),
    ]

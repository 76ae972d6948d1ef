"""``segment-branch map``: one JSON outcome line per input line, in order; and the usage errors
of ``segment-branch erase``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from beam_jobs import cli
from tests.support.cli import NOW, outputs, run_map
from tests.support.mapping import MAPPING_ABSENT, MAPPING_WEB_KEY, mapping_track_event


def ev(**fields) -> bytes:
    return orjson.dumps(mapping_track_event(**fields))


def test_map_one_line_per_input_in_order_with_outcome_reason_row():
    lines = [
        ev(messageId="m1"),
        b"",  # blank line
        b"this is not json",
        ev(messageId="m2", type="identify"),
        b"   ",
        b'{"truncated": ',
        ev(messageId="m3", event="Application Opened"),
        b"[1, 2]",  # an array on a line is its messages (as a batch body's): two, neither an object
        ev(messageId="m4", userId=MAPPING_ABSENT),
        b"\xff\xfe garbage bytes",
        ev(messageId="m5", event="Signed Up"),
    ]
    results = outputs(run_map(lines, "--now", NOW))
    assert len(results) == len(lines) + 1
    for result in results:
        assert set(result) == {"outcome", "reason", "row"}
    got = [(r["outcome"], r["reason"]) for r in results]
    assert got == [
        ("imported", None),
        ("rejected", "malformed_json"),
        ("rejected", "malformed_json"),
        ("skipped", "unsupported_call_type"),
        ("rejected", "malformed_json"),
        ("rejected", "malformed_json"),
        ("skipped", "not_imported_event"),
        ("rejected", "not_an_object"),
        ("rejected", "not_an_object"),
        ("rejected", "no_identifier"),
        ("rejected", "malformed_json"),
        ("imported", None),
    ]
    assert results[0]["row"]["segment_message_id"] == "m1"
    assert results[11]["row"]["name"] == "COMPLETE_REGISTRATION"
    assert all(r["row"] is None for r in results if r["outcome"] != "imported")


def test_map_crlf_and_missing_final_newline():
    data = ev(messageId="a") + b"\r\n" + ev(messageId="b")
    results = outputs(run_map(data, "--now", NOW))
    assert [r["row"]["segment_message_id"] for r in results] == ["a", "b"]


def test_map_empty_input_gives_no_output():
    assert run_map(b"", "--now", NOW).stdout == b""


def test_map_now_option_decides_stale_and_future():
    line = ev(timestamp="2026-11-28T11:59:00Z")
    assert outputs(run_map([line], "--now", NOW))[0]["outcome"] == "imported"
    assert outputs(run_map([line], "--now", "2026-11-30T00:00:00Z"))[0]["reason"] == "stale_event"
    assert outputs(run_map([line], "--now", "2026-11-28T11:00:00+00:00"))[0]["reason"] == "future_event"
    row = outputs(run_map([line], "--now", "2026-11-28T17:30:00+05:30"))[0]["row"]
    assert row["ingested_at"] == "2026-11-28T12:00:00.000000Z"


def test_map_bad_now_is_a_usage_error():
    proc = run_map([ev()], "--now", "yesterday", check=False)
    assert proc.returncode != 0 and proc.stdout == b""


def test_map_app_config_file(tmp_path):
    config = tmp_path / "apps.yaml"
    config.write_text(
        "default_app_id: shop\n"
        "apps:\n"
        "  - app_id: shop\n"
        "    branch_key: key_shop\n"
        "    branch_secret_hash: pbkdf2_sha256$20000$c2FsdA$aGFzaA\n"
        "    enabled_platforms: [ANDROID]\n"
        "    event_map: {Level Complete: ACHIEVE_LEVEL}\n"
    )
    lines = [
        ev(messageId="x1", event="Level Complete"),
        ev(messageId="x2", event="Signed Up"),  # the bundled config's override does not apply
        ev(messageId="x3", context={"device": {"type": "ios", "id": "idfv"}}),
    ]
    results = outputs(run_map(lines, "--now", NOW, "--app-config", str(config)))
    assert results[0]["row"]["app_id"] == "shop"
    assert results[0]["row"]["name"] == "ACHIEVE_LEVEL"
    assert (results[1]["row"]["name"], results[1]["row"]["category"]) == ("Signed Up", "CUSTOM")
    assert (results[2]["outcome"], results[2]["reason"]) == ("skipped", "platform_not_enabled")


def test_map_branch_key_option_selects_app():
    lines = [
        ev(context={"device": {"type": "ios", "id": "idfv"}}),
        ev(messageId="w", context={"userAgent": "Mozilla/5.0"}),
    ]
    results = outputs(run_map(lines, "--now", NOW, "--branch-key", MAPPING_WEB_KEY))
    assert results[0]["reason"] == "platform_not_enabled"
    assert results[1]["row"]["app_id"] == "local-web-app"
    results = outputs(run_map(lines[:1], "--now", NOW, "--branch-key", "key_nope"))
    assert results[0]["reason"] == "unknown_app"


def test_map_max_payload_bytes_option():
    results = outputs(run_map([ev()], "--now", NOW, "--max-payload-bytes", "10"))
    assert results[0]["reason"] == "payload_too_large"


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("segment-branch")
    if not script.exists():
        pytest.fail(f"console script missing: {script}")
    proc = subprocess.run([str(script), "map", "--now", NOW], input=ev() + b"\n", capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    [line] = proc.stdout.decode().splitlines()
    assert json.loads(line)["outcome"] == "imported"


def test_map_reads_sdk_batch_bodies_json_arrays_and_pretty_printed_messages():
    """What analytics-python/node post ({"batch": [...]}) and exported arrays."""
    first, second = mapping_track_event(messageId="b1"), mapping_track_event(messageId="b2", event="Signed Up")
    batch = orjson.dumps({"batch": [first, second], "sentAt": NOW}, option=orjson.OPT_INDENT_2)
    for data in (batch, orjson.dumps([first, second]), orjson.dumps([first, second], option=orjson.OPT_INDENT_2)):
        results = outputs(run_map(data, "--now", NOW))
        assert [(r["outcome"], r["row"]["segment_message_id"]) for r in results] == [
            ("imported", "b1"),
            ("imported", "b2"),
        ]
    pretty = orjson.dumps(first, option=orjson.OPT_INDENT_2)
    assert [r["outcome"] for r in outputs(run_map(pretty, "--now", NOW))] == ["imported"]


def test_map_json_lines_starting_with_a_broken_line_keep_one_outcome_per_line():
    data = b"not json\n\n" + ev(messageId="m1") + b"\n"
    assert [r["reason"] for r in outputs(run_map(data, "--now", NOW))] == ["malformed_json", "malformed_json", None]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user-id", "u1"], "the following arguments are required: --app"),
        (
            ["--app", "local-app"],
            "one of the arguments --user-id --device-id --advertising-id --fingerprint is required",
        ),
        (
            ["--app", "local-app", "--user-id", "u1", "--device-id", "d1"],
            "argument --device-id: not allowed with argument --user-id",
        ),
        (["--app", "local-app", "--fingerprint", "  "], "argument --fingerprint: an empty identifier"),
        (["--app", "local-app", "--user-id", "u1", "--streaming-buffer-age", "soon"], "not a duration"),
    ],
)
def test_erase_refuses_to_run_without_an_app_and_exactly_one_identifier(args, message, capsys, monkeypatch):
    from adapters import bigquery

    monkeypatch.setattr(bigquery, "make_client", lambda project: pytest.fail("erase reached BigQuery"))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["erase", "--project", "p", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err

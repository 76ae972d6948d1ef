"""``./run_local.sh --input FILE``: a user's own events through the whole local run, which
must end with its SUMMARY line whatever the file holds (rules §2: every message accounted for)."""

from __future__ import annotations

import re
import uuid

import orjson
import pytest

from tools import local_run


def track(message_id: str, **fields) -> dict:
    return {"type": "track", "event": "Order Completed", "messageId": message_id, "userId": "u-1", **fields}


FILES = {
    "empty": (b"", (0, 0, 0, 0)),
    # Nothing importable: no identifier, a placeholder id only, bad JSON, no messageId.
    "all_rejected": (
        b"\n".join(
            [
                orjson.dumps(track("r-1", userId=None)),
                orjson.dumps(track("r-2", userId="guest")),
                b"{not json",
                orjson.dumps(track("", userId="u-2")),
            ]
        ),
        (0, 0, 0, 4),
    ),
    # A proxy's capture of SDK requests: one batch body per line.
    "batch_body_lines": (
        b"\n".join(
            [
                orjson.dumps({"batch": [track("b-1"), track("b-2"), {"type": "identify", "messageId": "b-3"}]}),
                orjson.dumps({"batch": [track("b-4"), track("b-1")]}),  # b-1 again: a duplicate
            ]
        ),
        (3, 1, 1, 0),
    ),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_users_file_runs_to_its_summary_line(name, local_stack, tmp_path, capsys):
    data, (imported, duplicate, skipped, rejected) = FILES[name]
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(data)
    code = local_run.main(
        [
            f"--input={path}",
            f"--dataset=input_{name}_{uuid.uuid4().hex[:6]}",
            f"--export-dir={tmp_path / 'exports'}",
            f"--log-file={tmp_path / 'local_run.log'}",
            "--timeout=120",
        ]
    )
    captured = capsys.readouterr()
    out = captured.out
    published = imported + duplicate + skipped + rejected
    summary = out.rstrip().splitlines()[-1]
    assert summary == (
        f"SUMMARY published={published} imported={imported} duplicate={duplicate} "
        f"skipped={skipped} rejected={rejected} attributed=0"
    ), out[-2000:]
    assert code == 0
    assert "ATTRIBUTION" not in out  # a user's events have no ground truth to check
    assert re.search(r"^Attribution: share of imported events attributed$", out, flags=re.M)
    assert "Traceback" not in out and (tmp_path / "local_run.log").exists()
    # A quiet console: Beam's and the libraries' lines are in the log file, and there are no
    # unparseable flags or deprecated calls to warn about.
    console = captured.out + captured.err
    assert not re.search(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)[: ]", console, flags=re.M), console[-3000:]
    assert "Warning" not in console and "Unparseable" not in console
    log = (tmp_path / "local_run.log").read_text()
    assert "Running pipeline with DirectRunner" in log  # (Beam's lines went there)
    assert "Unparseable argument" not in log and "Deprecat" not in log

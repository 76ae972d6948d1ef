"""Running ``segment-branch map`` as users do: a child process, lines in, JSON lines out."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import REPO

NOW = "2026-11-28T12:00:00Z"


def run_map(lines: list[bytes] | bytes, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    stdin = lines if isinstance(lines, bytes) else b"".join(line + b"\n" for line in lines)
    proc = subprocess.run(
        [sys.executable, "-m", "beam_jobs.cli", "map", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO,
        timeout=60,
    )
    if check:
        assert proc.returncode == 0, proc.stderr.decode()
    return proc


def outputs(proc) -> list[dict]:
    text = proc.stdout.decode()
    assert text.endswith("\n") or text == ""
    return [json.loads(line) for line in text.splitlines()]

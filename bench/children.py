"""One measurement in a fresh interpreter: its own peak memory, no state from the last one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def run_child(module: str, kind: str, *args: str, cpu: int | None = None) -> dict[str, Any]:
    """``python -m module --child kind args...`` (pinned to ``cpu`` if given); its last stdout
    line is the measurement, as JSON."""
    command = [sys.executable, "-m", module, "--child", kind, *args]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{module} {kind} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])

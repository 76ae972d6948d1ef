"""The streaming job as the README starts it locally: ``python -m beam_jobs.segment_import``
in its own process on the local runner, against the emulators. It imports what is published
and keeps running until it is stopped; SIGTERM and Ctrl-C (SIGINT) cancel it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from tests.support import REPO
from tests.support.stack import STACK_PROJECT
from tools.local_run import publish, read_accounting
from tools.samples import generate_sample

MESSAGES = 12
ACCOUNTED_WITHIN_S = 120
EXITS_WITHIN_S = 30


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl_c"])
def test_the_local_streaming_job_runs_until_stopped(
    stop, local_stack, bq_client, fresh_dataset, fresh_subscription, tmp_path
):
    topic, subscription = fresh_subscription
    log_path = tmp_path / "segment_import.log"
    command = [sys.executable, "-m", "beam_jobs.segment_import", "--runner=BundleBasedDirectRunner"]
    command += [f"--project={STACK_PROJECT}", f"--dataset={fresh_dataset}", f"--subscription={subscription}"]
    # The child finds the emulators as a user's shell does: PUBSUB_/BIGQUERY_EMULATOR_HOST.
    with open(log_path, "wb") as log:
        job = subprocess.Popen(command, cwd=REPO, env={**os.environ, **local_stack}, stdout=log, stderr=log)
    try:
        messages = generate_sample(MESSAGES, seed=7, now=datetime.now(UTC))
        publish(STACK_PROJECT, topic.rsplit("/", 1)[1], messages, progress=False)
        deadline = time.monotonic() + ACCOUNTED_WITHIN_S
        while not (accounting := read_accounting(bq_client, fresh_dataset)).consistent(MESSAGES):
            assert job.poll() is None, f"the job exited ({job.returncode}) before importing:\n{_tail(log_path)}"
            assert time.monotonic() < deadline, f"not accounted for: {accounting}\n{_tail(log_path)}"
            time.sleep(0.5)  # poll interval; the loop checks the condition
        assert accounting.imported > 0
        assert job.poll() is None, "the job must keep running after its work is done"
        job.send_signal(stop)
        assert job.wait(timeout=EXITS_WITHIN_S) == 0, _tail(log_path)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
    assert "stopping the streaming job" in log_path.read_text(errors="replace")


def _tail(path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

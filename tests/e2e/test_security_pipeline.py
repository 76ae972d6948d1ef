"""Security: secrets never appear in logs, tables, outputs or error messages; the config holds
only hashes; the API turns away unauthenticated callers and oversized bodies; export links
cannot be forged, stretched or reused for another app.

The secrets are the bundled local config's (domain/default_app_config.yaml): public by
design, which makes them safe to grep for.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import orjson

from domain.config import load_config
from tests.support import REPO

SECRETS = ("secret_live_local_default", "secret_live_local_web")
CONFIG = load_config()
# The stored hashes, and their digest parts alone (a log line could carry just those).
HASHES = tuple(app.branch_secret_hash for app in CONFIG.apps)
DIGESTS = tuple(h.rsplit("$", 1)[1] for h in HASHES)
FORBIDDEN = SECRETS + HASHES + DIGESTS


def assert_no_secret(text: str, where: str) -> None:
    leaked = [s for s in FORBIDDEN if s in text]
    assert not leaked, f"{where} contains {leaked}"


PLAINTEXT_CONFIG = """
apps:
  - app_id: leaky
    branch_key: key_live_leaky
    branch_secret: secret_live_local_default
"""


def _cli(*args: str, stdin: bytes) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "beam_jobs.cli", *args], input=stdin, capture_output=True, cwd=REPO, timeout=120
    )


# ------------------------------------------------------------------ serving app


QUERY = {"start_date": "2026-11-01", "end_date": "2026-11-02", "data_source": "eo_commerce_event"}


# ------------------------------------------------------------------ the pipeline


def test_a_pipeline_run_leaves_no_secret_in_logs_or_tables(local_stack, caplog, capsys):
    from adapters.bigquery import make_client
    from adapters.provision import provision_tables
    from tools.local_run import ALL_TIME, import_until_accounted, publish
    from tools.localstack import provision_pubsub
    from tools.samples import SampleMessage, generate_sample

    caplog.set_level(logging.DEBUG)
    project, suffix = "local-project", uuid.uuid4().hex[:8]
    dataset, topic, subscription = f"security_{suffix}", f"sec-{suffix}", f"sec-sub-{suffix}"
    client = make_client(project)
    provision_tables(client, dataset)
    provision_pubsub(project, topic, subscription)
    messages = list(generate_sample(120, seed=3, now=datetime.now(UTC)))
    messages.append(
        SampleMessage(
            orjson.dumps({"type": "track", "event": "Login", "messageId": "sec-1", "userId": "u"}),
            {"branch_key": "key_live_nobody"},
            "unknown",
        )
    )
    publish(project, topic, messages, progress=False)
    accounting = import_until_accounted(project, dataset, subscription, len(messages), timeout=120)
    assert accounting.consistent(len(messages)), accounting
    captured = capsys.readouterr()
    assert_no_secret(caplog.text, "pipeline logs")
    assert_no_secret(captured.out + captured.err, "pipeline stdout/stderr")
    for table, where in (("events", f" WHERE {ALL_TIME}"), ("rejected_events", ""), ("import_stats", "")):
        rows = [dict(r.items()) for r in client.query(f"SELECT * FROM `{project}.{dataset}.{table}`{where}").result()]
        assert rows or table != "events"
        assert_no_secret(repr(rows), f"table {table}")

"""Security, end to end: a pipeline run on the emulators leaves no secret in its logs, its
output or the tables (the other security tests: tests/unit/test_security.py)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import orjson

from tests.support.secrets import assert_no_secret


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

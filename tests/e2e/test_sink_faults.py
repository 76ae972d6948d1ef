"""Sink faults: the streaming job against a BigQuery that refuses rows and fails transiently.

The emulator never refuses a single row and never fails on its own (LOCAL_STACK.md), so a
fault-injecting proxy (tools/fault_proxy.py) sits between the pipeline and it:
``BIGQUERY_EMULATOR_HOST`` points at the proxy while the job is built, the test reads the
tables straight from the emulator.

* permanent per-row refusals -> ``rejected_events`` (reason ``sink_error``, exact raw payload),
  ``import_stats`` moves their count from imported to rejected/sink_error; identity holds;
* transient 503 bursts and lost responses (the insert happened, the answer did not arrive)
  -> retried, nothing lost; duplicates may reach the raw table, never ``events_dedup``;
* an outage (connections reset for several seconds, like a stopped emulator) mid-run ->
  retried after recovery, nothing lost.

A real stop/restart of the emulator process (file-backed, same port and data) is in
test_emulator_restart.py.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from adapters.bigquery import EMULATOR_ENV, EmulatorClient
from adapters.provision import provision_tables
from tools.fault_proxy import FaultProxy
from tools.local_run import ALL_TIME, publish, read_accounting, wait_until_accounted
from tools.localstack import provision_pubsub
from tools.samples import SampleMessage

PROJECT = "local-project"
REFUSED_NAME = "Refused By BigQuery"


def _event(run: str, index: int, name: str = "Song Played") -> bytes:
    when = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return orjson.dumps(
        {
            "type": "track",
            "event": name,
            "messageId": f"{run}-{index}",
            "timestamp": when,
            "userId": f"user-{index % 7}",
            "properties": {"n": index, "secret_marker": run},
        }
    )


class Stack:
    """One streaming job through a fault proxy, on a fresh dataset and subscription."""

    def __init__(self, monkeypatch, emulator_host: str) -> None:
        self.emulator_host = emulator_host
        self.client = EmulatorClient(PROJECT, emulator_host)
        suffix = uuid.uuid4().hex[:8]
        self.dataset, self.topic, self.subscription = f"faults_{suffix}", f"faults-{suffix}", f"faults-sub-{suffix}"
        provision_tables(self.client, self.dataset)
        provision_pubsub(PROJECT, self.topic, self.subscription)
        self.proxy = FaultProxy(emulator_host).start()
        self.monkeypatch = monkeypatch
        self.result = None
        self.published = 0

    def publish(self, messages: list[bytes]) -> None:
        publish(PROJECT, self.topic, [SampleMessage(m, {}, "fault") for m in messages], progress=False)
        self.published += len(messages)

    def start(self) -> None:
        from beam_jobs import segment_import

        # The job's BigQuery client is built here, from the env var: it talks to the proxy.
        with self.monkeypatch.context() as patch:
            patch.setenv(EMULATOR_ENV, self.proxy.url)
            self.result = segment_import.run(
                [
                    "--runner=BundleBasedDirectRunner",
                    f"--project={PROJECT}",
                    f"--dataset={self.dataset}",
                    f"--subscription=projects/{PROJECT}/subscriptions/{self.subscription}",
                ]
            )

    def wait(self, timeout: float = 120):
        accounting = wait_until_accounted(self.client, self.dataset, self.published, timeout=timeout, progress=False)
        state = getattr(self.result, "state", None)
        assert accounting.consistent(self.published), (accounting, self.published, state, self.proxy.stats)
        return accounting

    def rows(self, sql: str) -> list[dict]:
        return [dict(r.items()) for r in self.client.query(sql.format(ds=f"`{PROJECT}.{self.dataset}`")).result()]

    def close(self) -> None:
        if self.result is not None:
            self.result.cancel()
        self.proxy.stop()


@pytest.fixture
def stack(local_stack, monkeypatch):
    s = Stack(monkeypatch, local_stack["BIGQUERY_EMULATOR_HOST"])
    yield s
    s.close()


def _dedup_counts(stack: Stack) -> tuple[int, int, int]:
    [row] = stack.rows("SELECT COUNT(*) AS raw, COUNT(DISTINCT id) AS ids FROM {ds}.events WHERE " + ALL_TIME)
    [view] = stack.rows("SELECT COUNT(*) AS n FROM {ds}.events_dedup WHERE " + ALL_TIME)
    return int(row["raw"]), int(row["ids"]), int(view["n"])


def test_permanent_row_refusals_become_sink_errors_with_their_exact_payload(stack):
    run = uuid.uuid4().hex[:6]
    refused = {i for i in range(40) if i % 4 == 0}
    messages = [_event(run, i, REFUSED_NAME if i in refused else "Song Played") for i in range(40)]
    stack.proxy.refuse_rows(lambda table, row: table == "events" and row.get("customer_event_alias") == REFUSED_NAME)
    stack.publish(messages)
    stack.start()
    accounting = stack.wait()

    assert (accounting.imported, accounting.rejected, accounting.skipped, accounting.duplicate) == (30, 10, 0, 0)
    assert stack.proxy.stats["rows_refused"] == 10
    rejected = stack.rows("SELECT * FROM {ds}.rejected_events")
    assert {r["reason"] for r in rejected} == {"sink_error"} and len(rejected) == 10
    assert {bytes(r["payload_bytes"]) for r in rejected} == {messages[i] for i in refused}
    for row in rejected:
        assert row["stage"] == "sink" and row["segment_event"] == REFUSED_NAME
        assert "invalid" in row["detail"] and row["event_id"] and row["publish_time"] is not None
        assert row["payload_string"] == bytes(row["payload_bytes"]).decode() and not row["payload_truncated"]
    stats = {
        (r["outcome"], r["reason"]): int(r["n"])
        for r in stack.rows("SELECT outcome, reason, SUM(count) AS n FROM {ds}.import_stats GROUP BY outcome, reason")
    }
    assert {k: v for k, v in stats.items() if v} == {("imported", None): 30, ("rejected", "sink_error"): 10}
    assert _dedup_counts(stack) == (30, 30, 30)


def test_transient_failures_and_lost_responses_are_retried_without_loss_or_visible_duplicates(stack):
    run = uuid.uuid4().hex[:6]
    stack.proxy.fail_next(3, status=503)
    stack.proxy.drop_responses_next(2)
    stack.proxy.delay(0.3)
    stack.publish([_event(run, i) for i in range(60)])
    stack.start()
    stack.wait(timeout=150)
    stack.proxy.clear()

    stats = stack.proxy.stats
    assert stats["failed"] == 3 and stats["dropped_responses"] == 2, stats
    raw, ids, view = _dedup_counts(stack)
    assert ids == 60 and view == 60, (raw, ids, view)
    # Raw duplicates are allowed (the emulator may not honour insert ids), the view hides them.
    assert raw >= 60
    assert not stack.rows("SELECT * FROM {ds}.rejected_events")
    print(f"raw rows={raw} distinct ids={ids} events_dedup={view} proxy={stats}")


def test_an_outage_mid_run_is_retried_after_recovery(stack):
    run = uuid.uuid4().hex[:6]
    stack.publish([_event(run, i) for i in range(30)])
    stack.start()
    stack.wait()
    # The "emulator" goes away: connections are reset for 8 s, then everything passes again.
    stack.proxy.outage(8, mode="reset")
    stack.publish([_event(run, i) for i in range(30, 60)])
    accounting = stack.wait(timeout=150)
    assert stack.proxy.stats["outage_failed"] > 0, stack.proxy.stats
    raw, ids, view = _dedup_counts(stack)
    assert (accounting.imported, ids, view) == (60, 60, 60), (raw, ids, view)
    assert not stack.rows("SELECT * FROM {ds}.rejected_events")
    print(f"outage: raw rows={raw} distinct ids={ids} events_dedup={view} proxy={stack.proxy.stats}")


def test_a_lost_import_stats_response_does_not_double_count(stack):
    run = uuid.uuid4().hex[:6]
    stack.proxy.drop_responses_next(1, table="import_stats")
    stack.publish([_event(run, i) for i in range(20)])
    stack.start()
    # Wait (bounded) until every event is in and the stats request whose answer was lost has
    # been re-sent and answered; then the identity must hold.
    deadline = time.monotonic() + 60
    while True:
        accounting = read_accounting(stack.client, stack.dataset)
        if (
            accounting.imported == 20
            and stack.proxy.stats.get("dropped:import_stats") == 1
            and stack.proxy.stats.get("answered:import_stats", 0) >= 1
            and sum(accounting.stats.values()) >= 20
        ):
            break
        assert time.monotonic() < deadline, (accounting, stack.proxy.stats)
        time.sleep(0.3)
    assert accounting.consistent(20), accounting


def test_proxy_refuses_rows_like_bigquery_with_skip_invalid_rows(stack):
    """The proxy itself: refused rows get per-row `invalid` errors at their own index, the
    others are written (what BigQuery answers when skipInvalidRows is true)."""
    client = EmulatorClient(PROJECT, stack.proxy.url)
    stack.proxy.refuse_rows(lambda table, row: row.get("outcome") == "refuse")
    rows = [
        {"minute": "2026-01-01T00:00:00Z", "outcome": o, "count": 1, "written_at": "2026-01-01T00:00:00Z"}
        for o in ("imported", "refuse", "skipped", "refuse")
    ]
    errors = client.insert_rows_json(
        f"{PROJECT}.{stack.dataset}.import_stats", rows, skip_invalid_rows=True, retry=None
    )
    assert [(e["index"], e["errors"][0]["reason"]) for e in errors] == [(1, "invalid"), (3, "invalid")]
    written = stack.rows("SELECT outcome FROM {ds}.import_stats")
    assert sorted(r["outcome"] for r in written) == ["imported", "skipped"]

"""A real BigQuery outage: the emulator process stopped mid-run, then restarted.

Unlike the fault proxy of test_sink_faults.py, nothing stands between the streaming job and
the emulator here. The emulator runs file-backed on a fixed port
(``localstack.PersistentBigQueryEmulator``); once some rows are in, its process is stopped
(SIGTERM) or killed (SIGKILL), more messages are published while it is down, it stays down
until the job's sink has had its inserts refused and for at least ``DOWN_S``, then it starts
again on the same data dir and port. Beam's sink (the google-cloud-bigquery client's retry
of insertAll) must carry the job through: afterwards every message is accounted for, no
event is doubled in ``events_dedup``, and the rows are exactly what the pure mapping
(``process_message``) predicts.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import orjson
import pytest
from apache_beam.runners.runner import PipelineState

from adapters.bigquery import EMULATOR_ENV, EmulatorClient
from adapters.provision import provision_tables
from beam_jobs import segment_import
from beam_jobs.options import STREAMING_MAX_EVENT_AGE, import_settings
from domain.mapping import process_message
from schemas.tables import EVENTS, schema_fields
from tests.support.stack import query_rows
from tools.local_run import ALL_TIME, Accounting, publish, read_accounting, wait_until_accounted
from tools.localstack import PersistentBigQueryEmulator, provision_pubsub
from tools.samples import SampleMessage, generate_sample

PROJECT = "local-project"
BEFORE_OUTAGE, DURING_OUTAGE = 240, 60  # messages published before the stop / while down
ROWS_BEFORE_STOP = 30  # stop once at least this many events are in
DOWN_S = 3.0  # the emulator stays down at least this long ...
REFUSED_DEADLINE_S = 30.0  # ... and until the sink has been refused (or fail after this)
ACCOUNTED_DEADLINE_S = 90.0
RETRY_LOGGER = "google.api_core.retry"  # logs each retry of a google-cloud-bigquery call

T = TypeVar("T")


def _wait(what: str, check: Callable[[], T], timeout: float, interval: float = 0.25) -> T:
    """Poll ``check`` until it returns a truthy value; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what}"
        time.sleep(interval)  # poll interval of a deadline-bounded condition wait
    return result


class Expected:
    """What the pure mapping predicts for the published messages, duplicates included."""

    def __init__(self, messages: list[SampleMessage], job_argv: list[str]) -> None:
        # The job's own settings (app config, limits) from the same options.
        options = segment_import.make_options(job_argv).view_as(segment_import.SegmentImportOptions)
        settings = import_settings(options, default_max_event_age=STREAMING_MAX_EVENT_AGE)
        now = datetime.now(UTC)  # event times in the sample are minutes or days off: seconds do not matter
        self.rows: dict[str, dict[str, Any]] = {}
        self.stats: Counter[tuple[str, str | None]] = Counter()
        self.rejected: Counter[str] = Counter()
        for message in messages:
            outcome = process_message(message.data, message.attributes, None, settings, now)
            key = (outcome.outcome.value, outcome.reason.value if outcome.reason else None)
            if outcome.row is not None:
                if outcome.row["id"] in self.rows:  # dedup: the first copy is imported, repeats are duplicates
                    key = ("duplicate", None)
                else:
                    self.rows[outcome.row["id"]] = outcome.row
            elif outcome.outcome.value == "rejected":
                self.rejected[key[1]] += 1
            self.stats[key] += 1

    def count(self, outcome: str) -> int:
        return sum(n for (name, _), n in self.stats.items() if name == outcome)


def _canonical(value: Any, field: dict[str, Any]) -> Any:
    """One column value, as sent to insertAll or as read back, in a comparable form."""
    if field.get("mode") == "REPEATED":
        return [_canonical_scalar(item, field) for item in value or []]
    return _canonical_scalar(value, field)


def _canonical_scalar(value: Any, field: dict[str, Any]) -> Any:
    kind = field["type"]
    if value is None:
        return None
    if kind == "RECORD":
        return {sub["name"]: _canonical(value.get(sub["name"]), sub) for sub in field["fields"]}
    if kind == "TIMESTAMP":
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if kind == "NUMERIC":
        return Decimal(str(value))  # equal whatever the trailing zeros
    if kind == "JSON":
        return orjson.loads(value) if isinstance(value, (str, bytes)) else value
    if kind in ("FLOAT64", "FLOAT"):
        return float(value)
    if kind in ("INT64", "INTEGER"):
        return int(value)
    return value


class RestartRun:
    """The streaming job on a persistent BigQuery emulator, and the outage done to it."""

    def __init__(self, bigquery: PersistentBigQueryEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bigquery = bigquery
        self.monkeypatch = monkeypatch
        self.client = EmulatorClient(PROJECT, bigquery.host)
        suffix = uuid.uuid4().hex[:8]
        self.dataset, self.topic, subscription = f"restart_{suffix}", f"restart-{suffix}", f"restart-sub-{suffix}"
        provision_tables(self.client, self.dataset)
        provision_pubsub(PROJECT, self.topic, subscription)
        self.argv = [
            "--runner=BundleBasedDirectRunner",
            f"--project={PROJECT}",
            f"--dataset={self.dataset}",
            f"--subscription=projects/{PROJECT}/subscriptions/{subscription}",
        ]
        self.result = None
        self.published = 0

    def publish(self, messages: list[SampleMessage]) -> None:
        publish(PROJECT, self.topic, messages, progress=False)
        self.published += len(messages)

    def start_job(self) -> None:
        # The job's BigQuery client is built here from the env var; it keeps that endpoint,
        # which stays the same across the emulator's restart.
        with self.monkeypatch.context() as patch:
            patch.setenv(EMULATOR_ENV, self.bigquery.host)
            self.result = segment_import.run(self.argv)

    def accounting(self) -> Accounting:
        return read_accounting(self.client, self.dataset)

    def event_ids(self) -> set[str]:
        table = f"`{PROJECT}.{self.dataset}.{EVENTS}`"
        return {row["id"] for row in query_rows(self.client, f"SELECT id FROM {table} WHERE {ALL_TIME}")}

    def rows(self, sql: str) -> list[dict]:
        return query_rows(self.client, sql.format(ds=f"`{PROJECT}.{self.dataset}`"))

    def close(self) -> None:
        if self.result is not None:
            self.result.cancel()


@pytest.fixture
def run(local_stack, tmp_path, monkeypatch):
    """A job on its own persistent emulator (Pub/Sub: the session's emulator)."""
    with PersistentBigQueryEmulator(PROJECT, tmp_path / "bigquery") as bigquery:
        restart_run = RestartRun(bigquery, monkeypatch)
        yield restart_run
        restart_run.close()


def _refused_inserts(caplog: pytest.LogCaptureFixture, since: float) -> list[str]:
    """insertAll calls the job's client retried after a refused connection, since ``since``."""
    return [
        message
        for record in caplog.records
        if record.name == RETRY_LOGGER
        and record.created >= since
        and "insertAll" in (message := record.getMessage())
        and "Connection refused" in message
    ]


@pytest.mark.parametrize("crash", [False, True], ids=["stopped", "killed"])
def test_emulator_restart_mid_run_loses_nothing_and_doubles_nothing(run, caplog, crash):
    caplog.set_level(logging.DEBUG, logger=RETRY_LOGGER)
    started = datetime.now(UTC)
    messages = generate_sample(BEFORE_OUTAGE + DURING_OUTAGE, seed=2027, now=started)
    expected = Expected(messages, run.argv)
    run.publish(messages[:BEFORE_OUTAGE])
    run.start_job()

    # Some rows are in (not all: more messages come while the emulator is down).
    _wait(f">= {ROWS_BEFORE_STOP} events in", lambda: run.accounting().imported >= ROWS_BEFORE_STOP, 60)
    ids_before = run.event_ids()
    down_at = time.time()
    run.bigquery.stop(crash=crash)
    run.publish(messages[BEFORE_OUTAGE:])
    # Down until the sink has had inserts refused (and at least DOWN_S): the job hit the outage.
    refused = _wait("the job's inserts to be refused", lambda: _refused_inserts(caplog, down_at), REFUSED_DEADLINE_S)
    time.sleep(max(0.0, down_at + DOWN_S - time.time()))  # the outage's minimum length, not a wait for an outcome
    down_s = time.time() - down_at
    run.bigquery.start()

    accounting = wait_until_accounted(
        run.client, run.dataset, run.published, timeout=ACCOUNTED_DEADLINE_S, progress=False
    )
    assert accounting.consistent(run.published), (accounting, run.published, run.result.state)
    assert run.result.state == PipelineState.RUNNING  # the job rode out the outage
    assert (accounting.imported, accounting.duplicate, accounting.skipped, accounting.rejected) == (
        len(expected.rows),
        expected.count("duplicate"),
        expected.count("skipped"),
        expected.count("rejected"),
    )

    # What was written before the stop survived the restart.
    assert ids_before and ids_before <= run.event_ids()
    stats = {
        (r["outcome"], r["reason"]): int(r["n"])
        for r in run.rows(
            "SELECT outcome, reason, SUM(count) AS n FROM {ds}.import_stats_dedup GROUP BY outcome, reason"
        )
    }
    assert {k: v for k, v in stats.items() if v} == dict(expected.stats)
    rejected = Counter(r["reason"] for r in run.rows("SELECT reason FROM {ds}.rejected_events_dedup"))
    assert rejected == expected.rejected

    # events_dedup: one row per event, each exactly the row the pure mapping predicts.
    [counts] = run.rows(f"SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids FROM {{ds}}.events_dedup WHERE {ALL_TIME}")
    assert (counts["n"], counts["ids"]) == (len(expected.rows), len(expected.rows))
    stored = {r["id"]: r for r in run.rows(f"SELECT * FROM {{ds}}.events_dedup WHERE {ALL_TIME}")}
    assert stored.keys() == expected.rows.keys()
    fields, now, mismatches = schema_fields(EVENTS), datetime.now(UTC), {}
    for event_id, predicted in expected.rows.items():
        got = stored[event_id]
        # Set by the pipeline, not by the payload: ingested_at (processing time) and, for an
        # event without receivedAt, received_at (the publish time).
        by_pipeline = {"ingested_at"} | ({"received_at"} if predicted["received_at"] is None else set())
        assert all(started <= got[name] <= now for name in by_pipeline), {name: got[name] for name in by_pipeline}
        diff = {
            f["name"]: (_canonical(got[f["name"]], f), _canonical(predicted.get(f["name"]), f))
            for f in fields  # (a mapped row leaves out the attribution columns it does not set)
            if f["name"] not in by_pipeline and _canonical(got[f["name"]], f) != _canonical(predicted.get(f["name"]), f)
        }
        if diff:
            mismatches[event_id] = diff
    assert not mismatches, f"{len(mismatches)} rows differ from the mapping (got, predicted): {mismatches}"

    [raw] = run.rows(f"SELECT COUNT(*) AS n FROM {{ds}}.events WHERE {ALL_TIME}")
    print(
        f"{'killed' if crash else 'stopped'}: {len(ids_before)} events in before the stop, down {down_s:.1f}s, "
        f"{len(refused)} refused insert retries; {accounting.summary_line(run.published)}; "
        f"raw events rows={raw['n']} events_dedup={counts['n']}"
    )

"""The local emulators, started through tools.localstack, behave like the services.

These start real servers (the first run builds the Go Pub/Sub emulator and installs the
BigQuery emulator's virtualenv). An emulator already named by PUBSUB_EMULATOR_HOST /
BIGQUERY_EMULATOR_HOST is used instead of starting one.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.api_core.retry import Retry
from google.cloud import bigquery, pubsub_v1

from adapters.bigquery import EmulatorClient, emulator_client
from tools.localstack import BIGQUERY_ENV, PUBSUB_ENV, REPO, Server, local_stack, start_bigquery_emulator

PROJECT = "localstack-test"
DEADLINE_S = 30.0
# Fail fast instead of retrying for minutes (the emulator answers some bad inserts with 500).
SHORT_RETRY = Retry(deadline=10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with local_stack(PROJECT, tmp_path_factory.mktemp("localstack")) as env:
        yield env


def _pull(subscriber: pubsub_v1.SubscriberClient, subscription: str, want: int) -> list:
    """Pull and ack until ``want`` messages arrived or the deadline passed."""
    received: list = []
    deadline = time.monotonic() + DEADLINE_S
    while len(received) < want and time.monotonic() < deadline:
        response = subscriber.pull(subscription=subscription, max_messages=10, timeout=5)
        if response.received_messages:
            subscriber.acknowledge(subscription=subscription, ack_ids=[m.ack_id for m in response.received_messages])
            received.extend(m.message for m in response.received_messages)
    return received


def test_pubsub_round_trip_keeps_data_and_attributes(stack: dict[str, str]) -> None:
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    suffix = uuid.uuid4().hex[:8]
    topic = publisher.topic_path(PROJECT, f"events-{suffix}")
    subscription = subscriber.subscription_path(PROJECT, f"events-{suffix}")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic, ack_deadline_seconds=60)
    assert subscriber.get_subscription(subscription=subscription).ack_deadline_seconds == 60

    sent = {f'{{"n": {i}}}'.encode(): {"n": str(i), "source": "test"} for i in range(3)}
    for data, attributes in sent.items():
        publisher.publish(topic, data, **attributes).result(timeout=DEADLINE_S)

    got = {m.data: dict(m.attributes) for m in _pull(subscriber, subscription, want=3)}
    assert got == sent


def test_pubsub_subscription_without_ack_deadline_gets_the_default(stack: dict[str, str]) -> None:
    # Beam's DirectRunner creates subscriptions without a deadline (ReadFromPubSub(topic=...)).
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    suffix = uuid.uuid4().hex[:8]
    topic = publisher.topic_path(PROJECT, f"nodeadline-{suffix}")
    subscription = subscriber.subscription_path(PROJECT, f"nodeadline-{suffix}")
    publisher.create_topic(name=topic)
    created = subscriber.create_subscription(name=subscription, topic=topic)
    assert created.ack_deadline_seconds == 10


def test_bigquery_insert_with_row_ids_and_query_back(stack: dict[str, str]) -> None:
    client = emulator_client(PROJECT)
    assert client is not None, "local_stack sets BIGQUERY_EMULATOR_HOST"
    dataset = client.create_dataset(f"ds_{uuid.uuid4().hex[:8]}")
    table = client.create_table(
        bigquery.Table(
            f"{PROJECT}.{dataset.dataset_id}.events",
            schema=[
                bigquery.SchemaField("id", "STRING", mode="REQUIRED"),
                bigquery.SchemaField("ts", "TIMESTAMP"),
                bigquery.SchemaField("amount", "NUMERIC"),
                bigquery.SchemaField("props", "JSON"),
            ],
        )
    )
    rows = [
        {
            "id": f"r{i}",
            "ts": "2026-11-28T12:00:00.123456Z",
            "amount": "12.50",
            # JSON columns go as JSON-encoded strings (the emulator 500s on objects).
            "props": json.dumps({"i": i}),
        }
        for i in range(3)
    ]

    errors = client.insert_rows_json(table, rows, row_ids=[r["id"] for r in rows], retry=SHORT_RETRY)
    assert errors == []

    result = client.query(
        f"SELECT id, ts, amount, JSON_VALUE(props, '$.i') AS i "
        f"FROM `{table.full_table_id.replace(':', '.')}` ORDER BY id",
        job_retry=None,
    ).result(timeout=DEADLINE_S)
    got = [(r.id, r.ts.isoformat(), str(r.amount.normalize()), r.i) for r in result]
    assert got == [(f"r{i}", "2026-11-28T12:00:00.123456+00:00", "12.5", str(i)) for i in range(3)]


def test_emulator_client_survives_pickling(stack: dict[str, str]) -> None:
    # Beam pickles WriteToBigQuery(test_client=...) with the transform.
    original = emulator_client(PROJECT)
    client = pickle.loads(pickle.dumps(original))
    assert isinstance(client, EmulatorClient)
    assert (client.project, client.endpoint) == (PROJECT, stack[BIGQUERY_ENV])
    dataset = client.create_dataset(f"pickled_{uuid.uuid4().hex[:8]}", retry=SHORT_RETRY)
    assert original.get_dataset(dataset.reference, retry=SHORT_RETRY).dataset_id == dataset.dataset_id


def test_cli_starts_detached_servers_and_stops_them(tmp_path: Path) -> None:
    # Without the env vars the CLI starts both servers itself.
    env = {k: v for k, v in os.environ.items() if k not in (PUBSUB_ENV, BIGQUERY_ENV)}
    cli = [sys.executable, "-m", "tools.localstack"]
    subprocess.run(
        [*cli, "start", "--project", PROJECT, "--state-dir", str(tmp_path)], cwd=REPO, env=env, check=True, timeout=300
    )
    servers = []
    try:
        exported = dict(
            line.removeprefix("export ").split("=", 1) for line in (tmp_path / "env.sh").read_text().splitlines()
        )
        assert set(exported) == {PUBSUB_ENV, BIGQUERY_ENV}
        for name in ("pubsub-emulator", "bigquery-emulator"):
            pid, start_time = map(int, (tmp_path / f"{name}.pid").read_text().split())
            servers.append(Server(name, "", pid, start_time, tmp_path / f"{name}.log"))
        assert all(s.running() for s in servers)
        # The CLI has exited; the servers must still serve.
        bq = EmulatorClient(PROJECT, exported[BIGQUERY_ENV])
        assert list(bq.list_datasets(retry=SHORT_RETRY)) == []
    finally:
        subprocess.run([*cli, "stop", "--state-dir", str(tmp_path)], cwd=REPO, env=env, check=True, timeout=60)
    assert not any(s.running() for s in servers)
    assert not list(tmp_path.glob("*.pid"))


@pytest.mark.parametrize("time_travel", [True, False])
def test_bigquery_time_travel_snapshots_can_be_turned_off(tmp_path: Path, time_travel: bool) -> None:
    # bqemulator copies the whole table after every write, for FOR SYSTEM_TIME AS OF; the
    # local stack turns that off (memory grew with rows squared) and time travel then reads
    # the live table.
    server = start_bigquery_emulator(PROJECT, tmp_path, time_travel=time_travel)
    try:
        client = EmulatorClient(PROJECT, server.host)
        client.create_dataset("travel", retry=SHORT_RETRY)
        table = client.create_table(bigquery.Table(f"{PROJECT}.travel.t", schema=[bigquery.SchemaField("n", "INT64")]))
        assert client.insert_rows_json(table, [{"n": 1}], retry=SHORT_RETRY) == []
        [(between,)] = client.query("SELECT CURRENT_TIMESTAMP()", job_retry=None).result(timeout=DEADLINE_S)
        assert client.insert_rows_json(table, [{"n": 2}], retry=SHORT_RETRY) == []
        as_of = f"SELECT COUNT(*) FROM `{PROJECT}.travel.t` FOR SYSTEM_TIME AS OF TIMESTAMP '{between.isoformat()}'"
        [(count,)] = client.query(as_of, job_retry=None).result(timeout=DEADLINE_S)
        assert count == (1 if time_travel else 2)
    finally:
        server.stop()

"""``segment-branch replay``: stored dead letters go back through the import, byte for byte."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, datetime, timedelta

import orjson
from google.cloud import pubsub_v1

from adapters.provision import provision_tables
from beam_jobs import backfill, cli
from domain.dead_letters import rejected_row
from schemas.reasons import Reason
from tests.support.mapping import mapping_track_event
from tests.support.stack import STACK_PROJECT
from tools import localstack

NOW = datetime.now(UTC).replace(microsecond=0)


def stored_dead_letters(bq_client) -> tuple[str, list[tuple[bytes, dict, str]]]:
    """A dataset holding four dead letters as the pipeline writes them (rejected_row)."""
    dataset = f"replay_{uuid.uuid4().hex[:8]}"
    provision_tables(bq_client, dataset)
    letters = [
        (orjson.dumps(mapping_track_event(messageId="r-1")), {"branch_key": "key_live_new"}, Reason.UNKNOWN_APP),
        (orjson.dumps(mapping_track_event(messageId="r-2")), {}, Reason.NO_IDENTIFIER),
        (b'{"messageId": "r-3",\n "type": "track"}', {}, Reason.UNKNOWN_APP),  # a raw newline
        (orjson.dumps(mapping_track_event(messageId="r-4")), {"branch_key": "key_live_new"}, Reason.UNKNOWN_APP),
    ]
    rows = [
        rejected_row(data, attrs, NOW, reason, "detail", NOW - timedelta(minutes=n), max_stored_bytes=1 << 20,
                     app_id="local-app" if reason is Reason.NO_IDENTIFIER else None)
        for n, (data, attrs, reason) in enumerate(letters)
    ]  # fmt: skip
    assert bq_client.insert_rows_json(f"{STACK_PROJECT}.{dataset}.rejected_events", rows) == []
    return dataset, [(data, attrs, reason.value) for data, attrs, reason in letters]


def test_replay_republishes_the_selected_messages_with_their_attributes(local_stack, bq_client, capsys):
    dataset, letters = stored_dead_letters(bq_client)
    topic, subscription = f"replay-{uuid.uuid4().hex[:6]}", f"replay-sub-{uuid.uuid4().hex[:6]}"
    localstack.provision_pubsub(STACK_PROJECT, topic, subscription)
    window = ["--since", (NOW - timedelta(hours=1)).isoformat(), "--until", (NOW + timedelta(minutes=1)).isoformat()]
    args = ["replay", "--project", STACK_PROJECT, "--dataset", dataset, *window, "--reason", "unknown_app"]
    assert cli.main([*args, "--topic", f"projects/{STACK_PROJECT}/topics/{topic}"]) == 0
    assert capsys.readouterr().out.strip() == "REPLAY selected=3 published=3"

    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(STACK_PROJECT, subscription)
    received: list[tuple[bytes, dict]] = []
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while len(received) < 3 and datetime.now(UTC) < deadline:  # a condition with a deadline
        response = subscriber.pull(subscription=path, max_messages=10, timeout=10)
        received += [(m.message.data, dict(m.message.attributes)) for m in response.received_messages]
        if response.received_messages:
            subscriber.acknowledge(subscription=path, ack_ids=[m.ack_id for m in response.received_messages])
    subscriber.close()
    expected = [(data, attrs) for data, attrs, reason in letters if reason == "unknown_app"]
    assert sorted(received, key=repr) == sorted(expected, key=repr)


def test_replay_writes_one_archive_per_app_for_the_backfill(local_stack, bq_client, capsys, tmp_path):
    dataset, letters = stored_dead_letters(bq_client)
    window = ["--since", (NOW - timedelta(hours=1)).isoformat(), "--until", (NOW + timedelta(minutes=1)).isoformat()]
    assert cli.main(["replay", "--project", STACK_PROJECT, "--dataset", dataset, *window, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "REPLAY selected=4 written=3 files=2 multiline=1"
    archives = {path.name.split("-2")[0]: path for path in tmp_path.glob("replay-*.jsonl.gz")}
    assert set(archives) == {"replay-local-app", "replay-unknown-app"}
    lines = {name: gzip.decompress(path.read_bytes()).splitlines() for name, path in archives.items()}
    assert lines["replay-local-app"] == [letters[1][0]]
    assert lines["replay-unknown-app"] == [letters[3][0], letters[0][0]]  # oldest first, exact bytes
    commands = {
        line.split("--default_app_id=")[1].split()[0]: line.split()
        for line in out.splitlines()
        if "beam_jobs.backfill" in line
    }
    assert set(commands) == {"local-app", "unknown-app"}
    assert commands["local-app"] == [
        "python", "-m", "beam_jobs.backfill", f"--project={STACK_PROJECT}", f"--dataset={dataset}",
        "--default_app_id=local-app", f"--input={archives['replay-local-app']}",
    ]  # fmt: skip
    # The printed command runs as printed (here on the local batch runner): every flag it needs.
    result = backfill.run(["--runner=FnApiRunner", *commands["local-app"][3:]])
    assert backfill.summary(backfill.outcome_counts(result)).startswith("BACKFILL lines=1 ")
    assert backfill.summary(backfill.outcome_counts(result)).endswith(" consistent=true")

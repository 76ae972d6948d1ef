"""Bad input through the real streaming pipeline: every item of the generated corpus
(tools/bad_inputs.py) gets its documented outcome and every rejected payload is stored byte
for byte (payload_too_large: prefix + size + SHA-256). The same corpus through the pure
mapping, and the findings list: tests/unit/test_bad_input.py.

Local limits: the Pub/Sub emulator (pstest, Go gRPC) refuses publish requests over 4 MiB (the
client times out), and Beam's DirectRunner pulls 10 messages at a time through a gRPC client
with a 4 MiB receive limit (a larger pull response raises ResourceExhausted in the reader and
the job stops). So the pipeline run publishes the "10 MB" item at 2.5 MB
(``LOCAL_PULL_SAFE_DATA``); the pure test uses the real ~10 MB payload.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.support.mapping import MAPPING_NOW
from tests.support.stack import query_rows, rows_by
from tools.bad_inputs import DEFAULT_MAX_PAYLOAD_BYTES, LOCAL_PULL_SAFE_DATA, bad_input_corpus

CORPUS = bad_input_corpus(MAPPING_NOW)


# ------------------------------------------------------------------ through the pipeline


@pytest.fixture(scope="module")
def pipeline_run(local_stack, tmp_path_factory):
    """Publish the corpus (10 MB item at pstest's max), run the streaming job until every
    message is accounted for, stop it; return (client, dataset, items, accounting)."""
    import uuid

    from adapters.bigquery import make_client
    from adapters.provision import provision_tables
    from tools.local_run import import_until_accounted, publish
    from tools.localstack import provision_pubsub
    from tools.samples import SampleMessage

    project = "local-project"
    suffix = uuid.uuid4().hex[:8]
    dataset, topic, subscription = f"bad_input_{suffix}", f"bad-{suffix}", f"bad-sub-{suffix}"
    client = make_client(project)
    provision_tables(client, dataset)
    provision_pubsub(project, topic, subscription)
    items = bad_input_corpus(datetime.now(UTC), ten_mb=LOCAL_PULL_SAFE_DATA)
    assert not any(i.too_big_for_pstest for i in items)
    publish(project, topic, [SampleMessage(i.data, dict(i.attributes), i.label) for i in items], progress=False)
    accounting = import_until_accounted(project, dataset, subscription, len(items), timeout=180)
    return client, dataset, items, accounting


def test_pipeline_accounts_for_every_bad_input(pipeline_run):
    _, _, items, accounting = pipeline_run
    assert accounting.consistent(len(items)), accounting
    expected = {o: sum(1 for i in items if i.outcome == o) for o in ("imported", "skipped", "rejected")}
    assert (accounting.imported, accounting.skipped, accounting.rejected, accounting.duplicate) == (
        expected["imported"],
        expected["skipped"],
        expected["rejected"],
        0,
    )


def test_pipeline_outcome_per_reason_matches_the_corpus(pipeline_run):
    client, dataset, items, _ = pipeline_run
    rows = query_rows(
        client,
        f"SELECT outcome, reason, SUM(count) AS n FROM `{client.project}.{dataset}.import_stats` "
        "GROUP BY outcome, reason",
    )
    got = {(r["outcome"], r["reason"]): int(r["n"]) for r in rows if r["n"]}
    expected: dict = {}
    for item in items:
        key = (item.outcome, item.reason)
        expected[key] = expected.get(key, 0) + 1
    assert got == expected


def test_pipeline_stores_each_rejected_payload_byte_for_byte(pipeline_run):
    client, dataset, items, _ = pipeline_run
    rows = query_rows(client, f"SELECT * FROM `{client.project}.{dataset}.rejected_events`")
    by_hash = rows_by(rows, "payload_sha256")
    rejected = [i for i in items if i.outcome == "rejected"]
    assert len(rows) == len(rejected)
    for item in rejected:
        [row] = by_hash[item.sha256]
        assert row["reason"] == item.reason
        assert {a["key"]: a["value"] for a in row["attributes"]} == dict(item.attributes)
        assert row["payload_size"] == len(item.data)
        stored = bytes(row["payload_bytes"])
        if item.reason == "payload_too_large":
            assert stored == item.data[:DEFAULT_MAX_PAYLOAD_BYTES], item.label
            assert row["payload_truncated"] is True
            assert row["payload_sha256"] == hashlib.sha256(item.data).hexdigest()
        else:
            assert stored == item.data, item.label
            assert hashlib.sha256(stored).hexdigest() == row["payload_sha256"]
            assert not row["payload_truncated"]
            try:
                text = item.data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            assert row["payload_string"] == text, item.label


def test_pipeline_imports_odd_but_valid_events_exactly(pipeline_run):
    client, dataset, items, _ = pipeline_run
    from tools.local_run import ALL_TIME

    rows = query_rows(client, f"SELECT * FROM `{client.project}.{dataset}.events` WHERE {ALL_TIME}")
    by_message = rows_by(rows, "segment_message_id")
    for item in (i for i in items if i.outcome == "imported"):
        found = by_message.get(item.message_id, [])
        assert len(found) == 1, (item.label, len(found))
        row = found[0]
        assert not [w for w in item.warnings if w not in row["warnings"]], item.label
        for column, expected in item.columns.items():
            if item.label == "max_numeric_exact":
                continue  # (never checked through the emulator; tests/unit/test_bad_input.py checks it exactly)
            actual = row[column]
            if isinstance(actual, Decimal):
                assert actual == Decimal(expected), (item.label, column)
            elif column == "custom_data" and actual is not None and not isinstance(actual, str):
                import json

                assert actual == json.loads(expected), (item.label, column)
            else:
                assert actual == expected, (item.label, column, actual)
    # Nothing besides the corpus' imported messages.
    assert len(by_message) == sum(1 for i in items if i.outcome == "imported")

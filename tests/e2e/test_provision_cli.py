"""``segment-branch provision`` creates the dataset, tables and views once, idempotently."""

from __future__ import annotations

import uuid

import pytest
from google.cloud import bigquery

from beam_jobs import backfill, cli, segment_import
from domain.touches import ATTRIBUTION_COLUMNS
from schemas.tables import TABLES, VIEWS, results_dataset
from tests.support.stack import STACK_PROJECT


def test_provision_creates_every_table_and_view_then_nothing(local_stack, bq_client, capsys):
    dataset = f"provision_{uuid.uuid4().hex[:8]}"
    assert cli.main(["provision", "--project", STACK_PROJECT, "--dataset", dataset]) == 0
    created = capsys.readouterr().out.removeprefix("created: ").strip().split(", ")
    assert created == [dataset, *TABLES, *created[1 + len(TABLES) : -1], results_dataset(dataset)]
    assert sorted(created[1 + len(TABLES) : -1]) == sorted(VIEWS)
    assert bq_client.get_dataset(results_dataset(dataset)).default_table_expiration_ms == 86_400_000
    assert {table.table_id for table in bq_client.list_tables(f"{STACK_PROJECT}.{dataset}")} == {*TABLES, *VIEWS}

    assert cli.main(["provision", "--project", STACK_PROJECT, "--dataset", dataset]) == 0
    assert capsys.readouterr().out.strip() == "created: nothing (all present)"


def test_provision_adds_the_columns_a_live_table_lacks(local_stack, bq_client, capsys):
    # An events table as the release before attribution created it: the same columns, less
    # the attribution ones (appended last).
    dataset = f"provision_{uuid.uuid4().hex[:8]}"
    assert cli.main(["provision", "--project", STACK_PROJECT, "--dataset", dataset]) == 0
    table_id = f"{STACK_PROJECT}.{dataset}.events"
    full = bq_client.get_table(table_id)
    bq_client.delete_table(table_id)
    older = bigquery.Table(table_id, schema=[f for f in full.schema if f.name not in ATTRIBUTION_COLUMNS])
    older.time_partitioning = full.time_partitioning
    bq_client.create_table(older)
    capsys.readouterr()

    # The jobs refuse to start on it, naming what is missing and what to run.
    for job in (segment_import, backfill):
        with pytest.raises(SystemExit, match=r"events lacks attributed, .*segment-branch provision"):
            job.run([f"--project={STACK_PROJECT}", f"--dataset={dataset}", "--subscription=projects/p/subscriptions/s",
                     "--input=/nonexistent.jsonl"])  # fmt: skip

    assert cli.main(["provision", "--project", STACK_PROJECT, "--dataset", dataset]) == 0
    added = capsys.readouterr().out.removeprefix("created: ").strip().split(", ")
    assert added == [f"events.{name}" for name in ATTRIBUTION_COLUMNS]
    assert [field.name for field in bq_client.get_table(table_id).schema] == [field.name for field in full.schema]


def test_every_table_has_its_layout(local_stack, bq_client):
    """Partitioning, clustering and the partition expiration of each table, as
    schemas/tables.py declares them, as the emulator stored them. (It neither stores nor
    enforces the required partition filter: tests/unit/test_provision.py checks the request,
    tests/unit/test_partition_filters.py the queries.)"""
    dataset = f"provision_{uuid.uuid4().hex[:8]}"
    assert (
        cli.main(["provision", "--project", STACK_PROJECT, "--dataset", dataset, "--partition-expiration-days", "400"])
        == 0
    )
    for name, spec in TABLES.items():
        table = bq_client.get_table(f"{STACK_PROJECT}.{dataset}.{name}")
        if spec.partition_field is None:
            assert table.time_partitioning is None, name
        else:
            assert table.time_partitioning.type_ == bigquery.TimePartitioningType.DAY, name
            assert table.time_partitioning.field == spec.partition_field, name
            assert table.time_partitioning.expiration_ms == 400 * 86_400_000, name
        assert list(table.clustering_fields or ()) == list(spec.clustering), name
    assert TABLES["events"].require_partition_filter and TABLES["events"].clustering == (
        "app_id",
        "name",
        "user_data_os",
    )

"""``segment-branch provision`` creates the dataset, tables and views once, idempotently."""

from __future__ import annotations

import uuid

from beam_jobs import cli
from schemas.tables import TABLES, VIEWS
from tests.support.stack import STACK_PROJECT


def test_provision_creates_every_table_and_view_then_nothing(local_stack, bq_client, capsys):
    dataset = f"provision_{uuid.uuid4().hex[:8]}"
    assert cli.main(["provision", "--project", STACK_PROJECT, "--dataset", dataset]) == 0
    created = capsys.readouterr().out.removeprefix("created: ").strip().split(", ")
    assert created == [dataset, *TABLES, *created[1 + len(TABLES) :]]
    assert sorted(created[1 + len(TABLES) :]) == sorted(VIEWS)
    assert {table.table_id for table in bq_client.list_tables(f"{STACK_PROJECT}.{dataset}")} == {*TABLES, *VIEWS}

    assert cli.main(["provision", "--project", STACK_PROJECT, "--dataset", dataset]) == 0
    assert capsys.readouterr().out.strip() == "created: nothing (all present)"

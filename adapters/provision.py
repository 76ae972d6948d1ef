"""Create the importer's BigQuery dataset, tables and views (``segment-branch provision``),
and the dataset of the Query API's stored results (its tables expire after a day).

Idempotent: existing resources are left as they are, except that a table missing columns of
its schema file gets them (new columns are NULLABLE or REPEATED, so BigQuery adds them to a
live table in place; old rows read NULL) and a view whose SQL changed gets the new SQL. Tables come from ``schemas/``; views from
``schemas/sql/*.sql`` (``{dataset}`` is replaced by the dataset's full name).
"""

from __future__ import annotations

import graphlib

from google.api_core import exceptions
from google.cloud import bigquery

from schemas.tables import RESULTS_EXPIRATION_DAYS, TABLES, VIEWS, TableSpec, results_dataset, view_sql


def _schema(fields: list[dict]) -> list[bigquery.SchemaField]:
    return [bigquery.SchemaField.from_api_repr(field) for field in fields]


def table_definition(dataset: str, spec: TableSpec, partition_expiration_days: int | None = None) -> bigquery.Table:
    """The table ``provision`` creates for ``spec`` in ``project.dataset``: schema, description,
    day partitioning (with the expiration), the required partition filter, clustering."""
    table = bigquery.Table(f"{dataset}.{spec.name}", schema=_schema(spec.fields))
    table.description = spec.description
    if spec.partition_field is not None:
        table.time_partitioning = bigquery.TimePartitioning(
            type_=bigquery.TimePartitioningType.DAY,
            field=spec.partition_field,
            expiration_ms=partition_expiration_days * 86_400_000 if partition_expiration_days else None,
        )
        table.require_partition_filter = spec.require_partition_filter
    table.clustering_fields = list(spec.clustering) or None
    return table


def provision_tables(
    client: bigquery.Client, dataset: str, *, partition_expiration_days: int | None = None, location: str | None = None
) -> list[str]:
    """Create the dataset, tables and views that do not exist yet, and the columns a table
    lacks; return what was created (columns as ``table.column``)."""
    created = []
    dataset_ref = bigquery.Dataset(f"{client.project}.{dataset}")
    if location:
        dataset_ref.location = location
    try:
        live_dataset = client.get_dataset(dataset_ref.reference)
    except exceptions.NotFound:
        live_dataset = client.create_dataset(dataset_ref)
        created.append(dataset)
    for spec in TABLES.values():
        table = table_definition(f"{client.project}.{dataset}", spec, partition_expiration_days)
        try:
            live = client.get_table(table.reference)
        except exceptions.NotFound:
            client.create_table(table)
            created.append(spec.name)
            continue
        missing = [field for field in table.schema if field.name not in {f.name for f in live.schema}]
        if missing:
            live.schema = [*live.schema, *missing]
            client.update_table(live, ["schema"])
            created += [f"{spec.name}.{field.name}" for field in missing]
    for name in views_in_dependency_order():
        view = bigquery.Table(f"{client.project}.{dataset}.{name}")
        view.view_query = view_sql(name).replace("{dataset}", f"`{client.project}.{dataset}`")
        try:
            live = client.get_table(view.reference)
        except exceptions.NotFound:
            client.create_table(view)
            created.append(name)
            continue
        if live.view_query != view.view_query:  # an upgrade changed the view: replace its SQL
            known = live.view_query is not None  # the emulator does not return a view's SQL
            live.view_query = view.view_query
            client.update_table(live, ["view_query"])
            if known:
                created.append(f"{name} (updated)")
    results = bigquery.Dataset(f"{client.project}.{results_dataset(dataset)}")
    if location or live_dataset.location:  # a query may only write where it reads
        results.location = location or live_dataset.location
    results.default_table_expiration_ms = RESULTS_EXPIRATION_DAYS * 86_400_000
    try:
        client.get_dataset(results.reference)
    except exceptions.NotFound:
        client.create_dataset(results)
        created.append(results.dataset_id)
    return created


def missing_columns(client: bigquery.Client, dataset: str, tables: list[str]) -> dict[str, list[str]]:
    """Per table, the columns of its schema file the live table lacks (a missing table: all)."""
    missing = {}
    for name in tables:
        try:
            live = {field.name for field in client.get_table(f"{client.project}.{dataset}.{name}").schema}
        except exceptions.NotFound:
            live = set()
        lacking = [field["name"] for field in TABLES[name].fields if field["name"] not in live]
        if lacking:
            missing[name] = lacking
    return missing


def views_in_dependency_order() -> list[str]:
    """The views, each after the views it reads (BigQuery refuses a view of a missing table)."""
    texts = {name: view_sql(name) for name in sorted(VIEWS)}
    graph = {
        name: {other for other in texts if other != name and f"{{dataset}}.{other}" in text}
        for name, text in texts.items()
    }
    return list(graphlib.TopologicalSorter(graph).static_order())

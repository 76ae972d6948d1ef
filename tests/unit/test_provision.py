"""Provisioning order: BigQuery refuses a view over a table or view that does not exist yet."""

from adapters.provision import views_in_dependency_order
from schemas.tables import SQL_DIR, VIEWS, view_sql


def test_every_view_is_created_after_the_views_it_reads():
    order = views_in_dependency_order()
    assert sorted(order) == sorted(VIEWS)
    for position, name in enumerate(order):
        later = order[position + 1 :]
        assert not [other for other in later if f"{{dataset}}.{other}" in view_sql(name)], name
    assert order.index("events_dedup") < order.index("daily_revenue")


def test_every_view_file_is_a_named_view():
    assert sorted(path.stem for path in SQL_DIR.glob("*.sql")) == sorted(VIEWS)


def test_each_tables_definition_carries_its_layout_to_bigquery():
    """What provision sends (the emulator drops requirePartitionFilter, so it is checked here)."""
    from adapters.provision import table_definition
    from schemas.tables import TABLES

    for spec in TABLES.values():
        sent = table_definition("p.d", spec, partition_expiration_days=400).to_api_repr()
        if spec.partition_field is None:
            assert "timePartitioning" not in sent and "requirePartitionFilter" not in sent, spec.name
        else:
            assert sent["timePartitioning"] == {
                "type": "DAY",
                "field": spec.partition_field,
                "expirationMs": str(400 * 86_400_000),
            }, spec.name
            assert sent["requirePartitionFilter"] is spec.require_partition_filter, spec.name
        assert (sent.get("clustering") or {}).get("fields", []) == list(spec.clustering), spec.name
    assert table_definition("p.d", TABLES["events"]).to_api_repr()["requirePartitionFilter"] is True

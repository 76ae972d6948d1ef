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

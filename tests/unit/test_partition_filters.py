"""Every query this project runs over a partition-filtered table filters on its partition column.

``events`` requires a partition filter on ``timestamp`` (schemas/tables.py). The BigQuery
emulator does not enforce it, so a query without one passes locally and fails on BigQuery:
this test reads the SQL text of every serving and export query over ``events`` (directly or
through a view) and requires a bound on ``timestamp``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from adapters import erase, export_store
from domain.touches import KEY_KINDS
from schemas.tables import EVENTS, TABLES, VIEWS, view_sql
from serving import status_sql
from serving.query_sql import AnalyticsRequest, build_analytics_query

T = datetime(2026, 11, 20, tzinfo=UTC)
PARTITION_BOUND = re.compile(r"`?timestamp`?\s*>=\s*@\w+")
# Views over events: reading one reads events, so the bound must come with the query.
EVENT_VIEWS = {name for name in VIEWS if f"{{dataset}}.{EVENTS}" in view_sql(name) or "events_dedup" in view_sql(name)}


def _reads_events(sql: str) -> bool:
    return bool(re.search(rf"\b({EVENTS}|{'|'.join(sorted(EVENT_VIEWS))})`", sql))


SERVING_QUERIES = {
    "latest_events": status_sql.latest_events("d", "a", T, 5, name="x", category=None, platform=None).sql,
    "double_tracked": status_sql.double_tracked("d", "a", T).sql,
    "attributed_share": status_sql.attributed_share("d", "a", T, T, T).sql,
    "campaign_totals": status_sql.campaign_totals("d", "a", T, T, T, 5).sql,
    "export": export_store.export_sql("p.d.events_dedup"),
    "export_snapshots": export_store.day_snapshot_sql("p.d.events"),
}


def _analytics_sql() -> str:
    request = AnalyticsRequest.model_validate(
        {"start_date": "2026-11-14", "end_date": "2026-11-20", "data_source": "eo_commerce_event", "granularity": "day"}
    )
    window = request.window(ZoneInfo("UTC"))
    return build_analytics_query(request, app_id="a", view="p.d.events_dedup", window=window, cutoff=T).sql


def test_events_requires_a_partition_filter_on_timestamp():
    assert TABLES[EVENTS].partition_field == "timestamp" and TABLES[EVENTS].require_partition_filter


@pytest.mark.parametrize("name", sorted(SERVING_QUERIES))
def test_every_serving_and_export_query_over_events_bounds_timestamp(name):
    sql = SERVING_QUERIES[name]
    assert _reads_events(sql), f"{name} no longer reads events: update this test"
    assert PARTITION_BOUND.search(sql), f"{name} reads events without a timestamp bound:\n{sql}"


def test_the_query_api_bounds_timestamp():
    sql = _analytics_sql()
    assert _reads_events(sql) and "`timestamp` >= @start_ts" in sql and "`timestamp` < @end_ts" in sql


def test_views_over_events_keep_timestamp_or_its_day_for_callers_to_filter():
    """A view cannot carry its caller's bound; it must expose the column (or its day) to filter on."""
    assert "events_dedup" in EVENT_VIEWS
    for name in EVENT_VIEWS:
        sql = view_sql(name)
        assert re.search(r"\*|`timestamp`|DATE\(`timestamp`\) AS day", sql), name


def test_the_partition_bound_pattern_can_fail():
    assert not PARTITION_BOUND.search("SELECT * FROM `p.d.events` WHERE app_id = @a")


@pytest.mark.parametrize("kind", KEY_KINDS)
@pytest.mark.parametrize("table", erase.ERASED_TABLES)
def test_erase_bounds_the_partition_column_of_every_table_it_reads(table, kind):
    """Each read of a table (the statement's own, and the subqueries over events and
    webhook_failures) bounds that table's partition column, with a bound that covers every row."""
    for sql in (erase.count_sql(table, kind, "p.d"), erase.delete_sql(table, kind, "p.d")):
        reads = re.findall(r"`p\.d\.(\w+)` WHERE app_id = @app_id AND `?(\w+)`? >= @earliest", sql)
        assert len(reads) == sql.count("`p.d."), sql
        assert all(column == TABLES[name].partition_field for name, column in reads), sql
    assert datetime(1, 1, 1, tzinfo=UTC) == erase.EARLIEST

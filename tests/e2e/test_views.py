"""Analyst views (schemas/sql/*.sql) against hand-written SQL on the raw tables.

Uses the Query API tests' data (both apps imported by the real backfill; local-app twice,
so every local-app event is stored twice and the views must deduplicate).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.support.serving import APP, PROJECT, load_sample_events, sql_rows

SINCE = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def dataset(local_stack, tmp_path_factory) -> str:
    return load_sample_events(tmp_path_factory.mktemp("views"))


def table(dataset: str, name: str) -> str:
    return f"`{PROJECT}.{dataset}.{name}`"


def test_events_dedup_has_one_row_per_event_id(dataset):
    raw = sql_rows(
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids FROM {table(dataset, 'events')} "
        f"WHERE app_id = @app AND `timestamp` >= @since",
        app=APP,
        since=SINCE,
    )[0]
    view = sql_rows(
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids FROM {table(dataset, 'events_dedup')} "
        f"WHERE app_id = @app AND `timestamp` >= @since",
        app=APP,
        since=SINCE,
    )[0]
    assert raw["n"] == 2 * raw["ids"]  # the fixture imported local-app twice
    assert view["n"] == view["ids"] == raw["ids"]


def test_daily_event_counts(dataset):
    view = sql_rows(
        f"SELECT day, name, user_data_os, event_count FROM {table(dataset, 'daily_event_counts')} "
        f"WHERE app_id = @app AND day >= DATE(@since)",
        app=APP,
        since=SINCE,
    )
    expected = sql_rows(
        f"SELECT DATE(`timestamp`) AS day, name, user_data_os, COUNT(DISTINCT id) AS event_count "
        f"FROM {table(dataset, 'events')} WHERE app_id = @app AND `timestamp` >= @since "
        f"GROUP BY day, name, user_data_os",
        app=APP,
        since=SINCE,
    )
    key = lambda r: (r["day"], r["name"], r["user_data_os"] or "")  # noqa: E731
    assert sorted(view, key=key) == sorted(expected, key=key)
    assert len(view) > 10


def test_daily_revenue(dataset):
    view = sql_rows(
        f"SELECT day, event_data_currency, revenue FROM {table(dataset, 'daily_revenue')} "
        f"WHERE app_id = @app AND day >= DATE(@since)",
        app=APP,
        since=SINCE,
    )
    expected = sql_rows(
        f"SELECT day, event_data_currency, SUM(revenue) AS revenue FROM ("
        f" SELECT id, DATE(ANY_VALUE(`timestamp`)) AS day, ANY_VALUE(event_data_currency) AS event_data_currency,"
        f" ANY_VALUE(event_data_revenue) AS revenue FROM {table(dataset, 'events')}"
        f" WHERE app_id = @app AND `timestamp` >= @since AND event_data_revenue IS NOT NULL GROUP BY id)"
        f" GROUP BY day, event_data_currency",
        app=APP,
        since=SINCE,
    )
    as_map = lambda rows: {(r["day"], r["event_data_currency"]): Decimal(r["revenue"]) for r in rows}  # noqa: E731
    assert as_map(view) == as_map(expected) and as_map(view)


def test_daily_unique_users(dataset):
    view = sql_rows(
        f"SELECT day, unique_users FROM {table(dataset, 'daily_unique_users')} "
        f"WHERE app_id = @app AND day >= DATE(@since)",
        app=APP,
        since=SINCE,
    )
    expected = sql_rows(
        f"SELECT DATE(`timestamp`) AS day, COUNT(DISTINCT COALESCE(user_data_developer_identity, user_data_idfv,"
        f" user_data_android_id, user_data_idfa, user_data_aaid, user_data_browser_fingerprint_id)) AS unique_users"
        f" FROM {table(dataset, 'events')} WHERE app_id = @app AND `timestamp` >= @since GROUP BY day",
        app=APP,
        since=SINCE,
    )
    assert {r["day"]: r["unique_users"] for r in view} == {r["day"]: r["unique_users"] for r in expected}


def test_content_item_breakdown(dataset):
    view = sql_rows(
        f"SELECT name, product_id, event_count, quantity FROM {table(dataset, 'content_item_breakdown')} "
        f"WHERE app_id = @app AND day >= DATE(@since)",
        app=APP,
        since=SINCE,
    )
    expected = sql_rows(
        f"SELECT name, product_id, COUNT(DISTINCT id) AS event_count FROM ("
        f" SELECT DISTINCT id, name, COALESCE(item.canonical_identifier, item.sku) AS product_id"
        f" FROM {table(dataset, 'events')}, UNNEST(content_items) AS item"
        f" WHERE app_id = @app AND `timestamp` >= @since) GROUP BY name, product_id",
        app=APP,
        since=SINCE,
    )
    counts = {}
    for row in view:
        counts[(row["name"], row["product_id"])] = counts.get((row["name"], row["product_id"]), 0) + row["event_count"]
    assert counts == {(r["name"], r["product_id"]): r["event_count"] for r in expected}
    assert all(row["quantity"] >= 1 for row in view) and len(view) > 5


def test_import_health_sums_increments_per_app_platform_outcome_reason(dataset):
    view = sql_rows(
        f"SELECT platform, outcome, reason, last_day_count, last_imported_minute "
        f"FROM {table(dataset, 'import_health')} WHERE app_id = @app",
        app=APP,
    )
    expected = sql_rows(
        f"SELECT platform, outcome, reason, SUM(`count`) AS n FROM {table(dataset, 'import_stats')} "
        f"WHERE app_id = @app GROUP BY platform, outcome, reason",
        app=APP,
    )
    key = lambda platform, outcome, reason: (platform or "", outcome, reason or "")  # noqa: E731
    assert {key(r["platform"], r["outcome"], r["reason"]): r["last_day_count"] for r in view} == {
        key(r["platform"], r["outcome"], r["reason"]): r["n"] for r in expected
    }
    imported = {r["platform"] for r in view if r["outcome"] == "imported"}
    assert {"IOS", "ANDROID", "WEB"} <= imported
    assert all(r["last_imported_minute"] is not None for r in view if r["platform"] in imported)

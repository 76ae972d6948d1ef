"""Query API request validation and its SQL translation (pure: no server, no BigQuery)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from google.cloud import bigquery
from pydantic import ValidationError

from serving.query_sql import (
    DATA_SOURCES,
    DIMENSIONS,
    AnalyticsRequest,
    branch_timestamp,
    build_analytics_query,
    page_span,
    parse_sizes,
    rollup_for,
    served,
)

VIEW = "local-project.ds.events_dedup"
INJECTION = "x') OR 1=1; DROP TABLE events; --"
UTC_ZONE = ZoneInfo("UTC")
LA = ZoneInfo("America/Los_Angeles")
CUTOFF = datetime(2026, 12, 1, tzinfo=UTC)


def request(**fields) -> AnalyticsRequest:
    body = {
        "branch_key": "k",
        "branch_secret": "s",
        "start_date": "2026-11-14",
        "end_date": "2026-11-20",
        "data_source": "eo_commerce_event",
        **fields,
    }
    return AnalyticsRequest.model_validate(body)


def build(req: AnalyticsRequest, zone=UTC_ZONE, **paging):
    return build_analytics_query(req, app_id="a", view=VIEW, window=req.window(zone), cutoff=CUTOFF, **paging)


def parameter_values(query) -> list:
    return [p.values if isinstance(p, bigquery.ArrayQueryParameter) else p.value for p in query.parameters]


def test_every_value_is_a_parameter_and_never_sql_text():
    req = request(
        dimensions=["name", "user_data_os", INJECTION],
        filters={"name": [INJECTION], "!user_data_os": "IOS", INJECTION: ["x"]},
        aggregation="revenue",
        granularity="day",
        zero_fill=True,
        ordered_by=INJECTION,
    )
    query = build_analytics_query(req, app_id="app-under-test", view=VIEW, window=req.window(UTC_ZONE), cutoff=CUTOFF)
    for text in (INJECTION, "DROP", "app-under-test", "eo_commerce_event", "IOS", "2026-11-14"):
        assert text not in query.sql
    values = parameter_values(query)
    assert [INJECTION] in values and ["IOS"] in values and "app-under-test" in values
    assert CUTOFF in values
    assert datetime(2026, 11, 14, tzinfo=UTC) in values and datetime(2026, 11, 21, tzinfo=UTC) in values


def test_query_is_scoped_to_the_app_topic_range_and_query_id_cutoff():
    sql = build(request()).sql
    for condition in (
        "app_id = @app_id",
        "topic = @data_source",
        "`timestamp` >= @start_ts",
        "`timestamp` < @end_ts",
        "ingested_at <= @cutoff",
    ):
        assert condition in sql
    assert f"FROM `{VIEW}`" in sql


def test_filters_match_listed_values_and_null_means_unset():
    sql = build(request(filters={"!user_data_os": ["IOS"], "name": ["PURCHASE", "null"]})).sql
    assert "COALESCE(CAST(`name` AS STRING) IN UNNEST(@filter_1), FALSE) OR `name` IS NULL" in sql
    # An exclusion keeps rows where the dimension is unset: they are not the excluded value.
    assert "NOT COALESCE(CAST(`user_data_os` AS STRING) IN UNNEST(@filter_0), FALSE)" in sql


def test_filters_on_dimensions_without_data_are_constant():
    assert "NOT TRUE" in build(request(filters={"!de_view_data_source": ["null"]})).sql
    assert " FALSE" in build(request(filters={"de_view_data_source": ["x"]})).sql


def test_lenient_input_is_normalised():
    req = request(
        filters={"name": "PURCHASE", "attributed": True, "days_from_last_attributed_touch_to_event": 3},
        dimensions="name",
        enable_install_recalculation=True,
        app_id="other-app",
    )
    assert req.filters == {
        "name": ["PURCHASE"],
        "attributed": ["true"],
        "days_from_last_attributed_touch_to_event": ["3"],
    }
    assert req.dimensions == ["name"]
    assert request(dimensions=["name", "name"]).dimensions == ["name"]


@pytest.mark.parametrize(
    "fields",
    [
        {"filters": {"name": []}},
        {"filters": {"name": ["x" * 257]}},
        {"filters": "name"},
        {"dimensions": [""]},
        {"dimensions": ["x" * 129]},
        {"start_date": INJECTION},
        {"end_date": "2026-11-21'; --"},
        {"start_date": "2026-13-01"},
        {"data_source": ""},
        {"aggregation": "max(id)"},
        {"granularity": "hour"},
        {"ordered": "desc; --"},
        {"zero_fill": "maybe"},
    ],
)
def test_invalid_requests_are_validation_errors(fields):
    with pytest.raises(ValidationError):
        request(**fields)


def test_a_date_only_end_is_inclusive_and_the_range_at_most_seven_days():
    window = request(start_date="2026-11-14", end_date="2026-11-20").window(UTC_ZONE)
    assert (window.start, window.end) == (datetime(2026, 11, 14, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))
    assert window.days[0] == date(2026, 11, 14) and window.days[-1] == date(2026, 11, 20) and len(window.days) == 7
    single = request(start_date="2026-11-14", end_date="2026-11-14").window(UTC_ZONE)
    assert single.days == (date(2026, 11, 14),)
    with pytest.raises(ValueError, match="7 days"):
        request(start_date="2026-11-14", end_date="2026-11-21").window(UTC_ZONE)
    with pytest.raises(ValueError, match="before start_date"):
        request(start_date="2026-11-14", end_date="2026-11-13").window(UTC_ZONE)


def test_date_times_keep_their_offset_and_an_exclusive_end():
    window = request(start_date="2026-11-14T22:00:00+02:00", end_date="2026-11-16T00:30:00Z").window(UTC_ZONE)
    assert window.start == datetime(2026, 11, 14, 20, tzinfo=UTC)
    assert window.end == datetime(2026, 11, 16, 0, 30, tzinfo=UTC)
    assert window.days == (date(2026, 11, 14), date(2026, 11, 15), date(2026, 11, 16))


def test_days_are_the_apps_timezone():
    window = request(start_date="2026-11-14", end_date="2026-11-14").window(LA)
    assert window.start == datetime(2026, 11, 14, 8, tzinfo=UTC) and window.end == datetime(2026, 11, 15, 8, tzinfo=UTC)
    assert branch_timestamp(window.day_start(date(2026, 11, 14))) == "2026-11-14T00:00:00.000-08:00"
    assert branch_timestamp(datetime(2026, 11, 14, tzinfo=UTC)) == "2026-11-14T00:00:00.000Z"
    assert "DATE(`timestamp`, @tz)" in build(request(granularity="day"), LA).sql


def test_zero_fill_fills_day_buckets_and_zero_rows_are_omitted_without_it():
    daily = build(request(granularity="day", zero_fill=True))
    overall = build(request(granularity="all", zero_fill=True))
    plain = build(request(granularity="day"))
    assert "UNNEST(@days)" in daily.sql and "@days" not in overall.sql
    assert "!= 0" in plain.sql and "!= 0" not in daily.sql


def test_revenue_is_usd_unless_grouped_by_currency():
    assert "SUM(event_data_revenue_in_usd)" in build(request(aggregation="revenue")).sql
    by_currency = build(request(aggregation="revenue", dimensions=["event_data_currency"])).sql
    assert "SUM(event_data_revenue)" in by_currency and "SUM(event_data_revenue_in_usd)" not in by_currency


def test_only_written_topics_and_counted_aggregations_are_served():
    assert served(request())
    assert not served(request(data_source="eo_install"))
    assert not served(request(data_source="not_a_source"))
    assert not served(request(aggregation="cost"))
    assert {"eo_install", "eo_open", "eo_click", "cost"} <= set(DATA_SOURCES)


def test_paging_is_per_day_bucket_for_daily_granularity():
    assert "PARTITION BY day" in build(request(granularity="day")).sql
    assert "PARTITION BY day" not in build(request()).sql


def test_every_served_dimension_builds_a_query():
    for dimension in DIMENSIONS:
        sql = build(
            request(dimensions=[dimension], ordered_by=dimension, ordered="ascending", filters={f"!{dimension}": ["v"]})
        ).sql
        assert f"{DIMENSIONS[dimension]} AS {dimension}" in sql and f"{dimension} ASC" in sql
    assert {"attributed", "last_attributed_touch_data_tilde_campaign", "name", "user_data_os"} <= set(DIMENSIONS)
    assert not {"app_id", "id", "topic", "segment_anonymous_id", "custom_data"} & set(DIMENSIONS)


def test_a_page_is_one_run_of_rows_ordered_by_rank_then_bucket():
    # Buckets of 3, 1 and 5 rows; rows stored as rank 1 of each, rank 2 of each, ...
    assert page_span([3, 1, 5], 0, 2) == (0, 5)
    assert page_span([3, 1, 5], 2, 2) == (5, 3)
    assert page_span([3, 1, 5], 4, 2) == (8, 1)
    assert page_span([3, 1, 5], 9, 2) == (9, 0)
    assert page_span([], 0, 100) == (0, 0)
    assert parse_sizes("3-1-5") == [3, 1, 5] and parse_sizes("") == []


def test_a_rollup_answers_only_what_it_holds_on_whole_hours_it_covers():
    covered, boundary = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    week = request(dimensions=["name", "user_data_os"], granularity="day")
    assert rollup_for(week, week.window(UTC_ZONE), covered, boundary) == "events_hourly"
    attributed = request(dimensions=["name"], filters={"last_attributed_touch_data_tilde_campaign": "x"})
    assert rollup_for(attributed, attributed.window(UTC_ZONE), covered, boundary) == "events_hourly_attribution"
    country = request(dimensions=["user_data_country"])
    assert rollup_for(country, country.window(UTC_ZONE), covered, boundary) is None
    # Days of a zone half an hour off UTC do not start on UTC hours; nor does a date-time range.
    assert rollup_for(week, week.window(ZoneInfo("Asia/Kolkata")), covered, boundary) is None
    odd = request(start_date="2026-11-14T00:30:00Z", end_date="2026-11-15T00:00:00Z")
    assert rollup_for(odd, odd.window(UTC_ZONE), covered, boundary) is None
    # Not covered: the range starts before the rollups do, or after their last run.
    assert rollup_for(week, week.window(UTC_ZONE), datetime(2026, 11, 15, tzinfo=UTC), boundary) is None
    assert rollup_for(week, week.window(UTC_ZONE), covered, datetime(2026, 11, 14, tzinfo=UTC)) is None


def test_rollup_queries_read_recent_hours_from_events_dedup_with_its_partition_filter():
    req = request(dimensions=["name"], aggregation="unique_count", granularity="day")
    window = req.window(UTC_ZONE)
    boundary = datetime(2026, 11, 19, 12, tzinfo=UTC)
    sql = build_analytics_query(
        req, app_id="a", view=VIEW, window=window, cutoff=CUTOFF, rollup="p.d.events_hourly", boundary=boundary
    ).sql
    assert "FROM `p.d.events_hourly`" in sql and "hour < @boundary" in sql
    assert f"FROM `{VIEW}`" in sql and "`timestamp` >= @boundary" in sql and "`timestamp` >= @start_ts" in sql
    assert "COUNT(DISTINCT user_key)" in sql and "UNNEST(filtered.user_keys)" in sql
    done = build_analytics_query(
        req, app_id="a", view=VIEW, window=window, cutoff=CUTOFF, rollup="p.d.events_hourly", boundary=CUTOFF
    ).sql
    assert VIEW not in done

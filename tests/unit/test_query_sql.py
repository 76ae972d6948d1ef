"""Query API request validation and its SQL translation (pure: no server, no BigQuery)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from google.cloud import bigquery
from pydantic import ValidationError

from serving.query_sql import DIMENSIONS, AnalyticsRequest, build_analytics_query

VIEW = "local-project.ds.events_dedup"
INJECTION = "x') OR 1=1; DROP TABLE events; --"


def request(**fields) -> AnalyticsRequest:
    body = {
        "branch_key": "k",
        "branch_secret": "s",
        "start_date": "2026-11-14",
        "end_date": "2026-11-21",
        "data_source": "eo_commerce_event",
        **fields,
    }
    return AnalyticsRequest.model_validate(body)


def parameter_values(query) -> list:
    return [p.values if isinstance(p, bigquery.ArrayQueryParameter) else p.value for p in query.parameters]


def test_every_value_is_a_parameter_and_never_sql_text():
    req = request(
        dimensions=["name", "user_data_os"],
        filters={"name": [INJECTION], "!user_data_os": ["IOS"]},
        aggregation="revenue",
        granularity="day",
        zero_fill=True,
    )
    query = build_analytics_query(req, app_id="app-under-test", view=VIEW, limit=7, after=14)
    for text in (INJECTION, "app-under-test", "eo_commerce_event", "IOS", "2026-11-14", "14", "7"):
        assert text not in query.sql
    values = parameter_values(query)
    assert [INJECTION] in values and ["IOS"] in values and "app-under-test" in values
    assert 7 in values and 14 in values
    assert datetime(2026, 11, 14, tzinfo=UTC) in values


def test_query_is_scoped_to_the_app_topic_and_timestamp_range():
    sql = build_analytics_query(request(), app_id="a", view=VIEW).sql
    for condition in ("app_id = @app_id", "topic = @data_source", "`timestamp` >= @start_ts", "`timestamp` < @end_ts"):
        assert condition in sql
    assert f"FROM `{VIEW}`" in sql


def test_exclusion_filter_keeps_unknown_values_and_inclusion_matches_listed_ones():
    sql = build_analytics_query(
        request(filters={"!user_data_os": ["IOS"], "name": ["PURCHASE"]}), app_id="a", view=VIEW
    ).sql
    assert "(user_data_os IS NULL OR user_data_os NOT IN UNNEST(@filter_0))" in sql
    assert "name IN UNNEST(@filter_1)" in sql


@pytest.mark.parametrize(
    "fields",
    [
        {"dimensions": [INJECTION]},
        {"dimensions": ["name", "name"]},
        {"dimensions": ["app_id"]},  # a real column, but not allow-listed: apps must not pick their scope
        {"filters": {INJECTION: ["x"]}},
        {"filters": {"app_id": ["other-app"]}},
        {"filters": {"!!name": ["x"]}},
        {"filters": {"name": []}},
        {"filters": {"name": "PURCHASE"}},
        {"filters": {"name": ["x" * 257]}},
        {"start_date": INJECTION},
        {"end_date": "2026-11-21'; --"},
        {"start_date": "2026-13-01"},
        {"data_source": INJECTION},
        {"data_source": "events"},
        {"aggregation": "max(id)"},
        {"granularity": "hour"},
        {"ordered_by": INJECTION},
        {"ordered_by": "user_data_os"},  # allowed only when it is a requested dimension
        {"ordered": "desc; --"},
        {"app_id": "other-app"},
        {"zero_fill": "maybe"},
    ],
)
def test_invalid_or_hostile_requests_are_rejected(fields):
    with pytest.raises(ValidationError):
        request(**fields)


def test_range_is_at_most_seven_days_with_an_exclusive_end():
    assert request(start_date="2026-11-14", end_date="2026-11-21").days()[-1] == date(2026, 11, 20)
    with pytest.raises(ValidationError, match="7 days"):
        request(start_date="2026-11-14", end_date="2026-11-21T00:00:01Z")
    with pytest.raises(ValidationError, match="after start_date"):
        request(start_date="2026-11-14", end_date="2026-11-14")


def test_datetimes_are_normalised_to_utc_and_partial_days_are_buckets():
    req = request(start_date="2026-11-14T22:00:00+02:00", end_date="2026-11-16T00:30:00Z")
    assert req.start_date == datetime(2026, 11, 14, 20, tzinfo=UTC)
    assert req.days() == [date(2026, 11, 14), date(2026, 11, 15), date(2026, 11, 16)]


def test_zero_fill_adds_a_day_array_parameter_only_for_daily_granularity():
    daily = build_analytics_query(request(granularity="day", zero_fill=True), app_id="a", view=VIEW)
    overall = build_analytics_query(request(granularity="all", zero_fill=True), app_id="a", view=VIEW)
    assert "UNNEST(@days)" in daily.sql and "@days" not in overall.sql


def test_every_allow_listed_dimension_builds_a_query():
    for dimension in DIMENSIONS:
        sql = build_analytics_query(
            request(
                dimensions=[dimension], ordered_by=dimension, ordered="ascending", filters={f"!{dimension}": ["v"]}
            ),
            app_id="a",
            view=VIEW,
        ).sql
        assert f"{DIMENSIONS[dimension]} AS {dimension}" in sql and f"{dimension} ASC" in sql

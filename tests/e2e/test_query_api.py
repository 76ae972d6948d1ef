"""Query API over HTTP: answers match independent SQL on rows the real pipeline wrote.

Data: a generated sample per default-config app, imported with ``beam_jobs.backfill``;
local-app's import runs twice, so every one of its events is stored twice and every
answer also proves the read-time dedup. Reference answers are hand-written SQL on the raw
``events`` table (COUNT(DISTINCT id) etc.), not through the view the API uses.
"""

from __future__ import annotations

import collections
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
import yaml
from fastapi.testclient import TestClient

from domain.config import DEFAULT_CONFIG_PATH
from domain.exchange_rates import BUNDLED_RATES, parse_rates
from serving.app import create_app
from serving.settings import ServingSettings
from tests.support.serving import (
    APP,
    APP_KEY,
    APP_SECRET,
    END,
    PROJECT,
    START,
    WEB_APP,
    WEB_KEY,
    WEB_SECRET,
    load_sample_events,
    query_body,
    sql_rows,
)


@pytest.fixture(scope="module")
def dataset(local_stack, tmp_path_factory) -> str:
    return load_sample_events(tmp_path_factory.mktemp("query_api"))


@pytest.fixture(scope="module")
def client(dataset) -> TestClient:
    return TestClient(create_app(ServingSettings(PROJECT, dataset)))


def ask(client: TestClient, query: str = "", *, key: str = APP_KEY, secret: str = APP_SECRET, **fields) -> dict:
    response = client.post(f"/v1/query/analytics{query}", json=query_body(key=key, secret=secret, **fields))
    assert response.status_code == 200, response.text
    return response.json()


def reference(
    dataset: str, select: str, group: str = "", where: str = "", app_id: str = APP, topic: str = "eo_commerce_event"
) -> list[dict[str, Any]]:
    """Hand-written SQL on raw events: dedup by id first, then aggregate."""
    return sql_rows(
        f"""SELECT {select} FROM (
              SELECT id, ANY_VALUE(user_data_os) AS user_data_os, ANY_VALUE(name) AS name,
                     ANY_VALUE(event_data_currency) AS event_data_currency,
                     ANY_VALUE(event_data_revenue) AS revenue, MIN(`timestamp`) AS ts,
                     ANY_VALUE(COALESCE(user_data_developer_identity, user_data_idfv, user_data_android_id,
                                        user_data_idfa, user_data_aaid, user_data_browser_fingerprint_id)) AS user
              FROM `{PROJECT}.{dataset}.events`
              WHERE app_id = @app AND topic = @topic AND `timestamp` >= @start AND `timestamp` < @end
              GROUP BY id)
            {f"WHERE {where}" if where else ""} {f"GROUP BY {group}" if group else ""}""",
        app=app_id,
        topic=topic,
        start=datetime(2026, 11, 14, tzinfo=UTC),
        end=datetime(2026, 11, 21, tzinfo=UTC),
    )


def by_key(results: list[dict], *dims: str, value: str) -> dict:
    return {tuple(r["result"][d] for d in dims) if dims else r["timestamp"]: r["result"][value] for r in results}


def test_total_count_matches_distinct_events(client, dataset):
    answer = ask(client)
    expected = reference(dataset, "COUNT(*) AS n")[0]["n"]
    assert answer["results"] == [{"timestamp": "2026-11-14T00:00:00.000Z", "result": {"total_count": expected}}]
    assert answer["paging"] == {"total_count": 1}  # the last page has no next_url at all
    assert expected > 20


def test_unique_count_per_os_matches_distinct_users(client, dataset):
    answer = ask(client, dimensions=["user_data_os"], aggregation="unique_count")
    expected = {
        (r["user_data_os"],): r["n"]
        for r in reference(dataset, "user_data_os, COUNT(DISTINCT user) AS n", group="user_data_os")
    }
    assert by_key(answer["results"], "user_data_os", value="unique_count") == expected
    assert len(expected) >= 3


def test_revenue_per_currency_matches_sum_over_distinct_events(client, dataset):
    answer = ask(client, dimensions=["event_data_currency"], aggregation="revenue")
    expected = {
        (r["event_data_currency"],): float(r["total"] or Decimal(0))
        for r in reference(dataset, "event_data_currency, SUM(revenue) AS total", group="event_data_currency")
        if r["total"]  # zero_fill false: no zero rows (events without revenue)
    }
    assert by_key(answer["results"], "event_data_currency", value="revenue") == pytest.approx(expected)
    assert sum(expected.values()) > 0


def test_daily_granularity_buckets_by_utc_day(client, dataset):
    answer = ask(client, granularity="day", data_source="eo_custom_event")
    expected = {
        f"{r['day'].isoformat()}T00:00:00.000Z": r["n"]
        for r in reference(dataset, "DATE(ts) AS day, COUNT(*) AS n", group="day", topic="eo_custom_event")
    }
    assert by_key(answer["results"], value="total_count") == expected
    assert len(expected) >= 2


def test_zero_fill_gives_every_day_for_every_dimension_value(client, dataset):
    answer = ask(client, "?limit=1000", granularity="day", zero_fill=True, dimensions=["user_data_os"])
    expected = {
        (r["day"].isoformat(), r["user_data_os"]): r["n"]
        for r in reference(dataset, "DATE(ts) AS day, user_data_os, COUNT(*) AS n", group="day, user_data_os")
    }
    got = {(r["timestamp"][:10], r["result"]["user_data_os"]): r["result"]["total_count"] for r in answer["results"]}
    os_values = {os for _, os in expected}
    assert len(got) == 7 * len(os_values) == answer["paging"]["total_count"]
    assert {k: v for k, v in got.items() if v} == expected


def test_inclusion_filter(client, dataset):
    answer = ask(client, dimensions=["name"], filters={"name": ["PURCHASE", "ADD_TO_CART"]})
    expected = {
        (r["name"],): r["n"]
        for r in reference(dataset, "name, COUNT(*) AS n", group="name", where="name IN ('PURCHASE', 'ADD_TO_CART')")
    }
    assert by_key(answer["results"], "name", value="total_count") == expected
    assert set(expected) == {("PURCHASE",), ("ADD_TO_CART",)}


def test_exclusion_filter_keeps_rows_without_the_dimension(client, dataset):
    answer = ask(client, filters={"!user_data_os": ["IOS", "ANDROID"]})
    expected = reference(
        dataset, "COUNT(*) AS n", where="user_data_os IS NULL OR user_data_os NOT IN ('IOS', 'ANDROID')"
    )
    assert answer["results"][0]["result"]["total_count"] == expected[0]["n"] > 0


def test_ordering_by_dimension_ascending(client):
    answer = ask(client, dimensions=["name"], ordered_by="name", ordered="ascending")
    names = [r["result"]["name"] for r in answer["results"]]
    assert names == sorted(names) and len(names) >= 3


def test_paging_walks_next_url_through_the_whole_result(client):
    """limit is per day bucket, as Branch's; next_url is relative and absent on the last page."""
    fields = {"dimensions": ["name", "user_data_os"], "granularity": "day"}
    everything = ask(client, "?limit=1000", **fields)
    pages, url = [], "/v1/query/analytics?limit=4"
    while url:
        page = client.post(url, json=query_body(**fields)).json()
        per_day = collections.Counter(r["timestamp"] for r in page["results"])
        assert max(per_day.values(), default=0) <= 4
        assert page["paging"]["total_count"] == everything["paging"]["total_count"]
        pages += page["results"]
        url = page["paging"].get("next_url")
        assert url is None or (url.startswith("/v1/query/analytics?") and "query_id=" in url)
    key = lambda r: orjson.dumps(r, option=orjson.OPT_SORT_KEYS)  # noqa: E731
    assert sorted(pages, key=key) == sorted(everything["results"], key=key) and len(pages) > 8
    assert ask(client, "?limit=4&after=100000", **fields)["results"] == []


def test_next_url_joined_with_a_trailing_slash_base_still_answers(client):
    first = ask(client, "?limit=1", dimensions=["name"])
    # "https://api2.branch.io/" + next_url, as some clients build it
    url = "http://testserver/" + first["paging"]["next_url"]
    second = client.post(url, json=query_body(dimensions=["name"]))
    assert second.status_code == 200 and second.json()["results"] != first["results"]


def test_an_app_only_sees_its_own_rows(client, dataset):
    web = ask(client, key=WEB_KEY, secret=WEB_SECRET, dimensions=["user_data_os"])
    expected = {
        (r["user_data_os"],): r["n"]
        for r in reference(dataset, "user_data_os, COUNT(*) AS n", group="user_data_os", app_id=WEB_APP)
    }
    assert by_key(web["results"], "user_data_os", value="total_count") == expected
    assert ("IOS",) not in expected  # local-web-app imports WEB (and server-side) events only
    mine = ask(client)["results"][0]["result"]["total_count"]
    assert sum(expected.values()) != mine


@pytest.mark.parametrize(
    "key, secret",
    [
        (APP_KEY, "wrong"),
        (APP_KEY, None),
        (None, APP_SECRET),
        ("key_unknown", APP_SECRET),
        (APP_KEY, WEB_SECRET),
        (APP_KEY, 12345),
    ],
)
def test_wrong_or_missing_credentials_are_400_as_branch_answers(client, key, secret):
    body = {"start_date": START, "end_date": END, "data_source": "eo_commerce_event"}
    body.update({k: v for k, v in (("branch_key", key), ("branch_secret", secret)) if v is not None})
    response = client.post("/v1/query/analytics", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": {"message": "Authentication failed !", "code": 400}}


# ----------------------------------------------------------------- Branch-compatible details


def config_with(tmp_path, app_id: str = APP, **fields) -> str:
    """The bundled app config with ``fields`` set on one app, as a file; returns its path."""
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    for app in config["apps"]:
        if app["app_id"] == app_id:
            app.update(fields)
    path = tmp_path / "apps.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_a_date_only_end_date_counts_its_whole_day(client, dataset):
    answer = ask(client, start_date="2026-11-19", end_date="2026-11-19")
    expected = reference(dataset, "COUNT(*) AS n", where="DATE(ts) = '2026-11-19'")[0]["n"]
    assert answer["results"] == [{"timestamp": "2026-11-19T00:00:00.000Z", "result": {"total_count": expected}}]
    assert expected > 0


def test_date_times_are_honoured_with_an_exclusive_end(client, dataset):
    answer = ask(client, start_date="2026-11-19T22:00:00Z", end_date="2026-11-20T00:30:00+00:00")
    expected = reference(dataset, "COUNT(*) AS n", where="ts >= '2026-11-19 22:00:00' AND ts < '2026-11-20 00:30:00'")
    assert sum(r["result"]["total_count"] for r in answer["results"]) == expected[0]["n"] > 0


def test_revenue_is_summed_in_usd_unless_grouped_by_currency(client, dataset):
    rates = {rate.currency: float(rate.usd_per_unit) for rate in parse_rates(BUNDLED_RATES.read_text().splitlines())}
    per_currency = reference(dataset, "event_data_currency, SUM(revenue) AS total", group="event_data_currency")
    expected = sum(
        float(r["total"]) * rates[r["event_data_currency"]]
        for r in per_currency
        if r["event_data_currency"] in rates and r["total"] is not None
    )
    unconverted = [
        r["event_data_currency"] for r in per_currency if r["total"] and r["event_data_currency"] not in rates
    ]
    answer = ask(client, aggregation="revenue")
    assert answer["results"][0]["result"]["revenue"] == pytest.approx(expected)
    assert len(per_currency) >= 2 and expected > 0, (per_currency, unconverted)


@pytest.mark.parametrize(
    "fields",
    [
        {"data_source": "eo_install"},
        {"data_source": "eo_open"},
        {"data_source": "eo_click", "dimensions": ["last_attributed_touch_data_tilde_channel"]},
        {"data_source": "xx_click"},
        {"data_source": "cost", "aggregation": "cost"},
        {"aggregation": "cost_in_local_currency"},
    ],
)
def test_data_sources_and_aggregations_without_data_answer_no_rows(client, fields):
    assert ask(client, **fields) == {"results": [], "paging": {"total_count": 0}}


def test_every_asked_dimension_is_answered_null_where_there_is_no_data(client, dataset):
    dims = ["attributed", "last_attributed_touch_data_tilde_campaign", "de_view_data_source", "name"]
    answer = ask(client, "?limit=1000", dimensions=dims)
    assert all(set(r["result"]) == {*dims, "total_count"} for r in answer["results"])
    assert {r["result"]["de_view_data_source"] for r in answer["results"]} == {None}
    assert {r["result"]["attributed"] for r in answer["results"]} <= {True, False}
    assert sum(r["result"]["total_count"] for r in answer["results"]) == reference(dataset, "COUNT(*) AS n")[0]["n"]


def test_null_scalar_and_negated_filters(client, dataset):
    unset = reference(dataset, "COUNT(*) AS n", where="user_data_os IS NULL")[0]["n"]
    everything = reference(dataset, "COUNT(*) AS n")[0]["n"]

    def count(filters) -> int:
        return sum(r["result"]["total_count"] for r in ask(client, filters=filters)["results"])

    assert count({"user_data_os": ["null"]}) == unset
    assert count({"!user_data_os": ["null"]}) == everything - unset
    assert count({"name": "PURCHASE"}) == count({"name": ["PURCHASE"]}) > 0
    assert count({"de_view_data_source": "null"}) == everything  # no data: every row is unset
    assert count({"de_view_data_source": "x"}) == 0


def test_unknown_body_fields_are_ignored(client):
    plain = ask(client, dimensions=["name"])
    extra = ask(client, dimensions=["name"], enable_install_recalculation=True, app_id="x", events=["INSTALL"])
    assert extra == plain


def test_timestamp_as_dimension_and_order(client):
    by_day = ask(client, granularity="day", ordered="ascending", ordered_by="timestamp")
    as_dimension = ask(client, dimensions=["timestamp"], ordered="ascending", ordered_by="timestamp")
    assert as_dimension == by_day
    days = [r["timestamp"] for r in by_day["results"]]
    assert days == sorted(days) and len(days) >= 2
    assert [r["timestamp"] for r in ask(client, granularity="day")["results"]] == sorted(days, reverse=True)


def test_days_are_the_apps_timezone(dataset, tmp_path):
    zone = "America/Los_Angeles"
    app = create_app(ServingSettings(PROJECT, dataset, config_with(tmp_path, timezone=zone)))
    answer = ask(TestClient(app), "?limit=1000", granularity="day", start_date="2026-11-18", end_date="2026-11-19")
    expected = sql_rows(
        f"""SELECT DATE(`timestamp`, '{zone}') AS day, COUNT(DISTINCT id) AS n FROM `{PROJECT}.{dataset}.events`
            WHERE app_id = @app AND topic = 'eo_commerce_event'
              AND `timestamp` >= '2026-11-18 08:00:00' AND `timestamp` < '2026-11-20 08:00:00' GROUP BY day""",
        app=APP,
    )
    assert by_key(answer["results"], value="total_count") == {
        f"{r['day'].isoformat()}T00:00:00.000-08:00": r["n"] for r in expected
    }


def test_rate_limits_answer_429_as_branch(dataset, tmp_path):
    limits = {"per_second": 100, "per_minute": 2, "per_hour": 100}
    client = TestClient(create_app(ServingSettings(PROJECT, dataset, config_with(tmp_path, query_rate_limits=limits))))
    assert [client.post("/v1/query/analytics", json=query_body()).status_code for _ in range(2)] == [200, 200]
    refused = client.post("/v1/query/analytics", json=query_body())
    assert refused.status_code == 429
    assert refused.json() == {"error": {"code": 429, "message": "Rate limit reached."}}
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    other_app = client.post("/v1/query/analytics", json=query_body(key=WEB_KEY, secret=WEB_SECRET))
    assert other_app.status_code == 200  # limits are per app

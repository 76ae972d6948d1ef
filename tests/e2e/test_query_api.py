"""Query API over HTTP: answers match independent SQL on rows the real pipeline wrote.

Data: a generated sample per default-config app, imported with ``beam_jobs.backfill``;
local-app's import runs twice, so every one of its events is stored twice and every
answer also proves the read-time dedup. Reference answers are hand-written SQL on the raw
``events`` table (COUNT(DISTINCT id) etc.), not through the view the API uses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

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
    assert answer["paging"] == {"next_url": None, "total_count": 1}
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
    fields = {"dimensions": ["name", "user_data_os"], "granularity": "day"}
    everything = ask(client, "?limit=1000", **fields)
    pages, url = [], "/v1/query/analytics?limit=4"
    while url:
        body = {
            "branch_key": APP_KEY,
            "branch_secret": APP_SECRET,
            "start_date": START,
            "end_date": END,
            "data_source": "eo_commerce_event",
            **fields,
        }
        page = client.post(url, json=body).json()
        assert len(page["results"]) <= 4
        assert page["paging"]["total_count"] == everything["paging"]["total_count"]
        pages += page["results"]
        url = page["paging"]["next_url"]
    assert pages == everything["results"] and len(pages) > 8
    assert ask(client, "?limit=4&after=100000", **fields)["results"] == []


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
def test_wrong_or_missing_credentials_are_401(client, key, secret):
    body = {"start_date": START, "end_date": END, "data_source": "eo_commerce_event"}
    body.update({k: v for k, v in (("branch_key", key), ("branch_secret", secret)) if v is not None})
    response = client.post("/v1/query/analytics", json=body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401

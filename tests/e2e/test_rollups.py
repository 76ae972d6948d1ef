"""Rollups (rules §11): the incremental job, the Query API's answers from them, and pages read
from one stored result. Data: the conformance sample (both default apps, attribution on
19/20 Nov), rolled up by ``segment-branch rollup``."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.bigquery import EMULATOR_ENV, EmulatorClient, make_client
from adapters.rollup import coverage, run_rollup
from beam_jobs import cli
from schemas.tables import EVENTS, EVENTS_DEDUP, EVENTS_HOURLY, ROLLUPS, rollup_dimensions
from serving.app import create_app
from serving.queries import QueryRunner
from serving.query_sql import DIMENSIONS
from serving.settings import ServingSettings
from tests.support.clients import load_conformance_events
from tests.support.serving import PROJECT, WEB_KEY, WEB_SECRET, query_body, sql_rows

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
TOPICS = ("eo_commerce_event", "eo_custom_event")
LATE_COLUMNS = "app_id, name, category, topic, origin, `timestamp`, segment_message_id, user_data_os"


class CountingClient(EmulatorClient):
    """The emulator client, recording the SQL of every query job it starts."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(PROJECT, endpoint)
        self.jobs: list[str] = []

    def query(self, query: str, *args: Any, **kwargs: Any):
        self.jobs.append(query)
        return super().query(query, *args, **kwargs)


@pytest.fixture(scope="module")
def dataset(local_stack, tmp_path_factory) -> str:
    name = load_conformance_events(tmp_path_factory.mktemp("rollups"))
    assert cli.main(["rollup", "--project", PROJECT, "--dataset", name, "--since", SINCE.isoformat()]) == 0
    return name


def service(dataset: str, local_stack, *, rollups: bool) -> tuple[TestClient, CountingClient]:
    app = create_app(ServingSettings(PROJECT, dataset, use_rollups=rollups))
    counting = CountingClient(os.environ[EMULATOR_ENV])
    app.state.queries = QueryRunner(counting)
    return TestClient(app), counting


@pytest.fixture(scope="module")
def rolled(dataset, local_stack):
    return service(dataset, local_stack, rollups=True)


@pytest.fixture(scope="module")
def raw(dataset, local_stack):
    return service(dataset, local_stack, rollups=False)


def totals(dataset: str, table: str, column: str, time: str) -> list[dict]:
    return sql_rows(
        f"SELECT app_id, topic, {column} AS n FROM `{PROJECT}.{dataset}.{table}` WHERE {time} >= @since "
        "GROUP BY app_id, topic ORDER BY app_id, topic",
        since=SINCE,
    )


def test_rollup_holds_every_event_once_and_a_second_run_changes_nothing(dataset):
    bq = make_client(PROJECT)
    expected = totals(dataset, EVENTS_DEDUP, "COUNT(*)", "`timestamp`")
    assert expected and all(totals(dataset, name, "SUM(total_count)", "hour") == expected for name in ROLLUPS)
    again = run_rollup(bq, dataset, SINCE)
    assert again.hours == 0
    assert coverage(bq, f"{PROJECT}.{dataset}").since == SINCE


def test_a_late_event_recomputes_only_its_hour(dataset):
    bq = make_client(PROJECT)
    [late] = sql_rows(
        f"SELECT id, `timestamp` FROM `{PROJECT}.{dataset}.{EVENTS}` WHERE `timestamp` >= @since "
        "AND topic = 'eo_commerce_event' ORDER BY `timestamp`, id LIMIT 1",
        since=SINCE,
    )
    bq.query(
        f"INSERT INTO `{PROJECT}.{dataset}.{EVENTS}` ({LATE_COLUMNS}, id, ingested_at) "
        f"SELECT {LATE_COLUMNS}, CONCAT(id, '-late'), CURRENT_TIMESTAMP() FROM `{PROJECT}.{dataset}.{EVENTS}` "
        f"WHERE id = '{late['id']}' AND `timestamp` >= TIMESTAMP '2026-11-01'"
    ).result()
    run = run_rollup(bq, dataset, SINCE)
    assert (run.hours, run.apps) == (1, 1)
    expected = totals(dataset, EVENTS_DEDUP, "COUNT(*)", "`timestamp`")
    assert all(totals(dataset, name, "SUM(total_count)", "hour") == expected for name in ROLLUPS)


def _dimension_sets() -> list[tuple[str, ...]]:
    """Each rollup's whole dimension set, and each of its dimensions alone."""
    sets = [tuple(d for d in rollup_dimensions(name) if d in DIMENSIONS) for name in ROLLUPS]
    singles = sorted({(d,) for dims in sets for d in dims})
    return sets + singles


def ask(client: TestClient, **fields) -> dict:
    response = client.post("/v1/query/analytics?limit=1000", json=query_body(**fields))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("dimensions", _dimension_sets(), ids="+".join)
@pytest.mark.parametrize("aggregation", ["total_count", "unique_count", "revenue"])
def test_rollup_answers_equal_raw_answers_for_every_served_dimension_set(rolled, raw, dimensions, aggregation):
    rolled_client, rolled_jobs = rolled
    raw_client, raw_jobs = raw
    for topic in TOPICS:
        for granularity in ("all", "day"):
            fields = {
                "data_source": topic,
                "aggregation": aggregation,
                "dimensions": list(dimensions),
                "granularity": granularity,
            }
            before = len(rolled_jobs.jobs)
            answer = ask(rolled_client, **fields)
            assert [sql for sql in rolled_jobs.jobs[before:] if "events_hourly" in sql], "the rollup was not read"
            assert answer == ask(raw_client, **fields)
            assert answer["results"] or topic != "eo_commerce_event"
    assert not [sql for sql in raw_jobs.jobs if "events_hourly" in sql]


def test_filters_and_recent_hours_after_the_last_run_still_answer_exactly(dataset, rolled, raw):
    fields = {
        "dimensions": ["user_data_os", "attributed"],
        "filters": {"!name": ["PURCHASE"], "user_data_os": ["IOS", "null"]},
        "granularity": "day",
        "aggregation": "unique_count",
    }
    assert ask(rolled[0], **fields) == ask(raw[0], **fields)
    # A run whose time is inside the range: the hours from then on come from events_dedup.
    run_rollup(make_client(PROJECT), dataset, SINCE, now=datetime(2026, 11, 19, 12, 30, tzinfo=UTC))
    before = len(rolled[1].jobs)
    assert ask(rolled[0], **fields) == ask(raw[0], **fields)
    [sql] = rolled[1].jobs[before:]
    assert "events_hourly" in sql and "events_dedup" in sql
    run_rollup(make_client(PROJECT), dataset, SINCE)


def test_dimensions_no_rollup_holds_are_answered_from_events_dedup(rolled):
    client, counting = rolled
    before = len(counting.jobs)
    ask(client, dimensions=["user_data_country"])
    [sql] = counting.jobs[before:]
    assert EVENTS_HOURLY not in sql and EVENTS_DEDUP in sql


def test_pages_of_one_query_id_read_one_stored_result_with_one_query_job(rolled):
    client, counting = rolled
    body = query_body(dimensions=["name", "user_data_os", "attributed"], granularity="day")
    whole = client.post("/v1/query/analytics?limit=1000", json=body).json()
    before = len(counting.jobs)
    pages, url = [], "/v1/query/analytics?limit=2"
    for _ in range(5):
        page = client.post(url, json=body).json()
        pages.append(page)
        url = page["paging"].get("next_url")
        assert url
    assert len(counting.jobs) - before == 1
    assert all(page["paging"]["total_count"] == whole["paging"]["total_count"] for page in pages)
    per_day: dict[str, list] = {}
    for page in pages:
        for row in page["results"]:
            per_day.setdefault(row["timestamp"], []).append(row)
    for day, rows in per_day.items():
        assert rows == [row for row in whole["results"] if row["timestamp"] == day][: len(rows)]


def test_a_query_id_is_bound_to_its_app_and_request(rolled):
    client, _ = rolled
    body = query_body(dimensions=["name"], granularity="day")
    url = client.post("/v1/query/analytics?limit=1", json=body).json()["paging"]["next_url"]
    assert client.post(url, json=query_body(dimensions=["user_data_os"], granularity="day")).status_code == 400
    other = client.post(url, json={**body, "branch_key": WEB_KEY, "branch_secret": WEB_SECRET})
    assert other.status_code == 400
    tampered = url.replace("query_id=r", "query_id=r0")
    assert client.post(tampered, json=body).status_code == 400
    assert client.post(url, json=body).status_code == 200

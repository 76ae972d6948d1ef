"""Query API requests that must never reach BigQuery: bad values, injection attempts,
malformed and oversized bodies (the service runs in process; no server)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.queries import Query, QueryRunner
from serving.rate_limit import RateLimiter
from serving.settings import ServingSettings
from tests.support.serving import APP_KEY, APP_SECRET, PROJECT, EmptyResults, query_body


class RecordingClient:
    """Stands in for BigQuery in validation tests: any query reaching it fails the test."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def query(self, sql: str, **_: Any):
        self.queries.append(sql)
        raise AssertionError("an invalid request reached BigQuery")


@pytest.fixture
def offline_client(monkeypatch) -> tuple[TestClient, RecordingClient]:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9")  # never contacted
    app = create_app(ServingSettings(PROJECT, "unused"))
    recorder = RecordingClient()
    app.state.queries = QueryRunner(recorder)
    return TestClient(app), recorder


INJECTION = "1; DROP TABLE events --"


@pytest.mark.parametrize(
    "query, fields",
    [
        (f"?limit={INJECTION}", {}),
        (f"?after={INJECTION}", {}),
        ("?limit=0", {}),
        ("?limit=1001", {}),
        ("?after=-1", {}),
        ("?after=99999999999999999999", {}),
        ("?query_id=1%3B+DROP", {}),
        ("", {"query_id": INJECTION}),
        ("", {"limit": INJECTION}),
        ("", {"start_date": INJECTION}),
        ("", {"end_date": "2026-11-30"}),
        ("", {"dimensions": "x" * 200}),
        ("", {"filters": {"name": []}}),
    ],
)
def test_injection_attempts_are_400_and_never_reach_bigquery(offline_client, query, fields):
    client, recorder = offline_client
    response = client.post(f"/v1/query/analytics{query}", json=query_body(**fields))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"]
    assert recorder.queries == []


def test_malformed_json_is_400_and_oversized_body_is_413(offline_client):
    client, recorder = offline_client
    assert (
        client.post(
            "/v1/query/analytics", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert client.post("/v1/query/analytics", json=["a", "list"]).status_code == 400
    big = {"branch_key": APP_KEY, "branch_secret": APP_SECRET, "padding": "x" * 70_000}
    assert client.post("/v1/query/analytics", json=big).status_code == 413
    assert recorder.queries == []


@pytest.fixture
def sql_client(monkeypatch) -> tuple[TestClient, EmptyResults]:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9")  # never contacted
    app = create_app(ServingSettings(PROJECT, "unused"))
    recorder = EmptyResults()
    app.state.queries = QueryRunner(recorder)
    app.state.rate_limiter = RateLimiter(clock=itertools.count(step=3600).__next__)  # never limits
    return TestClient(app), recorder


@pytest.mark.parametrize(
    "fields",
    [
        {"dimensions": [INJECTION]},
        {"filters": {INJECTION: ["x"]}},
        {"filters": {"!app_id": [INJECTION]}},
        {"ordered_by": INJECTION},
    ],
)
def test_hostile_names_are_answered_without_reaching_sql_text(sql_client, fields):
    client, recorder = sql_client
    response = client.post("/v1/query/analytics", json=query_body(**fields))
    assert response.status_code == 200, response.text
    assert response.json() == {"results": [], "paging": {"total_count": 0}}
    assert len(recorder.queries) == 1 and "DROP" not in recorder.queries[0]


def test_unwritten_data_sources_never_query(sql_client):
    client, recorder = sql_client
    response = client.post("/v1/query/analytics", json=query_body(data_source=INJECTION))
    assert response.json() == {"results": [], "paging": {"total_count": 0}}
    assert recorder.queries == []


def test_every_query_carries_the_cost_cap():
    runner = QueryRunner(EmptyResults(), max_bytes_billed=12345)
    assert runner.job_config(Query("SELECT 1", [])).maximum_bytes_billed == 12345
    assert QueryRunner(EmptyResults()).job_config(Query("SELECT 1", [])).maximum_bytes_billed == 10 * 2**30


def test_rate_limiter_windows_and_retry_after():
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    windows = ((1.0, 2), (60.0, 3))
    assert [limiter.acquire("a", windows) for _ in range(2)] == [None, None]
    assert limiter.acquire("a", windows) == 1  # the second is full
    assert limiter.acquire("b", windows) is None  # per key
    now[0] = 1.5
    assert limiter.acquire("a", windows) is None  # a refused request was not logged
    assert limiter.acquire("a", windows) == 59  # the minute is full until 60.0
    now[0] = 60.0
    assert limiter.acquire("a", windows) is None

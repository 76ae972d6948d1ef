"""Query API requests that must never reach BigQuery: bad values, injection attempts,
malformed and oversized bodies (the service runs in process; no server)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.queries import QueryRunner
from serving.settings import ServingSettings
from tests.support.serving import APP_KEY, APP_SECRET, PROJECT, query_body


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
        ("", {"dimensions": [INJECTION]}),
        ("", {"filters": {INJECTION: ["x"]}}),
        ("", {"filters": {"!app_id": ["x"]}}),
        ("", {"start_date": INJECTION}),
        ("", {"end_date": "2026-11-30"}),
        ("", {"data_source": INJECTION}),
        ("", {"ordered_by": INJECTION}),
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

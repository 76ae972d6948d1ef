"""The status page's JSON endpoints and HTML routes against the BigQuery emulator.

One generated sample is imported for local-app through the real backfill pipeline, with
every Android message that would be imported left out: Android then has only skipped and
rejected messages (amber), iOS and Web have imports (green), and local-web-app has nothing
at all (its only platform, Web, is grey).
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from fastapi.testclient import TestClient

from adapters.bigquery import make_client
from domain.config import load_config
from serving import auth, status, status_data
from serving.app import create_app
from serving.settings import ServingSettings
from serving.signing import Signer
from tests.support.serving import LOCAL_APP_CREDENTIALS, PROJECT, WEB_APP_CREDENTIALS, XSS, import_sample, sql_rows


@pytest.fixture(scope="module")
def imported(local_stack, tmp_path_factory) -> tuple[str, list[bytes]]:
    return import_sample(
        tmp_path_factory.mktemp("status"),
        keep=lambda m, outcome, platform: not (platform == "ANDROID" and outcome == "imported"),
    )


@pytest.fixture(scope="module")
def client(imported) -> TestClient:
    return TestClient(create_app(ServingSettings(project=PROJECT, dataset=imported[0])))


def login(client: TestClient, credentials: dict[str, str]) -> TestClient:
    """A client sharing ``client``'s app, signed in through the login form."""
    session = TestClient(client.app)
    response = session.post("/status/login", data=credentials, follow_redirects=False)
    assert response.status_code == 303, response.text
    return session


def dots(summary: dict) -> dict[str, str]:
    return {p["platform"]: p["dot"] for p in summary["platforms"]}


def test_json_endpoints_require_credentials_or_a_valid_session(client):
    for path in ("/v1/status/summary", "/v1/status/liveview", "/v1/status/chart"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={**LOCAL_APP_CREDENTIALS, "branch_secret": "wrong"}).status_code == 401
        forged = auth.make_session(load_config().app_by_id("local-app"), client.app.state.session_signer)[:-2] + "xx"
        assert client.get(path, cookies={auth.SESSION_COOKIE: forged}).status_code == 401
        assert client.get(path, headers=LOCAL_APP_CREDENTIALS).status_code == 200


def test_expired_or_rotated_sessions_are_refused():
    config = load_config()
    app = config.app_by_id("local-app")
    signer = Signer(b"session-key")
    token = auth.make_session(app, signer, now=1_000_000)
    assert auth.read_session(token, config, signer, now=1_000_001) == app
    assert auth.read_session(token, config, Signer(b"another-key"), now=1_000_001) is None
    assert auth.read_session(token, config, signer, now=1_000_000 + auth.SESSION_TTL.total_seconds() + 1) is None
    new_secret = app.model_copy(update={"branch_secret_hash": "pbkdf2_sha256$1$a$b"})
    rotated = config.model_copy(update={"apps": (new_secret,)})
    assert auth.read_session(token, rotated, signer, now=1_000_001) is None


def test_login_form_sets_a_signed_httponly_strict_cookie_without_the_secret(client):
    response = TestClient(client.app).post("/status/login", data=LOCAL_APP_CREDENTIALS, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/status"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(auth.SESSION_COOKIE + "=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert (
        LOCAL_APP_CREDENTIALS["branch_secret"] not in cookie
        and LOCAL_APP_CREDENTIALS["branch_secret"] not in response.headers["location"]
    )

    refused = TestClient(client.app).post(
        "/status/login", data={**LOCAL_APP_CREDENTIALS, "branch_secret": "nope"}, follow_redirects=False
    )
    assert refused.status_code == 401 and "set-cookie" not in refused.headers

    session = login(client, LOCAL_APP_CREDENTIALS)
    assert session.get("/v1/status/summary").json()["app_id"] == "local-app"
    session.post("/status/logout")
    assert session.get("/v1/status/summary").status_code == 401
    assert session.get("/status", follow_redirects=False).headers["location"] == "/status/login"


def test_dot_per_enabled_platform_is_green_amber_or_grey(client):
    local = client.get("/v1/status/summary", headers=LOCAL_APP_CREDENTIALS).json()
    assert dots(local) == {"IOS": "green", "ANDROID": "amber", "WEB": "green"}
    android = next(p for p in local["platforms"] if p["platform"] == "ANDROID")
    assert android["window_counts"]["imported"] == 0 and android["last_event_at"] is None
    assert dots(client.get("/v1/status/summary", headers=WEB_APP_CREDENTIALS).json()) == {"WEB": "grey"}


def test_dots_look_back_only_over_the_window(client, imported):
    two_days_ago = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=2)
    errors = make_client(PROJECT).insert_rows_json(
        f"{PROJECT}.{imported[0]}.import_stats",
        [
            {
                "minute": two_days_ago.isoformat(),
                "app_id": "local-web-app",
                "platform": "WEB",
                "outcome": "imported",
                "event_name": "PURCHASE",
                "count": 1,
                "written_at": two_days_ago.isoformat(),
            }
        ],
    )
    assert not errors
    assert dots(client.get("/v1/status/summary?window=60", headers=WEB_APP_CREDENTIALS).json()) == {"WEB": "grey"}
    assert dots(client.get("/v1/status/summary?window=3000", headers=WEB_APP_CREDENTIALS).json()) == {"WEB": "green"}
    assert client.get("/v1/status/summary?window=0", headers=WEB_APP_CREDENTIALS).status_code == 400
    assert (
        client.get(
            f"/v1/status/summary?window={status.MAX_WINDOW_MINUTES + 1}", headers=WEB_APP_CREDENTIALS
        ).status_code
        == 400
    )


def test_outcome_counts_add_up_to_every_message_imported(client, imported):
    summary = client.get("/v1/status/summary", headers=LOCAL_APP_CREDENTIALS).json()
    assert summary["last_hour"] == summary["last_day"]
    assert sum(summary["last_day"].values()) == len(imported[1])
    assert summary["last_day"]["imported"] > 0 and summary["last_day"]["rejected"] > 0


def test_top_reasons_link_rejected_examples_to_their_escaped_payload(client, imported):
    summary = client.get("/v1/status/summary", headers=LOCAL_APP_CREDENTIALS).json()
    counts = [r["last_day"] for r in summary["top_reasons"]]
    assert counts == sorted(counts, reverse=True) and len(counts) == status_data.TOP_REASONS
    for reason in summary["top_reasons"]:
        assert bool(reason["examples"]) == (reason["outcome"] == "rejected"), reason
    by_hash = {hashlib.sha256(line).hexdigest(): line for line in imported[1]}
    session = login(client, LOCAL_APP_CREDENTIALS)
    example = next(e for r in summary["top_reasons"] for e in r["examples"])
    sha256 = re.search(r"/status/rejected/([0-9a-f]{64})\?", example["payload_url"]).group(1)
    page = session.get(example["payload_url"])
    assert page.status_code == 200
    assert html.escape(by_hash[sha256].decode()) in page.text


def test_attacker_controlled_payloads_are_escaped_in_html(client, imported):
    session = login(client, LOCAL_APP_CREDENTIALS)
    rejected = session.get("/v1/status/liveview?outcome=rejected&name=script").json()["rows"]
    assert [r["name"] for r in rejected] == [XSS]
    page = session.get(rejected[0]["payload_url"])
    assert page.status_code == 200 and html.escape(XSS) in page.text and XSS not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert XSS not in session.get("/status").text


def test_liveview_filters_by_name_category_platform_and_outcome(client):
    def rows(query: str) -> list[dict]:
        found = client.get(f"/v1/status/liveview?limit=500&{query}", headers=LOCAL_APP_CREDENTIALS).json()["rows"]
        assert found, query
        return found

    assert {r["platform"] for r in rows("platform=WEB")} == {"WEB"}
    assert {r["outcome"] for r in rows("platform=WEB")} == {"imported"}
    assert {r["category"] for r in rows("category=COMMERCE")} == {"COMMERCE"}
    assert all("purchase" in r["name"].lower() for r in rows("name=PurCHase"))
    rejected = rows("outcome=rejected")
    assert {r["outcome"] for r in rejected} == {"rejected"} and all(r["payload_url"] for r in rejected)
    everything = rows("outcome=all")
    assert {r["outcome"] for r in everything} == {"imported", "rejected"}
    times = [r["processed_at"] for r in everything]
    assert times == sorted(times, reverse=True)
    assert all(r["identifiers"] for r in rows("outcome=imported"))
    assert client.get("/v1/status/liveview?platform=TV", headers=LOCAL_APP_CREDENTIALS).status_code == 400


def test_chart_counts_imported_events_per_minute_by_category(client, imported):
    chart = client.get("/v1/status/chart?hours=3", headers=LOCAL_APP_CREDENTIALS).json()
    assert chart["categories"] == ["COMMERCE", "CONTENT", "USER_LIFECYCLE", "CUSTOM"]
    assert chart["points"] and all(p["minute"].endswith(":00Z") for p in chart["points"])
    rows = (
        make_client(PROJECT)
        .query(
            # The chart counts imports when they happen (import_stats' minute), whatever the event time.
            f"SELECT COUNT(DISTINCT id) AS n FROM `{PROJECT}.{imported[0]}.events` "
            "WHERE app_id = 'local-app' AND timestamp >= TIMESTAMP_SUB(@start, INTERVAL 30 DAY) "
            "AND ingested_at >= @start AND ingested_at < @end",
            job_config=_timestamp_params(chart["start"], chart["end"]),
        )
        .result()
    )
    assert sum(p["count"] for p in chart["points"]) == next(iter(rows))["n"]


def _timestamp_params(start: str, end: str):
    from google.cloud import bigquery

    return bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("start", "TIMESTAMP", datetime.fromisoformat(start)),
            bigquery.ScalarQueryParameter("end", "TIMESTAMP", datetime.fromisoformat(end)),
        ]
    )


def test_an_app_sees_only_its_own_data(client):
    web = login(client, WEB_APP_CREDENTIALS)
    assert web.get("/v1/status/liveview").json()["rows"] == []
    assert web.get("/v1/status/chart").json()["points"] == []
    summary = web.get("/v1/status/summary").json()
    assert summary["top_reasons"] == [] and sum(summary["last_day"].values()) == 0
    local_rejected = client.get("/v1/status/liveview?outcome=rejected", headers=LOCAL_APP_CREDENTIALS).json()["rows"]
    assert web.get(local_rejected[0]["payload_url"]).status_code == 404
    assert login(client, LOCAL_APP_CREDENTIALS).get(local_rejected[0]["payload_url"]).status_code == 200


def test_status_endpoints_are_in_the_openapi_spec(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/status/summary", "/v1/status/liveview", "/v1/status/chart"):
        assert "get" in paths[path]


def test_campaigns_show_the_last_days_attributed_conversions_by_campaign_and_the_share(client):
    campaigns = client.get("/v1/status/campaigns", headers=LOCAL_APP_CREDENTIALS).json()
    names = {row["campaign"] for row in campaigns["rows"]}
    # The attribution sample's attributed conversions, less the Android ones this sample leaves out.
    assert {"paid_install_0", "branch_export_1", "web_click_0", "cross_platform_1", "impression_0"} <= names
    assert not {name for name in names if name.startswith(("deep_link_", "too_old_", "after_"))}
    assert campaigns["attributed"] == sum(row["conversions"] for row in campaigns["rows"]) > 0
    assert 0 < campaigns["attributed_share"] == pytest.approx(campaigns["attributed"] / campaigns["imported"])
    page = login(client, LOCAL_APP_CREDENTIALS).get("/status").text
    assert 'data-campaign="paid_install_0"' in page and "of imported events" in page
    assert client.get("/v1/status/campaigns", headers=WEB_APP_CREDENTIALS).json()["rows"] == []


def test_double_tracked_events_are_counted_and_warned_on_the_card(client, imported):
    """rules §4: local-app tracks COMPLETE_TUTORIAL with the Branch SDK too; the card says so."""
    summary = client.get("/v1/status/summary", headers=LOCAL_APP_CREDENTIALS).json()
    expected = sql_rows(
        f"""SELECT name, COUNT(DISTINCT id) AS n FROM `{PROJECT}.{imported[0]}.events`
            WHERE app_id = 'local-app' AND `timestamp` >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)
              AND 'double_tracking' IN UNNEST(warnings) GROUP BY name"""
    )
    assert {d["name"]: d["last_day"] for d in summary["double_tracked"]} == {r["name"]: r["n"] for r in expected}
    assert [d["name"] for d in summary["double_tracked"]] == ["COMPLETE_TUTORIAL"]
    page = login(client, LOCAL_APP_CREDENTIALS).get("/status")
    assert 'id="double-tracking"' in page.text and "COMPLETE_TUTORIAL" in page.text
    web = login(client, WEB_APP_CREDENTIALS).get("/status")
    assert 'id="double-tracking"' not in web.text  # local-web-app tracks nothing natively


def test_liveview_filters_by_origin_shows_details_and_each_event_once(client, imported):
    """The seed: "look at events with origin SEGMENT in Liveview"; a stored repeat shows once."""
    dataset = imported[0]
    rows = client.get("/v1/status/liveview?limit=500&origin=SEGMENT", headers=LOCAL_APP_CREDENTIALS).json()["rows"]
    assert rows and {r["origin"] for r in rows} == {"SEGMENT"} and {r["outcome"] for r in rows} == {"imported"}
    assert all(r["detail"]["id"] and r["detail"]["segment_message_id"] for r in rows)
    purchase = next(r for r in rows if r["name"] == "PURCHASE" and "revenue" in r["detail"])
    assert isinstance(purchase["detail"]["revenue"], float) and purchase["detail"]["currency"]
    # The user agent as text, custom data as JSON text of a string -> string object.
    assert any(str(r["detail"].get("user_agent", "")).startswith("Mozilla/5.0") for r in rows)
    custom = [orjson.loads(r["detail"]["custom_data"]) for r in rows if "custom_data" in r["detail"]]
    assert custom and all(c and all(isinstance(v, str) for v in c.values()) for c in custom)
    none = client.get("/v1/status/liveview?origin=BRANCH", headers=LOCAL_APP_CREDENTIALS).json()["rows"]
    assert none == []
    # A second stored copy of one event (a retried insert) is listed once, as events_dedup has it.
    table = f"{PROJECT}.{dataset}.events"
    [original] = sql_rows(
        f"SELECT * FROM `{table}` WHERE `timestamp` > '2000-01-01' AND id = '{rows[0]['detail']['id']}'"
    )
    copy = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in original.items() if v is not None}
    copy["ingested_at"] = datetime.now(UTC).isoformat()
    copy.pop("custom_data", None)
    copy.pop("content_items", None)
    assert make_client(PROJECT).insert_rows_json(table, [copy]) == []
    again = client.get("/v1/status/liveview?limit=500&origin=SEGMENT", headers=LOCAL_APP_CREDENTIALS).json()["rows"]
    ids = [r["detail"]["id"] for r in again]
    assert len(ids) == len(set(ids)) and rows[0]["detail"]["id"] in ids

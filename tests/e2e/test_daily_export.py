"""Daily Export: the Beam job's files round-trip, and the API's signed links hold."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from beam_jobs import daily_export
from domain.export_files import EXPORT_COLUMNS
from serving.app import create_app
from serving.export import ExportService, ExportSettings, UrlSigner
from serving.query_sql import DATA_SOURCES
from serving.settings import ServingSettings
from serving.signing import Signer
from tests.support.serving import (
    APP,
    APP_KEY,
    APP_SECRET,
    PROJECT,
    WEB_APP,
    WEB_KEY,
    WEB_SECRET,
    load_sample_events,
    sql_rows,
)

DAY = date(2026, 11, 19)
DAY_START = datetime(2026, 11, 19, tzinfo=UTC)
ROWS_PER_FILE = 7


@pytest.fixture(scope="module")
def dataset(local_stack, tmp_path_factory) -> str:
    return load_sample_events(tmp_path_factory.mktemp("export_data"))


def read_csv_gz(data: bytes) -> list[dict[str, str]]:
    text = gzip.decompress(data).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == ",".join(EXPORT_COLUMNS)
    return rows


def expected_ids(dataset: str, app_id: str) -> dict[str, set[str]]:
    rows = sql_rows(
        f"SELECT DISTINCT topic, id FROM `{PROJECT}.{dataset}.events` WHERE app_id = @app "
        f"AND `timestamp` >= @start AND `timestamp` < @end",
        app=app_id,
        start=DAY_START,
        end=DAY_START + timedelta(days=1),
    )
    ids: dict[str, set[str]] = {topic: set() for topic in DATA_SOURCES}
    for row in rows:
        ids[row["topic"]].add(row["id"])
    return ids


def test_every_event_of_the_day_appears_exactly_once_within_the_file_row_limit(dataset, tmp_path):
    output = tmp_path / "export"
    manifest = daily_export.run(
        [
            "--runner=FnApiRunner",
            f"--project={PROJECT}",
            f"--dataset={dataset}",
            f"--app_id={APP}",
            f"--export_date={DAY.isoformat()}",
            f"--output={output}",
            f"--max_rows_per_file={ROWS_PER_FILE}",
        ]
    )
    expected = expected_ids(dataset, APP)
    for topic in DATA_SOURCES:
        ids: list[str] = []
        for relative in manifest["files"][topic]:
            rows = read_csv_gz((output / relative).read_bytes())
            assert 1 <= len(rows) <= ROWS_PER_FILE
            ids += [row["id"] for row in rows]
            for row in rows:
                moment = datetime.fromtimestamp(int(row["timestamp"]) / 1000, tz=UTC)
                assert moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") == row["timestamp_iso"]
                assert moment.date() == DAY
                assert isinstance(json.loads(row["content_items"]), list)
        assert len(ids) == len(set(ids)) == manifest["row_counts"][topic]  # the raw table holds each id twice
        assert set(ids) == expected[topic]
    assert sum(manifest["row_counts"].values()) > 3 * ROWS_PER_FILE


def test_segment_anonymous_id_travels_in_custom_data(dataset, tmp_path):
    output = tmp_path / "export"
    manifest = daily_export.run(
        [
            "--runner=FnApiRunner",
            f"--project={PROJECT}",
            f"--dataset={dataset}",
            f"--app_id={WEB_APP}",
            f"--export_date={DAY.isoformat()}",
            f"--output={output}",
        ]
    )
    anonymous = {
        r["id"]: r["segment_anonymous_id"]
        for r in sql_rows(
            f"SELECT DISTINCT id, segment_anonymous_id FROM `{PROJECT}.{dataset}.events` WHERE app_id = @app "
            f"AND `timestamp` >= @start AND `timestamp` < @end AND segment_anonymous_id IS NOT NULL",
            app=WEB_APP,
            start=DAY_START,
            end=DAY_START + timedelta(days=1),
        )
    }
    rows = [
        row
        for topic in DATA_SOURCES
        for relative in manifest["files"][topic]
        for row in read_csv_gz((output / relative).read_bytes())
    ]
    assert anonymous and all(
        json.loads(r["custom_data"])["segment_anonymous_id"] == anonymous[r["id"]] for r in rows if r["id"] in anonymous
    )


@pytest.fixture(scope="module")
def service(dataset, tmp_path_factory) -> TestClient:
    settings = ExportSettings(
        tmp_path_factory.mktemp("exports"), Signer(b"test-signing-key"), max_rows_per_file=ROWS_PER_FILE
    )
    return TestClient(create_app(ServingSettings(PROJECT, dataset), export_settings=settings))


def export(service: TestClient, key: str = APP_KEY, secret: str = APP_SECRET, day: str = DAY.isoformat()):
    return service.post("/v3/export", json={"branch_key": key, "branch_secret": secret, "export_date": day})


def test_export_api_returns_signed_links_per_topic_that_download_the_day(service, dataset):
    response = export(service)
    assert response.status_code == 200, response.text
    links = response.json()
    assert set(links) == set(DATA_SOURCES)
    expected = expected_ids(dataset, APP)
    for topic, urls in links.items():
        ids = []
        for url in urls:
            download = service.get(url)
            assert download.status_code == 200
            ids += [row["id"] for row in read_csv_gz(download.content)]
        assert sorted(ids) == sorted(expected[topic])
    assert export(service).json().keys() == links.keys()  # a second request reuses the export


def test_forged_or_other_app_links_are_403(service):
    url = urlsplit(export(service).json()["eo_custom_event"][0])
    path, query = url.path, url.query
    assert service.get(f"{path}?{query}").status_code == 200
    other_app = path.replace(f"/files/{APP}/", f"/files/{WEB_APP}/")
    other_file = path.replace("00000-of", "00001-of")
    forged_signature = query[:-4] + ("0000" if not query.endswith("0000") else "1111")
    later_expiry = query.replace("expires=", "expires=9")
    for attempt in (
        f"{other_app}?{query}",
        f"{other_file}?{query}",
        f"{path}?{forged_signature}",
        f"{path}?{later_expiry}",
        path,
        f"{path}?expires=abc&signature=def",
    ):
        assert service.get(attempt).status_code == 403, attempt
    web = export(service, WEB_KEY, WEB_SECRET).json()
    assert all(f"/files/{WEB_APP}/" in u for urls in web.values() for u in urls)


def test_export_rejects_bad_credentials_and_days_not_yet_over(service):
    assert export(service, secret="wrong").status_code == 401
    assert export(service, day=datetime.now(UTC).date().isoformat()).status_code == 400
    assert export(service, day="2026-11-19'; --").status_code == 400


def test_signed_links_expire():
    now = [1_000_000.0]
    signer = UrlSigner(Signer(b"key"), clock=lambda: now[0])
    expires, signature = signer.sign("app", "2026-11-19/t/f.csv.gz", timedelta(minutes=5))
    assert signer.verify("app", "2026-11-19/t/f.csv.gz", str(expires), signature)
    now[0] += 301
    assert not signer.verify("app", "2026-11-19/t/f.csv.gz", str(expires), signature)
    assert not UrlSigner(Signer(b"other-key"), clock=lambda: 0).verify(
        "app", "2026-11-19/t/f.csv.gz", str(expires), signature
    )


def test_export_dir_escape_is_refused(tmp_path):
    settings = ExportSettings(tmp_path, Signer(b"k"))
    (tmp_path / "secret.txt").write_text("not an export")
    service = ExportService(ServingSettings(PROJECT, "unused"), settings)
    assert service.file_path("app", "../secret.txt") is None

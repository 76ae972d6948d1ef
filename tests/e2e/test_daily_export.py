"""Daily Export on the local emulators: the scheduled job's files (Branch v2, read the way the Go
client reads them), staleness, and the API Branch's clients call (lists, never runs the job)."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from adapters.bigquery import make_client
from beam_jobs import daily_export
from domain.export_files import EXPORT_COLUMNS, EXPORT_TOPICS, export_id
from serving.app import create_app
from serving.export import ExportService, ExportSettings, UrlSigner
from serving.settings import ServingSettings
from serving.signing import Signer
from tests.support import REPO
from tests.support.branch_csv import parse_like_kachit
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
RUN_AT = "2026-11-22T12:00:00+00:00"  # 19 and 20 Nov are complete (day + 1 day + 26 h)
ROWS_PER_FILE = 7
FILE_NAME = re.compile(
    r"(?P<app>[\w.-]+)-(?P<day>\d{4}-\d{2}-\d{2})-(?P<topic>eo_\w+)-v2-[0-9a-f]{16}-(?P<n>\d+)\.csv\.gz"
)


@pytest.fixture(scope="module")
def dataset(local_stack, tmp_path_factory) -> str:
    return load_sample_events(tmp_path_factory.mktemp("export_data"))


def run_export(dataset: str, root: Path, *flags: str) -> list[dict]:
    return daily_export.run(
        [
            "--runner=FnApiRunner",
            f"--project={PROJECT}",
            f"--dataset={dataset}",
            f"--output={root}",
            f"--max_rows_per_file={ROWS_PER_FILE}",
            *flags,
        ]
    )


@pytest.fixture(scope="module")
def exported(dataset, tmp_path_factory) -> tuple[Path, list[dict]]:
    """The scheduled run: every app, every complete day of the look-back window."""
    root = tmp_path_factory.mktemp("exports")
    return root, run_export(dataset, root, "--all_apps", "--export_date=auto", f"--now={RUN_AT}", "--lookback_days=4")


def expected_ids(dataset: str, app_id: str) -> dict[str, set[str]]:
    rows = sql_rows(
        f"SELECT DISTINCT topic, id FROM `{PROJECT}.{dataset}.events` WHERE app_id = @app "
        f"AND `timestamp` >= @start AND `timestamp` < @end",
        app=app_id,
        start=DAY_START,
        end=DAY_START + timedelta(days=1),
    )
    ids: dict[str, set[str]] = {topic: set() for topic in EXPORT_TOPICS}
    for row in rows:
        ids[row["topic"]].add(row["id"])
    return ids


def day_manifest(manifests: list[dict], app_id: str, day: date = DAY) -> dict:
    [found] = [m for m in manifests if m["app_id"] == app_id and m["export_date"] == day.isoformat()]
    return found


def test_the_scheduled_run_exports_every_app_and_complete_day_once(exported):
    _, manifests = exported
    days = {(m["app_id"], m["export_date"]) for m in manifests}
    assert days == {(app, f"2026-11-{d}") for app in (APP, WEB_APP) for d in (17, 18, 19, 20)}
    assert all(m["complete"] for m in manifests)


def test_every_event_of_the_day_is_one_row_in_branch_v2_files_the_go_client_parses(dataset, exported):
    root, manifests = exported
    manifest = day_manifest(manifests, APP)
    expected = expected_ids(dataset, APP)
    for topic in EXPORT_TOPICS:
        event_ids: list[str] = []
        for name in manifest["files"][topic]:
            match = FILE_NAME.fullmatch(name)
            assert match and (match["app"], match["day"], match["topic"]) == (APP, DAY.isoformat(), topic)
            data = (root / APP / DAY.isoformat() / name).read_bytes()
            header, rows = parse_like_kachit(data)
            assert header == list(EXPORT_COLUMNS)
            assert 1 <= len(rows) <= ROWS_PER_FILE
            for row in rows:
                assert row["id"] == export_id(APP, row["event_id"])
                moment = datetime.fromtimestamp(row["timestamp"] / 1000, tz=UTC)
                assert row["timestamp_iso"] == moment.replace(microsecond=0) and moment.date() == DAY
                assert row["custom_data"].startswith("{")
            event_ids += [row["event_id"] for row in rows]
        assert len(event_ids) == len(set(event_ids)) == manifest["row_counts"][topic]  # events holds each id twice
        assert set(event_ids) == expected[topic]
    assert sum(manifest["row_counts"].values()) > 3 * ROWS_PER_FILE


def test_a_second_scheduled_run_exports_nothing_new(dataset, exported):
    root, _ = exported
    assert run_export(dataset, root, "--all_apps", "--export_date=auto", f"--now={RUN_AT}", "--lookback_days=4") == []


def test_an_explicit_day_of_one_app_still_works_and_today_is_marked_incomplete(dataset, tmp_path):
    # The README's one-day form as typed: Beam's default runner, which writes every option into
    # the pipeline's proto (where a date-typed option once failed: JSON values only).
    command = [sys.executable, "-m", "beam_jobs.daily_export", f"--project={PROJECT}", f"--dataset={dataset}"]
    command += ["--app_id", WEB_APP, "--export_date", DAY.isoformat(), "--output", str(tmp_path)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [printed] = [json.loads(line) for line in done.stdout.splitlines()]
    assert (printed["app_id"], printed["export_date"], printed["complete"]) == (WEB_APP, DAY.isoformat(), True)
    manifest = json.loads((tmp_path / WEB_APP / DAY.isoformat() / "manifest.json").read_text())
    assert manifest["row_counts"] == printed["row_counts"] and sum(manifest["row_counts"].values()) > 0
    today = datetime.now(UTC).date().isoformat()
    [partial] = run_export(dataset, tmp_path, f"--app_id={WEB_APP}", f"--export_date={today}")
    assert not partial["complete"]


@pytest.fixture(scope="module")
def service(dataset, exported) -> TestClient:
    root, _ = exported
    settings = ExportSettings(str(root), Signer(b"test-signing-key"))
    return TestClient(create_app(ServingSettings(PROJECT, dataset), export_settings=settings))


def export(service: TestClient, key: str = APP_KEY, secret: str = APP_SECRET, day: str = DAY.isoformat(), **extra):
    return service.post("/v3/export", json={"branch_key": key, "branch_secret": secret, "export_date": day, **extra})


def test_export_api_answers_15_topics_of_signed_links_that_download_the_day(service, dataset):
    response = export(service)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    links = response.json()
    assert list(links) == list(EXPORT_TOPICS)
    expected = expected_ids(dataset, APP)
    for topic, urls in links.items():
        ids = []
        for url in urls:
            assert urlsplit(url).path.endswith(".csv.gz")
            download = service.get(url)
            assert download.status_code == 200
            assert download.headers["content-type"] == "application/octet-stream"
            assert download.content[:2] == b"\x1f\x8b"
            ids += [row["event_id"] for row in parse_like_kachit(download.content)[1]]
        assert sorted(ids) == sorted(expected[topic])


def test_file_links_answer_head_without_a_body(service):
    url = export(service).json()["eo_custom_event"][0]
    head = service.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "application/octet-stream"


def test_form_body_trailing_slash_and_extra_fields_get_the_same_answer(service):
    expected = export(service).json()
    form = {"branch_key": APP_KEY, "branch_secret": APP_SECRET, "export_date": DAY.isoformat()}
    as_form = service.post("/v3/export/", data=form, follow_redirects=False)
    assert as_form.status_code == 200 and as_form.headers["content-type"] == "application/json; charset=utf-8"
    with_extras = service.post(
        "/v3/export?export_date=2020-01-01", json={**form, "app_id": "123", "enable_install_recalculation": True}
    )
    for answer in (as_form.json(), with_extras.json()):  # same files; links differ only by signature time
        assert {t: [urlsplit(u).path for u in us] for t, us in answer.items()} == {
            t: [urlsplit(u).path for u in us] for t, us in expected.items()
        }


def test_today_the_future_and_unexported_days_are_15_empty_lists(service):
    today = datetime.now(UTC).date()
    for day in (today, today + timedelta(days=30), date(2020, 1, 1)):
        response = export(service, day=day.isoformat())
        assert response.status_code == 200, day
        assert response.json() == {topic: [] for topic in EXPORT_TOPICS}


def test_bad_credentials_and_bad_dates_are_400_in_branchs_error_shape(service):
    bad_secret = export(service, secret="wrong")
    assert bad_secret.status_code == 400 and bad_secret.json()["error"]["code"] == 400
    assert export(service, key="", secret="").status_code == 400
    for day in ("2026-11-19'; --", "2026-13-01", "20261119", ""):
        response = export(service, day=day)
        assert response.status_code == 400, day
        assert response.json()["error"]["message"].startswith("export_date")
    assert (
        service.post("/v3/export", content=b"[1, 2]", headers={"content-type": "application/json"}).status_code == 400
    )


def test_forged_or_other_app_links_are_403(service):
    url = urlsplit(export(service).json()["eo_custom_event"][0])
    path, query = url.path, url.query
    assert service.get(f"{path}?{query}").status_code == 200
    other_app = path.replace(f"/files/{APP}/", f"/files/{WEB_APP}/")
    other_file = re.sub(r"-(\d+)\.csv\.gz$", lambda m: f"-{int(m[1]) + 1}.csv.gz", path)
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


def test_links_last_seven_days(service):
    url = urlsplit(export(service).json()["eo_custom_event"][0])
    expires = int(re.search(r"expires=(\d+)", url.query)[1])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=7)).timestamp()) < 60


def test_a_late_event_makes_the_next_scheduled_run_export_the_day_again(dataset, exported):
    """Runs last in this module: it adds an event to WEB_APP's day."""
    root, manifests = exported
    before = day_manifest(manifests, WEB_APP)
    late = {
        "id": "late-backfilled-event", "app_id": WEB_APP, "name": "late_event", "category": "custom",
        "topic": "eo_custom_event", "origin": "segment", "timestamp": (DAY_START + timedelta(hours=5)).isoformat(),
        "ingested_at": datetime.now(UTC).isoformat(), "segment_message_id": "late-1",
    }  # fmt: skip
    assert make_client(PROJECT).insert_rows_json(f"{PROJECT}.{dataset}.events", [late]) == []
    rerun = run_export(dataset, root, "--all_apps", "--export_date=auto", f"--now={RUN_AT}", "--lookback_days=4")
    assert [(m["app_id"], m["export_date"]) for m in rerun] == [(WEB_APP, DAY.isoformat())]
    [after] = rerun
    assert after["row_counts"]["eo_custom_event"] == before["row_counts"]["eo_custom_event"] + 1
    assert set(after["files"]["eo_custom_event"]).isdisjoint(before["files"]["eo_custom_event"])  # new names
    rows = [
        row
        for name in after["files"]["eo_custom_event"]
        for row in parse_like_kachit((root / WEB_APP / DAY.isoformat() / name).read_bytes())[1]
    ]
    assert "late-backfilled-event" in {row["event_id"] for row in rows}


def test_signed_links_expire():
    now = [1_000_000.0]
    signer = UrlSigner(Signer(b"key"), clock=lambda: now[0])
    expires, signature = signer.sign("app", "2026-11-19/f.csv.gz", timedelta(minutes=5))
    assert signer.verify("app", "2026-11-19/f.csv.gz", str(expires), signature)
    now[0] += 301
    assert not signer.verify("app", "2026-11-19/f.csv.gz", str(expires), signature)
    assert not UrlSigner(Signer(b"other-key"), clock=lambda: 0).verify(
        "app", "2026-11-19/f.csv.gz", str(expires), signature
    )


def test_export_dir_escape_is_refused(tmp_path):
    settings = ExportSettings(str(tmp_path), Signer(b"k"))
    (tmp_path / "secret.txt").write_text("not an export")
    service = ExportService(ServingSettings(PROJECT, "unused"), settings)
    assert service.file_path("app", "../secret.txt") is None


def test_files_are_gzip_utf8_without_bom(exported):
    root, _ = exported
    some = next(root.glob(f"{APP}/{DAY.isoformat()}/*.csv.gz"))
    assert not gzip.decompress(some.read_bytes()).startswith(b"\xef\xbb\xbf")


def _files_by_number(root: Path, manifest: dict) -> dict[tuple[str, str], bytes]:
    """Each file's rows (gunzipped), by topic and file number (the name's token differs per run)."""
    files = {}
    for topic, names in manifest["files"].items():
        for name in names:
            match = FILE_NAME.fullmatch(name)
            assert match
            files[(topic, match["n"])] = gzip.decompress((root / APP / DAY.isoformat() / name).read_bytes())
    return files


def test_a_day_is_read_in_hash_shards_and_a_re_export_writes_the_same_files(dataset, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    [one] = run_export(dataset, first, f"--app_id={APP}", f"--export_date={DAY.isoformat()}", f"--now={RUN_AT}")
    [two] = run_export(dataset, second, f"--app_id={APP}", f"--export_date={DAY.isoformat()}", f"--now={RUN_AT}")
    assert one["row_counts"] == two["row_counts"]
    files = _files_by_number(first, one)
    assert files == _files_by_number(second, two)  # a file's rows: a function of the event ids
    # Several shards (ROWS_PER_FILE 7: a shard is about 5 rows), each of its own files.
    assert len({n for _, n in files}) >= sum(one["row_counts"].values()) // 7
    # The staged rows are dropped once the day's manifest is written.
    tables = [t.table_id for t in make_client(PROJECT).list_tables(f"{PROJECT}.{dataset}")]
    assert not [t for t in tables if t.startswith("export_staging_")]

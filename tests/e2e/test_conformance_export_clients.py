"""Conformance of the Daily Export API (``POST /v3/export``, rules §8 and §10) with Branch's real clients.

One test per public client of Branch's Daily Export: each replays the request that client's
code sends (path with or without the trailing slash, JSON or form body, headers, extra
fields; only the host ``https://api2.branch.io`` / ``https://api.branch.io`` is swapped for this
service's) against the real service over real HTTP, then downloads and reads the files the
way that client does (gzip detection, decoding, CSV reader, type conversions, columns by name
or by position). Expected rows come from SQL on the raw ``events`` table.

The files are written ahead of the requests by the real scheduled job (``beam_jobs.daily_export``)
for local-app's 19 Nov 2026 (a complete day; 18 Nov is left unexported). The importer writes
no clicks, installs or opens, so those topics answer ``[]``; clients that need a non-empty list
there (injurymap's ``[self.name][0]``, Kachit's ``Data`` only when ``eo_click`` is non-empty)
get what the tests named after them assert, a known difference listed in the suite's report.

Not covered: singer-io/tap-branch and Airbyte's ``source-branch`` call Branch's Custom Export
(``/v2/logs``), which this service does not serve.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from beam_jobs import daily_export
from domain.export_files import EXPORT_COLUMNS, EXPORT_TOPICS, export_id
from schemas.branch_export import BRANCH_V2_COLUMNS
from serving.app import create_app
from serving.export import ExportSettings
from serving.settings import ServingSettings
from serving.signing import Signer
from tests.support import REPO
from tests.support.branch_csv import parse_like_kachit
from tests.support.clients import live_service, load_conformance_events, on_service
from tests.support.serving import APP, APP_KEY, APP_SECRET, PROJECT, sql_rows

EXPORT = "https://api2.branch.io/v3/export"
DAY = "2026-11-19"  # exported by the job
UNEXPORTED_DAY = "2026-11-18"  # complete, but the job has not written it
TOPICS_WITH_FILES = {"eo_commerce_event", "eo_content_event", "eo_custom_event", "eo_user_lifecycle_event"}
TIMEOUT = 60


@pytest.fixture(scope="module")
def dataset(local_stack, tmp_path_factory) -> str:
    return load_conformance_events(tmp_path_factory.mktemp("conformance_export"))


@pytest.fixture(scope="module")
def export_root(dataset, tmp_path_factory) -> Path:
    """local-app's 19 Nov written by the real export job (default file size: 200k rows)."""
    root = tmp_path_factory.mktemp("exports")
    [manifest] = daily_export.run(
        [
            "--runner=FnApiRunner",
            f"--project={PROJECT}",
            f"--dataset={dataset}",
            f"--output={root}",
            f"--app_id={APP}",
            f"--export_date={DAY}",
        ]
    )
    assert manifest["complete"] and {t for t, names in manifest["files"].items() if names} == TOPICS_WITH_FILES
    return root


@pytest.fixture(scope="module")
def base(dataset, export_root) -> Iterator[str]:
    settings = ExportSettings(str(export_root), Signer(b"conformance-export"))
    with live_service(create_app(ServingSettings(PROJECT, dataset), export_settings=settings)) as url:
        yield url


@pytest.fixture(scope="module")
def expected_ids(dataset) -> dict[str, set[int]]:
    """Branch ids (``export_id``) of local-app's events of 19 Nov per topic, from raw events."""
    rows = sql_rows(
        f"SELECT DISTINCT topic, id FROM `{PROJECT}.{dataset}.events` WHERE app_id = @app AND DATE(`timestamp`) = @day",
        app=APP,
        day=DAY,
    )
    ids: dict[str, set[int]] = {topic: set() for topic in EXPORT_TOPICS}
    for row in rows:
        ids[row["topic"]].add(export_id(APP, row["id"]))
    assert {topic for topic, found in ids.items() if found} == TOPICS_WITH_FILES
    return ids


def paths(answer: dict[str, list[str]]) -> dict[str, list[str]]:
    """An answer's file paths per topic (links differ only by their signature's time)."""
    return {topic: [urlsplit(url).path for url in urls] for topic, urls in answer.items()}


# --- TicketSwap/tap-branch tap_branch/client.py, schemas.py ------------------------------------

TICKETSWAP_STREAMS = (
    "eo_click",
    "eo_impression",
    "eo_install",
    "eo_open",
    "eo_reinstall",
    "eo_commerce_event",
    "eo_custom_event",
    "eo_web_session_start",
)
# Integer and number properties of its schemas (schemas.py) that Branch's v2 header has
# (its user_data_geo_lat/lon, days_from_install_to_opt_in, ... are not v2 columns).
TICKETSWAP_INTEGERS = (
    "id",
    "timestamp",
    "event_timestamp",
    "di_match_click_token",
    "days_from_last_attributed_touch_to_event",
    "last_attributed_touch_timestamp",
    "last_attributed_touch_data_tilde_id",
    "last_cta_view_timestamp",
    "last_cta_view_data_tilde_id",
    "hours_from_last_attributed_touch_to_event",
    "referrer_click_timestamp",
    "store_install_begin_timestamp",
    "user_data_geo_city_code",
    "user_data_geo_dma_code",
)
TICKETSWAP_NUMBERS = (
    "event_data_exchange_rate",
    "event_data_revenue",
    "event_data_revenue_in_usd",
    "event_data_shipping",
    "event_data_tax",
)


def ticketswap_get_records(base: str, event_type: str, export_date: str) -> list[dict[str, Any]]:
    """``BranchExportStream``: ``_get_export_urls`` then ``_parse_csv`` per URL, then ``post_process``."""
    response = requests.post(
        on_service(EXPORT, base),
        json={"branch_key": APP_KEY, "branch_secret": APP_SECRET, "export_date": export_date},
        headers={"Accept": "application/json", "Content-Type": "application/json"},
        timeout=60,
    )
    response.raise_for_status()
    records = []
    for url in response.json().get(event_type, []):
        download = requests.get(url, timeout=300)
        download.raise_for_status()
        content = download.content
        if content[:2] == b"\x1f\x8b":
            content = gzip.decompress(content)
        for row in csv.DictReader(io.StringIO(content.decode("utf-8-sig"))):
            row["export_date"] = export_date
            records.append(ticketswap_post_process(row))
    return records


def ticketswap_post_process(row: dict[str, Any]) -> dict[str, Any]:
    """``post_process``: "" -> None, integer fields ``int(str)``, number fields ``float(str)``;
    a failed conversion is suppressed and leaves the string."""
    for key in (*TICKETSWAP_INTEGERS, *TICKETSWAP_NUMBERS):
        if key not in row:
            continue
        if row[key] in (None, ""):
            row[key] = None
            continue
        with contextlib.suppress(ValueError, TypeError):
            row[key] = int(row[key]) if key in TICKETSWAP_INTEGERS else float(row[key])
    return row


def test_ticketswap_tap_branch_syncs_every_stream_with_typed_fields(base, expected_ids):
    """TicketSwap/tap-branch ``tap_branch/client.py`` and ``schemas.py``: per stream and day one
    JSON POST to ``/v3/export``, ``.get(event_type, [])``, download, gunzip when the bytes start
    with ``1f 8b``, decode ``utf-8-sig``, ``csv.DictReader``, then its type conversions. Every
    integer and number field converts (a failure would leave a string the schema refuses)."""
    assert set(TICKETSWAP_INTEGERS + TICKETSWAP_NUMBERS) <= set(BRANCH_V2_COLUMNS)
    for export_date in (UNEXPORTED_DAY, DAY):
        for event_type in TICKETSWAP_STREAMS:
            records = ticketswap_get_records(base, event_type, export_date)
            expected = expected_ids[event_type] if export_date == DAY else set()
            assert {record["id"] for record in records} == expected and len(records) == len(expected), event_type
            for record in records:
                assert list(record)[: len(BRANCH_V2_COLUMNS)] == list(BRANCH_V2_COLUMNS)
                assert record["id"] == export_id(APP, record["event_id"]) and record["export_date"] == export_date
                for key in TICKETSWAP_INTEGERS:
                    assert record[key] is None or isinstance(record[key], int), (key, record[key])
                for key in TICKETSWAP_NUMBERS:
                    assert record[key] is None or isinstance(record[key], float), (key, record[key])
                assert isinstance(record["timestamp"], int)
    commerce = ticketswap_get_records(base, "eo_commerce_event", DAY)
    assert any(record["event_data_revenue"] for record in commerce)
    assert any(record["last_attributed_touch_timestamp"] for record in commerce)


# --- injurymap/tap-branchio tap_branchio/client.py ---------------------------------------------

INJURYMAP_STREAMS = (
    "eo_branch_cta_view",
    "eo_click",
    "eo_commerce_event",
    "eo_content_event",
    "eo_install",
    "eo_open",
    "eo_reinstall",
    "eo_user_lifecycle_event",
)


def injurymap_parse_response(base: str, name: str, export_date: str) -> list[dict[str, str]]:
    """The RESTStream: POST ``url_base`` ``https://api2.branch.io/v3/export`` (path "") with a JSON
    payload, then ``response.json()[self.name][0]`` (the first URL only), ``raise_for_status``,
    ``gzip.open(..., "rt")`` (always gunzips) and ``csv.DictReader``."""
    response = requests.post(
        on_service(EXPORT, base),
        json={"branch_key": APP_KEY, "branch_secret": APP_SECRET, "export_date": export_date},
        timeout=TIMEOUT,
    )
    response.raise_for_status()
    stream_file_url = response.json()[name][0]
    stream_file_resp = requests.get(stream_file_url, timeout=TIMEOUT)
    stream_file_resp.raise_for_status()
    with gzip.open(io.BytesIO(stream_file_resp.content), "rt") as f:
        return list(csv.DictReader(f))


def test_injurymap_tap_branchio_reads_topics_with_files_and_fails_on_empty_topics(base, expected_ids):
    """injurymap/tap-branchio ``tap_branchio/client.py``: ``response.json()[self.name][0]``. For
    topics with files of the day (one file each below 200k rows, so the first URL is the whole
    day) it reads every row; for topics the importer never writes (clicks, installs, opens,
    ...) our ``[]`` makes that expression raise IndexError, which ends the tap's sync. Known
    difference: Branch's answer for such an app would be ``[]`` as well, so the tap is only
    usable with topics that have files every day."""
    for name in INJURYMAP_STREAMS:
        if name in TOPICS_WITH_FILES:
            rows = injurymap_parse_response(base, name, DAY)
            assert {int(row["id"]) for row in rows} == expected_ids[name] and len(rows) == len(expected_ids[name])
            assert all(isinstance(value, str) for row in rows for value in row.values())  # every field a string
        else:
            with pytest.raises(IndexError):
                injurymap_parse_response(base, name, DAY)
    with pytest.raises(IndexError):  # a day without files: every topic is []
        injurymap_parse_response(base, "eo_commerce_event", UNEXPORTED_DAY)


# --- Kachit/branch-sdk-go export.go, http.go, resource.go, csv.go, types.go --------------------

KACHIT_EVENT_ONTOLOGY_TAGS = (
    "branch_cta_view",
    "eo_click",
    "eo_commerce_event",
    "eo_content_event",
    "eo_custom_event",
    "eo_impression",
    "eo_install",
    "eo_open",
    "eo_pageview",
    "eo_reinstall",
    "eo_sms_sent",
    "eo_user_lifecycle_event",
    "eo_web_session_start",
    "eo_web_to_app_auto_redirect",
    "eo_dismissal",
)
# Go's http.Client sends its User-Agent and Accept-Encoding, and no Accept (None drops requests' default).
GO_HEADERS: dict[str, Any] = {"User-Agent": "Go-http-client/1.1", "Accept-Encoding": "gzip", "Accept": None}


def test_kachit_branch_sdk_go_gets_nil_data_without_clicks_and_parses_the_files(base, expected_ids):
    """Kachit/branch-sdk-go ``export.go`` (@7871d088): POST ``v3/export`` with only
    ``Content-Type: application/json``; the decoder is picked by comparing the answer's
    Content-Type with ``application/json; charset=utf-8`` exactly; ``result.Data`` is set only
    when ``eo_click`` is non-empty (``IsEmpty``). Our eo_click is always ``[]`` (no clicks
    imported), so the SDK returns ``Data == nil`` for every day: a known difference, its
    caller gets no links through the SDK. A refused request gets Branch's error object, as
    JSON it can decode. The files behind the links (fetched as the SDK
    fetches one: plain GET, ``application/octet-stream`` picks gunzip + CSV) parse with its
    ``csv.go``/``types.go`` rules (``tests.support.branch_csv``)."""
    response = requests.post(
        on_service(EXPORT, base),
        data=json.dumps({"export_date": DAY, "branch_key": APP_KEY, "branch_secret": APP_SECRET}),
        headers={"Content-Type": "application/json", **GO_HEADERS},
        timeout=TIMEOUT,
    )
    assert response.status_code < 300  # IsSuccess
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    answer = response.json()
    ontology = {tag: answer.get(tag) or [] for tag in KACHIT_EVENT_ONTOLOGY_TAGS}  # json.Unmarshal into the struct
    data = None if len(ontology["eo_click"]) == 0 else ontology
    assert data is None
    assert ontology["branch_cta_view"] == [] and "eo_branch_cta_view" in answer  # its tag lacks "eo_"

    refused = requests.post(
        on_service(EXPORT, base),
        data=json.dumps({"export_date": DAY, "branch_key": APP_KEY, "branch_secret": "wrong"}),
        headers={"Content-Type": "application/json", **GO_HEADERS},
        timeout=TIMEOUT,
    )  # not IsSuccess: unmarshalled into ResponseBodyError, the error string is error.message
    assert refused.status_code == 400 and refused.headers["Content-Type"] == "application/json; charset=utf-8"
    assert refused.json()["error"]["code"] == 400 and refused.json()["error"]["message"]

    for topic in TOPICS_WITH_FILES:
        ids = []
        for link in ontology[topic]:
            download = requests.get(link, headers=GO_HEADERS, timeout=TIMEOUT)
            assert download.status_code < 300
            assert download.headers["Content-Type"] == "application/octet-stream"
            # Go's transport asked for gzip itself: a Content-Encoding would make it strip the
            # file's gzip layer, and the SDK's own gzip.NewReader would then fail.
            assert "Content-Encoding" not in download.headers
            header, rows = parse_like_kachit(download.content)
            assert header == list(EXPORT_COLUMNS)
            ids += [row["id"] for row in rows]
        assert sorted(ids) == sorted(expected_ids[topic])


# --- jinahya/branch-api-client export/daily/DailyExportClient.java -----------------------------


def test_jinahya_branch_api_client_accepts_only_200_and_eo_keys(base):
    """jinahya/branch-api-client ``DailyExportClient.java``: Jackson snake_case body,
    ``content-type``/``accept: application/json``, ``checkStatusCode(v -> v == 200)``;
    ``getPathsForAllReportTypes()`` keeps the keys starting with ``eo_`` whose values are
    iterable; ``getPaths(reportType)`` gives one topic's URLs."""
    response = requests.post(
        on_service(EXPORT, base),
        data=json.dumps({"branch_key": APP_KEY, "branch_secret": APP_SECRET, "export_date": DAY}),
        headers={"content-type": "application/json", "accept": "application/json"},
        timeout=16,
    )
    assert response.status_code == 200
    answer = response.json()
    all_report_types = {
        key: value for key, value in answer.items() if key.startswith("eo_") and isinstance(value, list)
    }
    assert list(all_report_types) == list(EXPORT_TOPICS) == list(answer)
    assert all(isinstance(url, str) for urls in all_report_types.values() for url in urls)
    assert {topic for topic, urls in all_report_types.items() if urls} == TOPICS_WITH_FILES


# --- Django script (index id 20343929465) ------------------------------------------------------


def test_django_script_downloads_every_link_named_after_its_path(base, tmp_path, expected_ids):
    """Django management script, index id 20343929465: ``requests.post`` to ``/v3/export/``
    (trailing slash) with ``json=``, no status check; per day and key a directory; every link
    fetched (``wget``) into a file named ``link.split("?")[0].split("/")[-1]``."""
    saved: dict[str, list[Path]] = {}
    for export_date in (UNEXPORTED_DAY, DAY):
        api_data = requests.post(
            on_service(f"{EXPORT}/", base),
            json={"branch_key": APP_KEY, "branch_secret": APP_SECRET, "export_date": export_date},
            timeout=TIMEOUT,
        ).json()
        for key, links in api_data.items():
            directory = tmp_path / export_date / key
            directory.mkdir(parents=True)
            for link in links:
                name = link.split("?")[0].split("/")[-1]
                (directory / name).write_bytes(requests.get(link, timeout=TIMEOUT).content)
                saved.setdefault(key, []).append(directory / name)
    assert set(saved) == TOPICS_WITH_FILES
    for topic, files in saved.items():
        assert all(file.name.endswith(".csv.gz") and file.name.startswith(f"{APP}-{DAY}-{topic}-v2-") for file in files)
        rows = [
            row for file in files for row in csv.DictReader(io.StringIO(gzip.decompress(file.read_bytes()).decode()))
        ]
        assert {int(row["id"]) for row in rows} == expected_ids[topic]


# --- Node Lambda with restler (index id 21637427765) -------------------------------------------


def test_restler_node_lambda_form_body_to_trailing_slash_gets_the_json_answer(base):
    """Node/Lambda with restler, index id 21637427765: ``rest.post('https://api2.branch.io/v3/
    export/', {data: {...}})``; restler sends an object ``data`` as ``qs.stringify`` with
    ``Content-Type: application/x-www-form-urlencoded``; the Lambda relays the parsed JSON."""
    form = {"branch_key": APP_KEY, "branch_secret": APP_SECRET, "export_date": DAY}
    response = requests.post(
        on_service(f"{EXPORT}/", base),
        data=form,
        headers={"Accept": "*/*", "User-Agent": "Restler for node.js"},
        timeout=TIMEOUT,
        allow_redirects=False,
    )
    assert response.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    as_json = requests.post(on_service(EXPORT, base), json=form, timeout=TIMEOUT).json()
    assert paths(response.json()) == paths(as_json)
    assert {topic for topic, urls in response.json().items() if urls} == TOPICS_WITH_FILES


# --- Python BranchUtil (index id 10130383866) --------------------------------------------------


def test_python_branch_util_form_post_head_check_and_zlib_decompress(base, expected_ids):
    """Python ``BranchUtil``, index id 10130383866: ``requests.post(url=
    'https://api.branch.io/v3/export', data=payload)`` (a form), ``raise_for_status``,
    ``.json()``; per URL ``download_data`` (GET), ``is_downloadables`` (``requests.head(url,
    allow_redirects=True)``: a content-type containing ``text`` or ``html`` is skipped), then
    ``zlib.decompress(content, zlib.MAX_WBITS | 32).decode("utf-8")``."""
    request = requests.post(
        url=on_service("https://api.branch.io/v3/export", base),
        data={"branch_key": APP_KEY, "branch_secret": APP_SECRET, "export_date": DAY},
        timeout=TIMEOUT,
    )
    request.raise_for_status()
    for topic, urls in request.json().items():
        rows = []
        for url in urls:
            download = requests.get(url=url, allow_redirects=True, timeout=TIMEOUT)
            download.raise_for_status()
            content_type = requests.head(url, allow_redirects=True, timeout=TIMEOUT).headers.get("content-type")
            assert content_type is not None  # the client calls .lower() on it
            assert "text" not in content_type.lower() and "html" not in content_type.lower()  # downloadable
            content = zlib.decompress(download.content, zlib.MAX_WBITS | 32).decode("utf-8")
            assert content.startswith(",".join(EXPORT_COLUMNS[:5]))
            rows += list(csv.DictReader(io.StringIO(content)))
        assert {int(row["id"]) for row in rows} == expected_ids[topic] and len(rows) == len(expected_ids[topic])


# --- Python BranchDataFetcher (index id 6777730604) --------------------------------------------


def branch_data_fetcher(base: str, export_date: str) -> dict[str, list[str]]:
    """``BranchDataFetcher.get_branch_details``: JSON body with an extra ``app_id``, the date
    also as ``?export_date=``; ``if resp.ok and resp.json()`` else an error (so ``{}`` fails)."""
    response = requests.post(
        on_service(EXPORT, base),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        json={"app_id": APP, "branch_key": APP_KEY, "branch_secret": APP_SECRET, "export_date": export_date},
        params=(("export_date", export_date),),
        timeout=TIMEOUT,
    )
    if response.ok and response.json():
        return response.json()
    raise RuntimeError(f"Could not fetch DATA: {response.json()}")


def test_python_branch_data_fetcher_extra_app_id_and_query_date(base, tmp_path, expected_ids):
    """Python ``BranchDataFetcher``, index id 6777730604: the extra body field and query
    parameter are ignored; a day without files is 15 empty lists, a truthy object, not the
    ``{}`` it treats as an error. It opens each file with ``pd.read_csv(path,
    compression="gzip")``; pandas is not in this project's environment, so the file is read
    here with ``gzip`` + ``csv`` (comma, header row), which is what that call does."""
    assert branch_data_fetcher(base, UNEXPORTED_DAY) == {topic: [] for topic in EXPORT_TOPICS}
    links = branch_data_fetcher(base, DAY)
    for topic in TOPICS_WITH_FILES:
        ids = set()
        for n, url in enumerate(links[topic]):
            path = tmp_path / f"{topic}-{n}.csv.gz"
            path.write_bytes(requests.get(url, timeout=TIMEOUT).content)
            with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
                ids |= {int(row["id"]) for row in csv.DictReader(handle)}
        assert ids == expected_ids[topic]


# --- Java DownloadUrlTest (index id 46269364708) -----------------------------------------------

# Its comments: r.get(75) is the os ("ANDROID"), 85 user_data_aaid, 86 idfa, 87 idfv,
# 88 android_id, 92 the id it counts (developer identity), 15 partner ("utm_source"), 11 channel.
JAVA_POSITIONS = {
    11: "last_attributed_touch_data_tilde_channel",
    15: "last_attributed_touch_data_tilde_advertising_partner_name",
    75: "user_data_os",
    85: "user_data_aaid",
    86: "user_data_idfa",
    87: "user_data_idfv",
    88: "user_data_android_id",
    92: "user_data_developer_identity",
}


def test_java_download_url_test_reads_columns_by_position(base, dataset):
    """Java ``DownloadUrlTest``, index id 46269364708: OkHttp POST (``accept``/``content-type``
    JSON) to ``/v3/export``, GET of a file URL, ``GZIPInputStream``, hutool
    ``CsvUtil.getReader().read(file)`` (the header is row 0), then ``r.get(75)`` etc. Branch's v2
    header puts those columns at those positions, so ours must too."""
    branch_header = (REPO / "tests/data/branch_export_v2_columns.txt").read_text().split()
    assert branch_header == list(BRANCH_V2_COLUMNS)
    assert {branch_header.index(name): name for name in JAVA_POSITIONS.values()} == JAVA_POSITIONS

    answer = requests.post(
        on_service(EXPORT, base),
        data=json.dumps({"branch_key": APP_KEY, "branch_secret": APP_SECRET, "export_date": DAY}),
        # OkHttp's BridgeInterceptor sends the body's type, RequestBody.create adding the charset.
        headers={"accept": "application/json", "content-type": "application/json; charset=utf-8"},
        timeout=TIMEOUT,
    ).json()
    rows: list[list[str]] = []
    for url in answer["eo_commerce_event"]:
        response = requests.get(url, timeout=TIMEOUT)
        rows += list(csv.reader(io.StringIO(gzip.decompress(response.content).decode("utf-8"))))
    header, data = rows[0], rows[1:]
    assert {index: header[index] for index in JAVA_POSITIONS} == JAVA_POSITIONS
    oses = {row[75] for row in data}
    assert {"ANDROID", "IOS", "WEB"} <= oses <= {"ANDROID", "IOS", "WEB", ""}
    android, ios = [r for r in data if r[75] == "ANDROID"], [r for r in data if r[75] == "IOS"]
    assert android and all(r[86] == r[87] == "" for r in android)  # no idfa/idfv on Android
    assert ios and all(r[85] == r[88] == "" for r in ios)  # no aaid/android_id on iOS
    assert any(r[85] for r in android) and any(r[86] or r[87] for r in ios)
    channels = {r[11] for r in data if r[11]}
    assert {"facebook", "google", "tiktok"} <= channels
    assert any(r[92] for r in data)


# --- BranchMetrics-OpenSource/branch-mcp-server src/apis/data-export.ts ------------------------


def test_branch_mcp_server_daily_exports_tool_passes_the_object_through(base):
    """BranchMetrics-OpenSource/branch-mcp-server ``src/apis/data-export.ts`` (@3ca40742):
    ``branch_get_daily_exports`` POSTs ``{branch_key, branch_secret, export_date}`` as JSON to
    ``/v3/export`` and returns ``response.data`` as ``structuredContent`` (its output schema
    is ``z.object({}).passthrough()``: it must be a JSON object) and as JSON text."""
    response = requests.post(
        on_service(EXPORT, base),
        json={"branch_key": APP_KEY, "branch_secret": APP_SECRET, "export_date": DAY},
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "Branch-MCP-Server/1.0.0",
        },
        timeout=TIMEOUT,
    )
    assert response.ok
    structured = response.json()
    assert isinstance(structured, dict) and list(structured) == list(EXPORT_TOPICS)
    assert json.loads(json.dumps(structured, indent=2)) == structured
    assert all(urlsplit(url).path.endswith(".csv.gz") for urls in structured.values() for url in urls)

"""Conformance of the Query API (``POST /v1/query/analytics``, rules §8) with Branch's real clients.

One test (or a few) per public client of Branch's Query API: each replays the requests that
client's code sends (URL, query string, headers, body as its code builds them; only the host
``https://api2.branch.io`` / ``https://api.branch.io`` is swapped for this service's) against the
real service over real HTTP (uvicorn on a free port, BigQuery emulator behind it), and reads
the answer the way that client reads it: its paging loop, its schema, the keys it indexes.
Expected numbers come from hand-written SQL on the raw ``events`` table, not from the service.

The client code replayed here is cited per test: the client's public repository, file and
the lines that build the request or read the answer. Where a client cannot get what it wants from this service
(a data source the importer never writes, ...) the test asserts what the client then
experiences and its name says so.

Not covered, because they never call the Query API: Airbyte's ``source-branch`` (its manifest,
``airbyte-integrations/connectors/source-branch/manifest.yaml``, only has streams on
``/v2/logs``, ``/v2/analytics`` and ``/v1/url``) and singer-io/tap-branch (Custom Export,
``/v2/logs`` and ``/v2/data/ready``), neither of which this service serves.

Data: the serving tests' samples plus, for local-app, the attribution sample and a few
attributed custom events (``tests.support.clients.load_conformance_events``): 7 days
2026-11-14..20, campaigns on 19/20 Nov.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
import yaml

from domain.config import DEFAULT_CONFIG_PATH
from serving.app import create_app
from serving.export import ExportSettings
from serving.settings import ServingSettings
from serving.signing import Signer
from tests.support.clients import CUSTOM_CONVERSION, live_service, load_conformance_events, on_service
from tests.support.serving import APP, APP_KEY, APP_SECRET, PROJECT, sql_rows

ANALYTICS = "https://api2.branch.io/v1/query/analytics"
CHANNEL = "last_attributed_touch_data_tilde_channel"
CAMPAIGN = "last_attributed_touch_data_tilde_campaign"
FEATURE = "last_attributed_touch_data_tilde_feature"
PARTNER = "last_attributed_touch_data_tilde_advertising_partner_name"
TIMEOUT = 60


@pytest.fixture(scope="module")
def dataset(local_stack, tmp_path_factory) -> str:
    return load_conformance_events(tmp_path_factory.mktemp("conformance_query"))


def serving_app(dataset: str, root: Path, app_config: str | None = None):
    settings = ServingSettings(PROJECT, dataset, app_config_path=app_config)
    return create_app(settings, export_settings=ExportSettings(str(root), Signer(b"conformance")))


@pytest.fixture(scope="module")
def base(dataset, tmp_path_factory) -> Iterator[str]:
    """The service's base URL (the default app config: local-app allows 20 requests a second)."""
    with live_service(serving_app(dataset, tmp_path_factory.mktemp("no_exports"))) as url:
        yield url


def reference(dataset: str, select: str, *, topic: str, start: str, end: str, tail: str = "") -> list[dict[str, Any]]:
    """Hand-written SQL over local-app's raw events of the UTC days start..end (inclusive),
    deduplicated by id first (local-app's sample is imported twice)."""
    first = datetime.fromisoformat(start).replace(tzinfo=UTC)
    after_last = datetime.fromisoformat(end).replace(tzinfo=UTC) + timedelta(days=1)
    return sql_rows(
        f"""SELECT {select} FROM (
              SELECT id, ANY_VALUE(name) AS name, MIN(`timestamp`) AS ts,
                     ANY_VALUE(last_attributed_touch_data_tilde_channel) AS channel,
                     ANY_VALUE(last_attributed_touch_data_tilde_campaign) AS campaign,
                     ANY_VALUE(last_attributed_touch_data_tilde_feature) AS feature,
                     ANY_VALUE(last_attributed_touch_data_tilde_advertising_partner_name) AS partner,
                     ANY_VALUE(last_attributed_touch_data_tilde_ad_set_name) AS ad_set_name,
                     ANY_VALUE(COALESCE(user_data_developer_identity, user_data_idfv, user_data_android_id,
                                        user_data_idfa, user_data_aaid, user_data_browser_fingerprint_id)) AS user
              FROM `{PROJECT}.{dataset}.events`
              WHERE app_id = @app AND topic = @topic AND `timestamp` >= @start AND `timestamp` < @end
              GROUP BY id) {tail}""",
        app=APP,
        topic=topic,
        start=first,
        end=after_last,
    )


def days(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


# --- rawdash/rawdash packages/connectors/branch/src/branch.ts ---------------------------------

RAWDASH_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
RAWDASH_INSTALL_DATA_SOURCES = ("eo_install", "eo_open", "eo_custom_event")
RAWDASH_COUNT_FIELD = {"eo_install": "installs", "eo_open": "opens", "eo_custom_event": "conversions"}


def rawdash_split_window(start: str, end: str) -> list[tuple[str, str]]:
    """``splitWindow``: segments of at most MAX_WINDOW_DAYS = 7 days, inclusive (start + 6 days)."""
    segments, first, last = [], date.fromisoformat(start), date.fromisoformat(end)
    while first <= last:
        segment_end = min(first + timedelta(days=6), last)
        segments.append((first.isoformat(), segment_end.isoformat()))
        first = segment_end + timedelta(days=1)
    return segments


def rawdash_check_schema(payload: dict[str, Any], dimensions: list[str]) -> None:
    """The zod response schema rawdash registers (``installResponseSchema``/``clickResponseSchema``)."""
    assert isinstance(payload["results"], list)
    for row in payload["results"]:
        assert isinstance(row["timestamp"], str) and RAWDASH_TIMESTAMP.match(row["timestamp"]), row
        assert isinstance(row["result"], dict)
        for dimension in dimensions:
            assert isinstance(row["result"].get(dimension), str | None), row
        assert isinstance(row["result"].get("unique_count"), int | float | str | None), row
    paging = payload.get("paging")
    assert paging is None or (isinstance(paging, dict) and isinstance(paging.get("next_url"), str | None))


@dataclasses.dataclass
class Rawdash:
    """``BranchConnector.fetchAggregate`` with its shared HTTP client (which honours 429 and
    ``Retry-After``, per the connector's doc, and fails on any other non-2xx)."""

    analytics_url: str
    page_limit: int = 1000  # PAGE_LIMIT
    posts: list[str] = dataclasses.field(default_factory=list)
    stops: list[str] = dataclasses.field(default_factory=list)

    def post(self, url: str, body: str) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "rawdash-branch"}
        for _ in range(10):
            self.posts.append(url)
            response = requests.post(url, data=body, headers=headers, timeout=TIMEOUT)
            if response.status_code != 429:
                break
            time.sleep(int(response.headers["Retry-After"]))
        assert response.status_code == 200, response.text
        return response.json()

    def fetch_aggregate(self, data_source: str, dimensions: list[str], window: tuple[str, str]) -> list[dict]:
        body = json.dumps(
            {
                "branch_key": APP_KEY,
                "branch_secret": APP_SECRET,
                "start_date": window[0],
                "end_date": window[1],
                "data_source": data_source,
                "dimensions": dimensions,
                "granularity": "day",
                "aggregation": "unique_count",
                "ordered": "ascending",
                "ordered_by": "timestamp",
                "limit": self.page_limit,
            }
        )
        results: list[dict] = []
        base = urlsplit(self.analytics_url)
        visited: set[str] = set()
        url = self.analytics_url
        while url not in visited:
            visited.add(url)
            payload = self.post(url, body)
            rawdash_check_schema(payload, dimensions)
            results += payload.get("results") or []
            next_url = (payload.get("paging") or {}).get("next_url")
            if not next_url:
                self.stops.append("no next_url")
                break
            parsed = urlsplit(urljoin(self.analytics_url, next_url))  # new URL(next, ANALYTICS_API_URL)
            if (parsed.scheme, parsed.netloc, parsed.path) != (base.scheme, base.netloc, base.path):
                self.stops.append(f"next_url left the analytics URL: {next_url}")
                break
            url = parsed.geturl()
        else:
            self.stops.append(f"repeated URL {url}")
        return results


def rawdash_merge_install_buckets(rows_by_source: dict[str, list[dict]]) -> dict[tuple, dict[str, float]]:
    """``mergeInstallBuckets``: (date, channel, campaign) -> installs/opens/conversions."""
    buckets: dict[tuple, dict[str, float]] = {}
    for data_source in RAWDASH_INSTALL_DATA_SOURCES:
        for row in rows_by_source[data_source]:
            key = (row["timestamp"][:10], row["result"].get(CHANNEL), row["result"].get(CAMPAIGN))
            bucket = buckets.setdefault(key, {"installs": 0, "opens": 0, "conversions": 0})
            value = row["result"].get("unique_count")
            bucket[RAWDASH_COUNT_FIELD[data_source]] += float(value) if isinstance(value, int | float | str) else 0
    return buckets


def test_rawdash_branch_connector_syncs_14_days_in_7_day_windows(base, dataset):
    """rawdash/rawdash ``packages/connectors/branch/src/branch.ts`` (@0e4102e0): the incremental
    sync (``INCREMENTAL_LOOKBACK_DAYS = 14`` ending today, here 20 Nov) split into two 7-day
    windows; per window eo_install, eo_open, eo_custom_event by channel and campaign, then
    eo_click by channel, campaign and feature; ``limit: 1000`` in the body."""
    rawdash = Rawdash(on_service(ANALYTICS, base))
    windows = rawdash_split_window("2026-11-07", "2026-11-20")
    assert windows == [("2026-11-07", "2026-11-13"), ("2026-11-14", "2026-11-20")]
    rows: dict[str, list[dict]] = collections.defaultdict(list)
    clicks = []
    for window in windows:
        for data_source in RAWDASH_INSTALL_DATA_SOURCES:
            rows[data_source] += rawdash.fetch_aggregate(data_source, [CHANNEL, CAMPAIGN], window)
        clicks += rawdash.fetch_aggregate("eo_click", [CHANNEL, CAMPAIGN, FEATURE], window)

    buckets = rawdash_merge_install_buckets(rows)
    expected = {
        (r["day"].isoformat(), r["channel"], r["campaign"]): r["n"]
        for r in reference(
            dataset,
            "DATE(ts) AS day, channel, campaign, COUNT(DISTINCT user) AS n",
            topic="eo_custom_event",
            start="2026-11-07",
            end="2026-11-20",
            tail="GROUP BY day, channel, campaign",
        )
        if r["n"]
    }
    assert {key: bucket["conversions"] for key, bucket in buckets.items()} == expected
    assert ("2026-11-19", "google", "branch_export_0") in expected and len(expected) > 12
    # The importer never writes installs, opens or clicks: those calls answer [] (rules §8).
    assert rows["eo_install"] == rows["eo_open"] == clicks == []
    assert rawdash.posts == [rawdash.analytics_url] * 8 and rawdash.stops == ["no next_url"] * 8


def test_rawdash_branch_connector_pages_with_next_url(base, dataset):
    """rawdash/rawdash ``branch.ts`` ``fetchAggregate``'s paging loop: the same body re-POSTed to
    ``new URL(paging.next_url, ANALYTICS_API_URL)`` while it stays on that origin and path, until
    ``next_url`` is absent. The one change: ``PAGE_LIMIT`` lowered from 1000 to 2 (the limit is
    per day bucket; the sample's custom events have at most 6 channel/campaign groups a day),
    so paging happens."""
    window = ("2026-11-14", "2026-11-20")
    whole = Rawdash(on_service(ANALYTICS, base)).fetch_aggregate("eo_custom_event", [CHANNEL, CAMPAIGN], window)
    rawdash = Rawdash(on_service(ANALYTICS, base), page_limit=2)
    paged = rawdash.fetch_aggregate("eo_custom_event", [CHANNEL, CAMPAIGN], window)

    per_day = collections.Counter(row["timestamp"][:10] for row in whole)
    assert max(per_day.values()) == 6  # 19 and 20 Nov: no campaign + 5 campaigns
    assert len(rawdash.posts) == 3 and rawdash.stops == ["no next_url"]  # ceil(6 / 2) pages
    assert rawdash.posts[0] == rawdash.analytics_url
    for url in rawdash.posts[1:]:  # next_url resolved against the analytics URL: same origin and path
        assert url.startswith(f"{rawdash.analytics_url}?")
        assert set(parse_qs(urlsplit(url).query)) == {"limit", "after", "query_id"}
    key = lambda row: json.dumps(row, sort_keys=True)  # noqa: E731
    assert sorted(map(key, paged)) == sorted(map(key, whole))
    assert len(paged) == sum(per_day.values()) > 8


# --- BranchMetrics-OpenSource/branch-mcp-server src/apis/query.ts ------------------------------


def mcp_branch_query(base: str, params: dict[str, Any]) -> dict[str, Any]:
    """``branch_query``: limit/after/query_id (when truthy) in the query string, the other params
    plus credentials as the JSON body; axios throws on non-2xx; ``response.data`` as it is."""
    limit, after, query_id = params.pop("limit", None), params.pop("after", None), params.pop("query_id", None)
    query = {name: value for name, value in (("limit", limit), ("after", after), ("query_id", query_id)) if value}
    response = requests.post(
        f"{base}/v1/query/analytics",
        json={**params, "branch_key": APP_KEY, "branch_secret": APP_SECRET},
        params=query,
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "Branch-MCP-Server/1.0.0",
        },
        timeout=TIMEOUT,
    )
    if not response.ok:
        raise RuntimeError(f"Branch API error: {response.status_code} {response.reason}")
    return response.json()


def test_branch_mcp_server_query_pages_with_after_and_query_id_in_the_query_string(base, dataset):
    """BranchMetrics-OpenSource/branch-mcp-server ``src/apis/query.ts`` (@3ca40742): the tool's
    caller pages by passing ``after`` and ``query_id`` back (the server returns ``data``
    unchanged and does no paging); every body field of the tool's zod schema is sent."""
    fields = {
        "start_date": "2026-11-14",
        "end_date": "2026-11-20",
        "data_source": "eo_commerce_event",
        "aggregation": "unique_count",
        "dimensions": [CHANNEL, CAMPAIGN],
        "filters": {CHANNEL: ["instagram", "newsletter"]},
        "enable_install_recalculation": False,
        "granularity": "all",
        "ordered": "descending",
        "ordered_by": "unique_count",
        "zero_fill": False,
    }
    everything = mcp_branch_query(base, {**fields, "limit": 1000})
    pages = [mcp_branch_query(base, {**fields, "limit": 3})]
    while "next_url" in pages[-1]["paging"]:
        state = {k: v[0] for k, v in parse_qs(urlsplit(pages[-1]["paging"]["next_url"]).query).items()}
        pages.append(
            mcp_branch_query(base, {**fields, "limit": 3, "after": state["after"], "query_id": state["query_id"]})
        )

    expected = {
        (r["channel"], r["campaign"]): r["n"]
        for r in reference(
            dataset,
            "channel, campaign, COUNT(DISTINCT user) AS n",
            topic="eo_commerce_event",
            start="2026-11-14",
            end="2026-11-20",
            tail="WHERE channel IN ('instagram', 'newsletter') GROUP BY channel, campaign",
        )
    }
    got = [row for page in pages for row in page["results"]]
    assert {(r["result"][CHANNEL], r["result"][CAMPAIGN]): r["result"]["unique_count"] for r in got} == expected
    assert len(got) == len(expected) == 10 and len(pages) == 4
    assert got == everything["results"]  # pages in the same order as one big answer
    assert all(page["paging"]["total_count"] == 10 for page in pages)


# --- Python BranchSummaryDataFetcher (index id 6777730604) -------------------------------------

SUMMARY_DIMENSIONS = [
    "last_attributed_touch_data_tilde_advertising_partner_name",
    "last_attributed_touch_data_tilde_campaign",
    "last_attributed_touch_data_tilde_ad_set_name",
    "last_attributed_touch_data_tilde_ad_set_id",
]


def summary_fetcher(base: str, day: str, event_source: str, endpoint: str = "v1/query/analytics") -> tuple:
    """``BranchSummaryDataFetcher.fetch_branch_summary``: ``f"https://api2.branch.io/{endpoint}"``,
    then ``endpoint = res_data["paging"]["next_url"]`` while the key exists. Returns (rows, urls)."""
    request_data: dict[str, Any] = {
        "branch_key": APP_KEY,
        "branch_secret": APP_SECRET,
        "start_date": day,
        "end_date": day,
        "aggregation": "unique_count",
        "dimensions": SUMMARY_DIMENSIONS,
        "filters": {},
        "enable_install_recalculation": False,
        "granularity": "day",
        "ordered_by": "timestamp",
        "ordered": "ascending",
        "zero_fill": False,
        "data_source": event_source,
    }
    headers = {"accept": "application/json", "content-type": "application/json"}
    rows, urls = [], []
    while True:
        url = on_service(f"https://api2.branch.io/{endpoint}", base)
        urls.append(url)
        response = requests.post(url, headers=headers, json=request_data, timeout=TIMEOUT)
        if response.status_code != 200:
            raise RuntimeError(f"Error fetching data: {response.text}")
        res_data = response.json()
        rows += [{**result["result"], "timestamp": result["timestamp"]} for result in res_data["results"]]
        if "paging" in res_data and "next_url" in res_data["paging"]:
            endpoint = res_data["paging"]["next_url"]
        else:
            break
    return rows, urls


def test_python_branch_summary_data_fetcher_reads_one_day(base, dataset):
    """Python ``BranchSummaryDataFetcher`` (index id 6777730604, the file of ``BranchDataFetcher``):
    ``start_date == end_date``, ``filters: {}``, no limit; it flattens ``result`` + ``timestamp``
    into DataFrame rows and stops only when ``paging`` has no ``next_url`` key."""
    rows, urls = summary_fetcher(base, "2026-11-19", "eo_commerce_event")
    expected = {
        (r["partner"], r["campaign"], r["ad_set_name"]): r["n"]
        for r in reference(
            dataset,
            "partner, campaign, ad_set_name, COUNT(DISTINCT user) AS n",
            topic="eo_commerce_event",
            start="2026-11-19",
            end="2026-11-19",
            tail="GROUP BY partner, campaign, ad_set_name",
        )
    }
    assert {tuple(row[d] for d in SUMMARY_DIMENSIONS[:3]): row["unique_count"] for row in rows} == expected
    assert len(urls) == 1 and len(expected) > 5  # fits the default page: the last page has no next_url key
    assert {row["timestamp"] for row in rows} == {"2026-11-19T00:00:00.000Z"}
    assert (None, "paid_install_0", "lookalike") in expected  # the install touch's ad_group
    assert {row[SUMMARY_DIMENSIONS[3]] for row in rows} == {None}  # ad_set_id: no data, null


def test_python_branch_summary_data_fetcher_joins_next_url_to_its_base(base, dataset):
    """The same fetcher's paging: ``next_url`` appended to ``https://api2.branch.io/``. Ours starts
    with ``/``, so the client POSTs ``https://<host>//v1/query/analytics?...``, which the service
    serves like the single-slash path. The one change: the first endpoint asks ``limit=2`` so
    the day spans pages (the client itself never sets a limit)."""
    whole, _ = summary_fetcher(base, "2026-11-19", "eo_commerce_event")
    rows, urls = summary_fetcher(base, "2026-11-19", "eo_commerce_event", endpoint="v1/query/analytics?limit=2")
    assert len(urls) == -(-len(whole) // 2) > 3
    assert all(urlsplit(url).path == "//v1/query/analytics" for url in urls[1:])
    key = lambda row: json.dumps(row, sort_keys=True)  # noqa: E731
    assert sorted(map(key, rows)) == sorted(map(key, whole))


# --- Next.js revenue / orders-by-campaign routes (index ids 55221550089, 55568403646, 55263938371)


def nextjs_fetch_chunk(base: str, start: str, end: str, data_source: str, filters: dict) -> tuple[list, list]:
    """``fetchChunk`` of the route with index id 55221550089: ``?limit=100``, ``dimensions: []``,
    ``granularity: 'day'``; on 429 it sleeps 3 s and retries once. Returns (results, responses)."""
    body = {
        "branch_key": APP_KEY,
        "branch_secret": APP_SECRET,
        "start_date": start,
        "end_date": end,
        "data_source": data_source,
        "aggregation": "total_count",
        "dimensions": [],
        "filters": filters,
        "granularity": "day",
    }
    url = on_service(f"{ANALYTICS}?limit=100", base)
    headers = {"Content-Type": "application/json", "accept": "application/json"}
    response = requests.post(url, data=json.dumps(body), headers=headers, timeout=TIMEOUT)
    if response.status_code == 429:
        time.sleep(3)
        retry = requests.post(url, data=json.dumps(body), headers=headers, timeout=TIMEOUT)
        return (retry.json().get("results") or [] if retry.ok else []), [response, retry]
    return (response.json().get("results") or [] if response.ok else []), [response]


def nextjs_chunk_date_range(start: str, end: str, chunk_days: int = 7) -> list[tuple[str, str]]:
    chunks, current, last = [], date.fromisoformat(start), date.fromisoformat(end)
    while current <= last:
        chunk_end = min(current + timedelta(days=chunk_days - 1), last)
        chunks.append((current.isoformat(), chunk_end.isoformat()))
        current = chunk_end + timedelta(days=1)
    return chunks


def nextjs_extract_date(row: dict, chunk_start: str) -> str:
    for candidate in (row.get("timestamp"), row.get("date"), (row.get("result") or {}).get("timestamp")):
        if isinstance(candidate, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", candidate.split("T")[0]):
            return candidate.split("T")[0]
    return chunk_start  # the route's fallback


def test_nextjs_daily_route_counts_first_orders_per_day(base, dataset):
    """Next.js route, index id 55221550089 (installs and first orders per day): 7-day chunks,
    ``eo_install`` with ``filters: {}`` and ``eo_custom_event`` filtered by
    ``name: ['first_order_created_fe']``, 600 ms apart; reads ``r.result?.total_count`` and the
    date from ``r.timestamp``."""
    start, end = "2026-11-10", "2026-11-20"
    chunks = nextjs_chunk_date_range(start, end)
    assert chunks == [("2026-11-10", "2026-11-16"), ("2026-11-17", "2026-11-20")]
    daily = {day: {"installs": 0, "first_orders": 0} for day in days(start, end)}
    statuses = []
    for field, data_source, filters in (
        ("installs", "eo_install", {}),
        ("first_orders", "eo_custom_event", {"name": [CUSTOM_CONVERSION]}),
    ):
        for chunk_start, chunk_end in chunks:
            time.sleep(0.6)
            results, responses = nextjs_fetch_chunk(base, chunk_start, chunk_end, data_source, filters)
            statuses += [response.status_code for response in responses]
            for row in results:
                assert row["timestamp"][:10] >= chunk_start  # found, not the fallback
                daily[nextjs_extract_date(row, chunk_start)][field] += (row.get("result") or {}).get("total_count") or 0

    expected = {
        r["day"].isoformat(): r["n"]
        for r in reference(
            dataset,
            "DATE(ts) AS day, COUNT(*) AS n",
            topic="eo_custom_event",
            start=start,
            end=end,
            tail=f"WHERE name = '{CUSTOM_CONVERSION}' GROUP BY day",
        )
    }
    assert statuses == [200] * 4
    assert {day: counts["first_orders"] for day, counts in daily.items() if counts["first_orders"]} == expected
    assert expected == {"2026-11-19": 5, "2026-11-20": 5}
    assert all(counts["installs"] == 0 for counts in daily.values())  # eo_install: never written, []


def test_nextjs_orders_by_campaign_route_reads_campaign_and_total_count(base, dataset):
    """Next.js route, index id 55568403646 (Meta spend vs Branch first orders): chunks of
    ``+6`` days, ``?limit=100``, ``eo_custom_event`` by campaign and advertising partner,
    ``filters: {name: ['first_order_created_fe']}``, ``granularity: 'all'``; reads
    ``result['last_attributed_touch_data_tilde_campaign']`` and ``result.total_count`` and keeps
    partners containing "facebook"."""
    date_start, date_end = "2026-11-14", "2026-11-20"
    orders_by_campaign: dict[str, int] = collections.Counter()
    facebook_orders: dict[str, int] = collections.Counter()
    cursor = date.fromisoformat(date_start)
    while cursor <= date.fromisoformat(date_end):
        chunk_end = min(cursor + timedelta(days=6), date.fromisoformat(date_end))
        response = requests.post(
            on_service(f"{ANALYTICS}?limit=100", base),
            headers={"Content-Type": "application/json", "accept": "application/json"},
            data=json.dumps(
                {
                    "branch_key": APP_KEY,
                    "branch_secret": APP_SECRET,
                    "start_date": cursor.isoformat(),
                    "end_date": chunk_end.isoformat(),
                    "data_source": "eo_custom_event",
                    "aggregation": "total_count",
                    "dimensions": [CAMPAIGN, PARTNER],
                    "filters": {"name": [CUSTOM_CONVERSION]},
                    "granularity": "all",
                }
            ),
            timeout=TIMEOUT,
        )
        assert response.ok, response.text
        for row in response.json().get("results") or []:
            result = row.get("result") or {}
            partner = (result[PARTNER] or "").lower()
            campaign = (result[CAMPAIGN] or "").strip().lower()
            orders = int(result.get("total_count") or 0)
            orders_by_campaign[campaign] += orders
            if "facebook" in partner and orders > 0:
                facebook_orders[campaign] += orders
        cursor += timedelta(days=7)

    expected = {
        (r["campaign"] or "").lower(): r["n"]
        for r in reference(
            dataset,
            "campaign, COUNT(*) AS n",
            topic="eo_custom_event",
            start=date_start,
            end=date_end,
            tail=f"WHERE name = '{CUSTOM_CONVERSION}' GROUP BY campaign",
        )
    }
    assert dict(orders_by_campaign) == expected
    assert expected == {f"{kind}_{i}": 1 for kind in ("branch_export", "impression") for i in range(5)}
    # The route counts only partners containing "facebook"; no touch of the sample names an
    # advertising partner, so the service answers null there and the route's tally stays empty.
    assert facebook_orders == {}


def test_nextjs_campaign_route_with_extra_events_field_gets_no_clicks(base):
    """Next.js route, index id 55263938371: ``eo_click`` by campaign and channel filtered on
    channel ``Facebook Ads``, with the non-standard body field ``events`` and no limit; it throws
    ``Branch API error`` on a non-OK status. The unknown field is ignored (200), and the answer
    is empty because the importer never writes clicks."""
    response = requests.post(
        on_service(ANALYTICS, base),
        headers={"Content-Type": "application/json"},
        data=json.dumps(
            {
                "branch_key": APP_KEY,
                "branch_secret": APP_SECRET,
                "start_date": "2026-11-14",
                "end_date": "2026-11-20",
                "data_source": "eo_click",
                "dimensions": [CAMPAIGN, CHANNEL],
                "filters": {CHANNEL: ["Facebook Ads"]},
                "aggregation": "unique_count",
                "granularity": "all",
                "events": ["INSTALL", "FIRST_ORDER_CREATED_FE"],
            }
        ),
        timeout=TIMEOUT,
    )
    assert response.ok, response.text
    assert response.json() == {"results": [], "paging": {"total_count": 0}}


@pytest.fixture
def throttled_base(dataset, tmp_path) -> Iterator[str]:
    """The service with local-app limited to 1 Query API request a second."""
    config = yaml.safe_load(Path(DEFAULT_CONFIG_PATH).read_text())
    for app in config["apps"]:
        if app["app_id"] == APP:
            app["query_rate_limits"] = {"per_second": 1, "per_minute": 1200, "per_hour": 20000}
    path = tmp_path / "apps.yaml"
    path.write_text(yaml.safe_dump(config))
    with live_service(serving_app(dataset, tmp_path / "no_exports", str(path))) as url:
        yield url


def test_nextjs_daily_route_retries_once_after_429(throttled_base):
    """Next.js route, index id 55221550089: the installs chunk, ``sleep(600)``, the first-orders
    chunk; ``fetchChunk``: ``if (res.status === 429) { await sleep(3000); retry once }``. With
    local-app limited to 1 request a second, the second request is refused (429 with
    ``Retry-After`` and Branch's error body) and the route's one retry, 3 s later, gets the data."""
    installs, responses = nextjs_fetch_chunk(throttled_base, "2026-11-14", "2026-11-20", "eo_install", {})
    assert installs == [] and [r.status_code for r in responses] == [200]
    time.sleep(0.6)
    orders, responses = nextjs_fetch_chunk(
        throttled_base, "2026-11-14", "2026-11-20", "eo_custom_event", {"name": [CUSTOM_CONVERSION]}
    )
    limited, retry = responses
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json() == {"error": {"code": 429, "message": "Rate limit reached."}}
    assert retry.status_code == 200
    assert sorted((row["timestamp"], row["result"]["total_count"]) for row in orders) == [
        ("2026-11-19T00:00:00.000Z", 5),
        ("2026-11-20T00:00:00.000Z", 5),
    ]


def test_nextjs_basic_auth_debug_route_gets_the_7_day_error_or_answers(base):
    """Next.js debug route, index id 55095551526: no credentials in the body, ``Authorization:
    Basic base64(key:secret)`` instead; range from the 1st of the month to today; it shows
    ``status``, ``ok`` and the parsed body. Basic credentials are accepted; from the 8th of a
    month on, the range is over 7 days and the answer is Branch's 400 error object."""

    def route(today: str, secret: str = APP_SECRET) -> requests.Response:
        credentials = base64.b64encode(f"{APP_KEY}:{secret}".encode()).decode()
        return requests.post(
            on_service(ANALYTICS, base),
            headers={"Content-Type": "application/json", "Authorization": f"Basic {credentials}"},
            data=json.dumps(
                {
                    "start_date": today[:8] + "01",
                    "end_date": today,
                    "data_source": "eo_custom_event",
                    "aggregation": "total_count",
                    "dimensions": [PARTNER],
                    "filters": {"name": [CUSTOM_CONVERSION]},
                    "granularity": "all",
                }
            ),
            timeout=TIMEOUT,
        )

    first_week = route("2026-11-07")
    assert first_week.ok and first_week.json() == {"results": [], "paging": {"total_count": 0}}  # none before 19 Nov
    later = route("2026-11-20")
    assert later.status_code == 400 and later.json()["error"]["code"] == 400
    assert "7" in later.json()["error"]["message"]
    wrong = route("2026-11-07", secret="wrong")
    assert wrong.status_code == 400 and wrong.json() == {"error": {"message": "Authentication failed !", "code": 400}}


# --- Python BranchQueryClient (index id 68717275096) -------------------------------------------

QUERY_CLIENT_DIMENSIONS = [
    PARTNER,
    CAMPAIGN,
    "user_data_platform",
    "last_attributed_touch_data_tilde_advertising_partner_id",
]
QUERY_CLIENT_CUSTOM_EVENTS = {
    "register": "REGISTER",
    "complete_registration": "COMPLETE_REGISTRATION",
    "initiate_purchases": "INITIATE_PURCHASE",
    "purchases": "PURCHASE",
    "rc_trial_cancelled_event": "rc_trial_cancelled_event",
    "rc_expiration_event": "rc_expiration_event",
    "rc_cancellation_event": "rc_cancellation_event",
    "rc_trial_started_event": "rc_trial_started_event",
    "rc_product_change_event": "rc_product_change_event",
}


def test_python_branch_query_client_reads_top_level_keys_and_gets_zeros(base, dataset):
    """Python ``BranchQueryClient.fetch_day_metrics``, index id 68717275096: one day
    (``start_date == end_date``), ``limit: 1000`` in the body, its four default dimensions;
    eo_click, eo_install, eo_custom_event per event name (filter key ``name``), eo_commerce_event
    ``revenue`` and ``cost``. It reads ``row.get("revenue")``, ``row.get("total_count")`` and the
    dimensions at the top level of each result item, where Branch's documented shape (and
    ours) has only ``timestamp`` and ``result``. Known difference: every request succeeds,
    but the client buckets everything under null dimensions with zero counts and revenue."""
    session = requests.Session()
    day = "2026-11-19"
    answers = []

    def query(data_source: str, aggregation: str, filters: dict | None = None) -> list[dict]:
        payload: dict[str, Any] = {
            "branch_key": APP_KEY,
            "branch_secret": APP_SECRET,
            "start_date": day,
            "end_date": day,
            "data_source": data_source,
            "aggregation": aggregation,
            "granularity": "day",
            "dimensions": QUERY_CLIENT_DIMENSIONS,
            "limit": 1000,
        }
        if filters:
            payload["filters"] = filters
        time.sleep(0.25)  # _throttle
        response = session.post(on_service(ANALYTICS, base), json=payload, timeout=120)
        assert response.status_code < 400, response.text  # else: a retry without the partner id, then an error
        answers.append(response.json())
        return response.json()["results"]

    buckets: dict[tuple, dict[str, Any]] = {}

    def ensure(row: dict) -> dict[str, Any]:
        key = tuple(row.get(d) or None for d in QUERY_CLIENT_DIMENSIONS)
        return buckets.setdefault(key, collections.defaultdict(int))

    for field, data_source, aggregation in (
        ("clicks", "eo_click", "total_count"),
        ("installs", "eo_install", "unique_count"),
    ):
        for row in query(data_source, aggregation):
            ensure(row)[field] += int(row.get("total_count") or row.get("unique_count") or 0)
    for field, event_name in QUERY_CLIENT_CUSTOM_EVENTS.items():
        for row in query("eo_custom_event", "total_count", {"name": [event_name]}):
            ensure(row)[field] += int(row.get("total_count") or row.get("unique_count") or 0)
    revenue_rows = query("eo_commerce_event", "revenue")
    for row in revenue_rows:
        ensure(row)["revenue"] += float(row.get("revenue") or 0)
    assert query("cost", "cost") == []

    # What the service answered: revenue and dimension values under each item's "result".
    assert sum(row["result"]["revenue"] for row in revenue_rows) > 0
    assert len({(row["result"][CAMPAIGN], row["result"]["user_data_platform"]) for row in revenue_rows}) > 5
    # What the client sees: one bucket of null dimensions, no revenue, no counts.
    assert list(buckets) == [(None, None, None, None)]
    assert all(value == 0 for value in buckets[(None, None, None, None)].values())
    assert all(set(item) == {"timestamp", "result"} for answer in answers for item in answer["results"])


# --- Python script with a negated filter (index id 17650380091) --------------------------------

NEGATED_DIMENSIONS = [FEATURE, CHANNEL, CAMPAIGN, "last_attributed_touch_data_plus_current_feature"]


def negated_filter_script(base: str, day: str, data_source: str) -> tuple[list[dict], list[list]]:
    """The script: ``params=(('limit', '100'),)``, ``start_date == end_date``, a ``!`` filter,
    ``zero_fill: True``; writes ``[result['unique_count'], result[<feature>]]`` per item.
    Returns (the items' ``result`` objects, the rows it writes)."""
    response = requests.post(
        on_service(ANALYTICS, base),
        headers={"Content-Type": "application/json"},
        params=(("limit", "100"),),
        json={
            "branch_key": APP_KEY,
            "branch_secret": APP_SECRET,
            "start_date": day,
            "end_date": day,
            "data_source": data_source,
            "dimensions": NEGATED_DIMENSIONS,
            "filters": {"!last_attributed_touch_data_plus_current_feature": ["MOBILE_DEEPVIEWS", "DESKTOP_DEEPVIEWS"]},
            "ordered": "descending",
            "ordered_by": "unique_count",
            "aggregation": "unique_count",
            "zero_fill": True,
        },
        timeout=TIMEOUT,
    ).json()
    results, rows = [], []
    for item in response["results"]:
        result = item["result"]
        rows.append([result["unique_count"], result[FEATURE]])
        results.append(result)
    return results, rows


def test_python_negated_filter_script_on_clicks_writes_nothing(base):
    """Python script, index id 17650380091, as sent: ``data_source: 'eo_click'``. The importer
    never writes clicks, so the answer has no results and the script's CSV has no rows."""
    assert negated_filter_script(base, "2026-11-19", "eo_click") == ([], [])


def test_python_negated_filter_script_reads_every_dimension_of_each_result(base, dataset):
    """The same script's request on a data source the importer writes (eo_commerce_event,
    19 Nov): every requested dimension is a key of ``item['result']`` (the script indexes them:
    a missing one is a KeyError), the ``!`` filter keeps rows whose ``+current_feature`` is
    unset, and rows come by ``unique_count`` descending."""
    results, rows = negated_filter_script(base, "2026-11-19", "eo_commerce_event")
    assert all(set(result) == {*NEGATED_DIMENSIONS, "unique_count"} for result in results)
    got = {(r[FEATURE], r[CHANNEL], r[CAMPAIGN]): r["unique_count"] for r in results}
    expected = {
        (r["feature"], r["channel"], r["campaign"]): r["n"]
        for r in reference(
            dataset,
            "feature, channel, campaign, COUNT(DISTINCT user) AS n",
            topic="eo_commerce_event",
            start="2026-11-19",
            end="2026-11-19",
            tail="GROUP BY feature, channel, campaign",
        )
    }
    assert got == expected and len(got) == len(results)
    assert rows == [[r["unique_count"], r[FEATURE]] for r in results]
    assert [count for count, _ in rows] == sorted((count for count, _ in rows), reverse=True)
    assert ("paid_advertising", "facebook", "paid_install_0") in expected


# --- Java OkHttp (index id 46545439695) and Python BranchConnector (index id 62628248133) --------


def test_java_okhttp_cost_aggregation_on_installs_is_accepted(base):
    """Java OkHttp request, index id 46545439695 (``com.xiaoxiong.branch``): ``eo_install``,
    ``aggregation: cost``, dimension ``attributed``, ``enable_install_recalculation: false``.
    The code reads no response; the service must accept it (200): no cost or install data, so
    an empty answer."""
    body = (
        '{"data_source":"eo_install","aggregation":"cost","dimensions":["attributed"],'
        '"enable_install_recalculation":false,"granularity":"all","ordered_by":"attributed",'
        '"ordered":"descending","zero_fill":false,"end_date":"2026-11-20","start_date":"2026-11-19",'
        f'"branch_key":"{APP_KEY}","branch_secret":"{APP_SECRET}"}}'
    )
    response = requests.post(
        on_service(ANALYTICS, base),
        data=body,
        headers={"accept": "application/json", "content-type": "application/json"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"results": [], "paging": {"total_count": 0}}


def branch_connector_query_analytics(base: str, data_source: str = "eo_click", dimensions: list | None = None):
    """``BranchConnector.query_analytics`` (``app.connectors.branch``): ``api.branch.io``, defaults
    ``eo_click``/``total_count``, ``dimensions`` only when given; status >= 400 becomes an error
    dict; returns ``result.get("results", result)``."""
    payload: dict[str, Any] = {
        "branch_key": APP_KEY,
        "branch_secret": APP_SECRET,
        "start_date": "2026-11-14",
        "end_date": "2026-11-20",
        "data_source": data_source,
        "aggregation": "total_count",
    }
    if dimensions:
        payload["dimensions"] = dimensions
    response = requests.post(
        on_service("https://api.branch.io/v1/query/analytics", base),
        json=payload,
        headers={"Content-Type": "application/json"},
        timeout=30.0,
    )
    if response.status_code >= 400:
        return {"error": response.status_code, "detail": response.text}
    result = response.json()
    return result if isinstance(result, list) else result.get("results", result)


def test_python_branch_connector_gets_a_list_of_results(base, dataset):
    """Python ``BranchConnector.query_analytics``, index id 62628248133: with its defaults
    (``eo_click``) it gets an empty list (no clicks imported); with ``eo_custom_event`` by
    ``name`` the list of ``total_count`` rows."""
    assert branch_connector_query_analytics(base) == []
    rows = branch_connector_query_analytics(base, "eo_custom_event", ["name"])
    expected = {
        r["name"]: r["n"]
        for r in reference(
            dataset,
            "name, COUNT(*) AS n",
            topic="eo_custom_event",
            start="2026-11-14",
            end="2026-11-20",
            tail="GROUP BY name",
        )
    }
    assert isinstance(rows, list)
    assert {row["result"]["name"]: row["result"]["total_count"] for row in rows} == expected
    assert CUSTOM_CONVERSION in expected and len(expected) > 10

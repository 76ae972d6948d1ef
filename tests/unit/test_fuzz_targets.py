"""Fuzz targets (hypothesis): the mapping function and the Query API request model.

Normal test runs use ``FUZZ_EXAMPLES`` per target (default 200: a few seconds). The dedicated
run, ``scripts/fuzz.sh`` (``FUZZ_EXAMPLES=20000`` x 5 targets = 100k inputs), is documented
there. Targets and the only outcomes they accept:

* ``process_message`` on arbitrary bytes, arbitrary JSON documents and Segment-shaped events
  with adversarial field types: never raises; exactly one coherent outcome; an imported row
  fits the events schema and serialises; a rejected message's dead letter keeps its bytes.
* ``AnalyticsRequest.model_validate`` (serving/query_sql.py) on arbitrary request dicts:
  raises nothing but pydantic's ``ValidationError`` (the module's documented 400); a request
  that validates translates to SQL that contains none of the caller's strings.
* the service over HTTP (Query API and Daily Export, JSON and form bodies, URL parameters):
  only 200 or a 400 in Branch's error shape, never a 500.

Each target counts its inputs into ``FUZZ_COUNT_FILE`` when set (the script sums them).
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import urllib.parse
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.mapping import MappingOutcome, process_message
from tests.support.fuzz import ATTRIBUTES, JSON_SCALARS, JSON_VALUES, assert_coherent_outcome, encode
from tests.support.mapping import MAPPING_NOW, mapping_settings_for

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=EXAMPLES <= 200,
    suppress_health_check=list(HealthCheck),
)
SETTINGS = mapping_settings_for()
SMALL = mapping_settings_for(max_payload_bytes=4096)
_COUNTS: dict[str, int] = {}


def _count(target: str) -> None:
    _COUNTS[target] = _COUNTS.get(target, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    path = os.environ.get("FUZZ_COUNT_FILE")
    if path:
        with open(path, "a") as out:
            for target, n in sorted(_COUNTS.items()):
                out.write(f"{target} {n}\n")


PUBLISH = st.one_of(st.none(), st.just(MAPPING_NOW - timedelta(seconds=3)))


def _run(data: bytes, attributes, publish_time, settings_=SETTINGS) -> MappingOutcome:
    result = process_message(data, attributes, publish_time, settings_, MAPPING_NOW)
    assert_coherent_outcome(result, data, settings_.max_payload_bytes)
    return result


# ------------------------------------------------------------------ process_message targets


@FUZZ
@given(st.binary(max_size=512), ATTRIBUTES, PUBLISH)
def test_fuzz_arbitrary_bytes(data, attributes, publish_time):
    _count("bytes")
    _run(data, attributes, publish_time)


@FUZZ
@given(JSON_VALUES, ATTRIBUTES, PUBLISH)
def test_fuzz_arbitrary_json(doc, attributes, publish_time):
    _count("json")
    _run(encode(doc), attributes, publish_time)


# Every mapped field, with values of every type a producer could get wrong.
ADVERSARIAL = st.one_of(
    JSON_SCALARS,
    JSON_VALUES,
    st.sampled_from(
        [
            "",
            " ",
            "NaN",
            "Infinity",
            "-Infinity",
            "1e400",
            "-0",
            "12.50",
            "1,5",
            "0x10",
            "\u0000",
            "\ud83d\ude00",
            "\U0001f600",
            "usd",
            "EUR",
            "XXX",
            "2026-11-28T11:59:00Z",
            "2026-13-01",
            "9999-12-31T23:59:59-01:00",
            "00000000-0000-0000-0000-000000000000",
            "ios",
            "android",
            "en-US",
            "x" * 101,
        ]
    ),
    st.integers(min_value=-(10**40), max_value=10**40),
)
TIMESTAMPS = st.one_of(
    ADVERSARIAL,
    st.datetimes(
        min_value=datetime(2026, 11, 27), max_value=datetime(2026, 11, 28, 12, 20), timezones=st.just(UTC)
    ).map(lambda d: d.isoformat()),
)
PRODUCT = st.fixed_dictionaries(
    {},
    optional=dict.fromkeys(
        (
            "product_id",
            "sku",
            "name",
            "brand",
            "category",
            "variant",
            "price",
            "quantity",
            "url",
            "image_url",
            "rating",
            "extra",
        ),
        ADVERSARIAL,
    ),
)
PROPERTIES = st.fixed_dictionaries(
    {},
    optional={
        **dict.fromkeys(
            (
                "order_id",
                "revenue",
                "total",
                "currency",
                "shipping",
                "tax",
                "coupon",
                "affiliation",
                "description",
                "query",
                "browser_fingerprint_id",
                "custom",
                "product_id",
                "price",
                "quantity",
            ),
            ADVERSARIAL,
        ),
        "products": st.one_of(ADVERSARIAL, st.lists(st.one_of(PRODUCT, ADVERSARIAL), max_size=3)),
    },
)
CONTEXT = st.fixed_dictionaries(
    {},
    optional={
        "device": st.one_of(
            ADVERSARIAL,
            st.fixed_dictionaries(
                {},
                optional=dict.fromkeys(
                    ("id", "advertisingId", "adTrackingEnabled", "type", "manufacturer", "model"), ADVERSARIAL
                ),
            ),
        ),
        "os": st.one_of(ADVERSARIAL, st.fixed_dictionaries({}, optional={"name": ADVERSARIAL, "version": ADVERSARIAL})),
        "app": ADVERSARIAL,
        "ip": ADVERSARIAL,
        "userAgent": ADVERSARIAL,
        "locale": ADVERSARIAL,
        "page": ADVERSARIAL,
        "screen": st.one_of(
            ADVERSARIAL, st.fixed_dictionaries({}, optional=dict.fromkeys(("width", "height", "density"), ADVERSARIAL))
        ),
    },
)
EVENT_NAMES = st.one_of(
    st.sampled_from(
        [
            "Order Completed",
            "Product Viewed",
            "Products Searched",
            "Product Added",
            " login ",
            "Application Opened",
            "Song Played",
            "Signed Up",
        ]
    ),
    ADVERSARIAL,
)
SEGMENT = st.fixed_dictionaries(
    {
        "type": st.one_of(st.just("track"), ADVERSARIAL),
        "event": EVENT_NAMES,
        "messageId": st.one_of(st.text(min_size=1, max_size=12), ADVERSARIAL),
    },
    optional={
        "timestamp": TIMESTAMPS,
        "receivedAt": TIMESTAMPS,
        "sentAt": TIMESTAMPS,
        "originalTimestamp": TIMESTAMPS,
        "userId": ADVERSARIAL,
        "anonymousId": ADVERSARIAL,
        "context": st.one_of(CONTEXT, ADVERSARIAL),
        "properties": st.one_of(PROPERTIES, ADVERSARIAL),
        "integrations": st.one_of(
            ADVERSARIAL,
            st.fixed_dictionaries(
                {}, optional={"All": ADVERSARIAL, "Branch": ADVERSARIAL, "Branch Metrics": ADVERSARIAL}
            ),
        ),
    },
)


@FUZZ
@given(SEGMENT, ATTRIBUTES, PUBLISH, st.booleans())
def test_fuzz_segment_shaped_events(doc, attributes, publish_time, small_limit):
    _count("segment")
    _run(encode(doc), attributes, publish_time, SMALL if small_limit else SETTINGS)


# ------------------------------------------------------------------ Query API request model

query_sql = pytest.importorskip("serving.query_sql")

DIMENSION_NAMES = sorted(query_sql.DIMENSIONS) + ["timestamp", "de_view_data_source", "last_cta_view_data_tilde_id"]
HOSTILE = st.sampled_from(
    [
        "name; DROP TABLE events --",
        "`x`",
        "' OR 1=1 --",
        "\\",
        "name\u0000",
        "@app_id",
        "!name",
        "!!name",
        "events_dedup`",
        "_position",
        "day",
        "/* */",
    ]
)
REQUEST_VALUES = st.one_of(
    JSON_SCALARS, HOSTILE, st.lists(st.one_of(st.sampled_from(DIMENSION_NAMES), HOSTILE), max_size=4)
)
DATES = st.one_of(
    st.dates(min_value=datetime(1, 1, 1).date()).map(str),
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "2026-11-01",
            "2026-11-08",
            "2026-11-07T23:59:59Z",
            "2026-11-01T00:00:00+14:00",
            "9999-12-31",
            "0001-01-01",
            "2026-02-30",
            "",
        ]
    ),
    ADVERSARIAL,
)
FILTER_VALUES = st.one_of(
    st.lists(st.one_of(HOSTILE, st.text(max_size=300), st.just("null")), max_size=3),
    JSON_SCALARS,
    REQUEST_VALUES,
)
REQUEST = st.fixed_dictionaries(
    {},
    optional={
        "branch_key": st.one_of(st.just("key_live_local_default"), st.just("key_live_local_default"), ADVERSARIAL),
        "branch_secret": st.one_of(st.just("secret_live_local_default"), st.just("wrong"), ADVERSARIAL),
        "start_date": DATES,
        "end_date": DATES,
        "data_source": st.one_of(st.sampled_from(list(query_sql.DATA_SOURCES)), ADVERSARIAL),
        "aggregation": st.one_of(st.sampled_from(list(query_sql.AGGREGATIONS)), ADVERSARIAL),
        "dimensions": st.one_of(st.lists(st.sampled_from(DIMENSION_NAMES), max_size=4), REQUEST_VALUES),
        "filters": st.one_of(
            st.dictionaries(
                st.one_of(st.sampled_from(DIMENSION_NAMES + ["!" + d for d in DIMENSION_NAMES]), HOSTILE),
                FILTER_VALUES,
                max_size=3,
            ),
            REQUEST_VALUES,
        ),
        "granularity": st.one_of(st.sampled_from(["all", "day"]), ADVERSARIAL),
        "ordered_by": st.one_of(st.sampled_from(DIMENSION_NAMES + list(query_sql.AGGREGATIONS)), HOSTILE, ADVERSARIAL),
        "ordered": st.one_of(st.sampled_from(["ascending", "descending"]), ADVERSARIAL),
        "zero_fill": st.one_of(st.booleans(), ADVERSARIAL),
        "enable_install_recalculation": st.one_of(st.booleans(), ADVERSARIAL),
        "limit": st.one_of(st.integers(-5, 2000), ADVERSARIAL),
        "after": st.one_of(st.integers(-5, 2**40), ADVERSARIAL),
        "query_id": st.one_of(st.just("q1764547200000000"), ADVERSARIAL),
        "unexpected": ADVERSARIAL,
    },
)
URL_PARAMS = st.dictionaries(
    st.sampled_from(["limit", "after", "query_id", "export_date"]),
    st.one_of(st.integers(-5, 2**64).map(str), st.text(max_size=30), st.just("q1764547200000000")),
    max_size=3,
)


ZONES = st.sampled_from(["UTC", "America/Los_Angeles", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kolkata"])


def _window(body, zone):
    """The request and its window, or None where the API answers 400 (ValueError: the module's
    documented refusal; pydantic's ValidationError is one)."""
    try:
        request = query_sql.AnalyticsRequest.model_validate(body)
        return request, request.window(ZoneInfo(zone))
    except ValueError:
        return None


@FUZZ
@given(REQUEST, ZONES)
def test_fuzz_query_request_model(body, zone):
    _count("query")
    validated = _window(body, zone)
    if validated is None or not query_sql.served(validated[0]):
        return
    request, window = validated
    query = query_sql.build_analytics_query(
        request,
        app_id="local-app",
        view="p.d.events_dedup",
        window=window,
        cutoff=datetime(2026, 11, 1, tzinfo=UTC),
    )
    # Every caller value travels as a parameter: none of its strings is in the SQL text.
    for values in request.filters.values():
        for value in values:
            if len(value) >= 3 and value not in query_sql.DIMENSIONS:
                assert value not in query.sql, value
    for name in request.dimensions:
        if name not in query_sql.DIMENSIONS and len(name) >= 3:
            assert name not in query.sql, name
    for hostile in ("DROP", "--", "' OR", "/*"):
        assert hostile not in query.sql
    assert query.sql.count("`") % 2 == 0
    assert 1 <= len(window.days) <= query_sql.MAX_DAYS


@functools.cache
def _service():
    import tempfile

    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.export import ExportSettings
    from serving.queries import QueryRunner
    from serving.rate_limit import RateLimiter
    from serving.settings import ServingSettings
    from serving.signing import Signer
    from tests.support.serving import EmptyResults

    os.environ.setdefault("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9")  # never contacted
    exports = ExportSettings(tempfile.mkdtemp(prefix="fuzz-exports-"), Signer(b"k" * 32))
    app = create_app(ServingSettings("local-project", "fuzz"), export_settings=exports)
    app.state.queries = QueryRunner(EmptyResults())
    app.state.rate_limiter = RateLimiter(clock=itertools.count(step=3600).__next__)  # never limits
    return TestClient(app, raise_server_exceptions=False)


EXPORT_REQUEST = st.fixed_dictionaries(
    {},
    optional={
        "branch_key": st.one_of(st.just("key_live_local_default"), ADVERSARIAL),
        "branch_secret": st.one_of(st.just("secret_live_local_default"), ADVERSARIAL),
        "export_date": st.one_of(DATES, st.sampled_from(["2026-11-19", "2000-01-01", "2999-01-01"])),
        "app_id": ADVERSARIAL,
    },
)
PATHS = st.sampled_from(["/v1/query/analytics", "/v1/query/analytics/", "/v3/export", "/v3/export/"])


@FUZZ
@given(st.one_of(REQUEST, EXPORT_REQUEST, ADVERSARIAL), URL_PARAMS, PATHS, st.booleans())
def test_fuzz_query_api_over_http(body, params, path, as_form):
    """Whole requests through the service (Query API and Daily Export, JSON or form bodies):
    only 200 or a 400 in Branch's error shape, never a 500."""
    _count("query_http")
    if as_form and isinstance(body, dict):  # what requests.post(data=...) and restler send
        fields = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in body.items()}
        content = urllib.parse.urlencode(fields, errors="surrogatepass")  # lone surrogates: bad UTF-8 bytes
        content_type = "application/x-www-form-urlencoded"
    else:  # json.dumps escapes lone surrogates (\\ud83d): bytes any client can send, unlike httpx's json=.
        content, content_type = json.dumps(body), "application/json"
    payload = content.encode("utf-8", "surrogatepass")
    response = _service().post(path, params=params, content=payload, headers={"content-type": content_type})
    answer = response.json()
    if response.status_code == 200:
        assert set(answer) == {"results", "paging"} or len(answer) == 15
    else:
        assert response.status_code == 400, response.text
        assert set(answer["error"]) == {"code", "message"} and answer["error"]["code"] == 400


@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-01:00", "0001-01-01T00:30:00+01:00", "9999-12-31"])
def test_query_dates_at_the_edge_of_the_calendar_are_refused_not_crashes(value):
    assert _window({**_VALID_QUERY, "start_date": "9999-12-30", "end_date": value}, "Pacific/Kiritimati") is None


_VALID_QUERY = {
    "branch_key": "k",
    "branch_secret": "s",
    "start_date": "2026-11-01",
    "end_date": "2026-11-02",
    "data_source": "eo_commerce_event",
}

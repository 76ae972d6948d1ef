"""Property-based tests of the mapping on Segment-shaped events: process_message never raises
and always returns one coherent outcome (the suite's one checker: ``tests/support/fuzz.py``).

Segment-shaped track events with adversarial field types (numbers as strings, arrays where
objects go, huge numbers, negative quantities, control characters and emoji in names, broken
timestamps) must end as exactly one outcome; an imported row must fit the events table schema
and serialise with orjson. Arbitrary bytes and JSON are ``tests/unit/test_fuzz_targets.py``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.mapping import MappingOutcome, process_message
from schemas.reasons import Outcome, Reason
from tests.support.fuzz import ATTRIBUTES, JSON_SCALARS, JSON_VALUES, assert_coherent_outcome, encode
from tests.support.mapping import MAPPING_NOW, mapping_settings_for

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SETTINGS = mapping_settings_for()
SMALL_SETTINGS = mapping_settings_for(max_payload_bytes=2048)

PUBLISH_TIMES = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(2026, 11, 27, 0, 0), max_value=datetime(2026, 11, 28, 12, 30), timezones=st.just(UTC)
    ),
)


def check(result: MappingOutcome) -> None:
    assert_coherent_outcome(result)


def run(data: bytes, attributes=None, publish_time=None, settings_=SETTINGS) -> MappingOutcome:
    result = process_message(data, attributes, publish_time, settings_, MAPPING_NOW)
    check(result)
    return result


# --------------------------------------------------------------------------- arbitrary bytes / JSON


@settings(FUZZ, max_examples=300)
@given(value=JSON_VALUES, attributes=ATTRIBUTES)
def test_arbitrary_json_values_never_raise(value, attributes):
    result = run(encode(value), attributes)
    if type(value) is not dict:
        assert result.reason is Reason.NOT_AN_OBJECT


@settings(FUZZ, max_examples=150)
@given(value=JSON_VALUES, data=st.binary(max_size=200))
def test_json_with_garbage_appended_never_raises(value, data):
    run(encode(value) + data)


# --------------------------------------------------------------------------- Segment-shaped events


def _fmt(dt: datetime, offset_minutes: int, precision: str) -> str:
    tz = timezone(timedelta(minutes=offset_minutes))
    local = dt.astimezone(tz)
    text = local.isoformat(timespec=precision)
    return text.replace("+00:00", "Z") if offset_minutes == 0 and precision != "hours" else text


GOOD_TIMES = st.builds(
    _fmt,
    st.datetimes(
        min_value=datetime(2026, 11, 27, 12, 30), max_value=datetime(2026, 11, 28, 12, 20), timezones=st.just(UTC)
    ),
    st.sampled_from([0, 330, -300, 60, 840, -720, 345]),
    st.sampled_from(["seconds", "milliseconds", "microseconds"]),
)
BROKEN_TIMES = st.one_of(
    st.sampled_from(
        [
            "",
            "now",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-31T10:00:00Z",
            "2026-11-28T25:61:00Z",
            "28/11/2026",
            "2026-11-28T11:59:00+25:00",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2026-11-28T11:59:00.123456789Z",
            "2026-11-28",
            "T11:59",
            "2026-11-28T11:59:00Z\x00",
            "２０２６-11-28T11:59:00Z",
        ]
    ),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(),
    st.text(max_size=30),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
)
TIMES = st.one_of(GOOD_TIMES, GOOD_TIMES, GOOD_TIMES, BROKEN_TIMES)

LONG_DECIMALS = st.builds(  # up to 29 integer digits and more than 9 fraction digits (NUMERIC's edge)
    lambda sign, whole, fraction: f"{sign}{whole}.{fraction}",
    st.sampled_from(["", "-"]),
    st.integers(min_value=0, max_value=10**29 - 1),
    st.integers(min_value=0, max_value=10**15),
)
NUMBERS_AS_STRINGS = st.one_of(
    LONG_DECIMALS,
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.from_regex(r"-?[0-9]{1,35}(\.[0-9]{1,15})?([eE][-+]?[0-9]{1,4})?", fullmatch=True),
    st.sampled_from(
        [
            "NaN",
            "nan",
            "-NaN",
            "sNaN",
            "Infinity",
            "-Infinity",
            "inf",
            "1e400",
            "-1e400",
            "1e-400",
            "12,50",
            "12.50",
            " 7 ",
            "-0",
            "0x10",
            "1_000",
            "١٢",
            "",
            " ",
            "--1",
            "1e29",
            "-1e29",
            "99999999999999999999999999999.9999999999",
            "12345678901234567890.1234567891",
        ]
    ),
)
HUGE_NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([2**63, -(2**63), 2**64, 10**29, 1e308, -1e308, 5e-324]),
)
WEIRD_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=10),
    st.sampled_from(["🚀", "Order Completed 🛒", "\x00", "\u200b", "\ufeff", "e\u0301", "A" * 300, "\t\n\r"]),
)
ADVERSARIAL = st.one_of(
    JSON_VALUES,
    NUMBERS_AS_STRINGS,
    HUGE_NUMBERS,
    WEIRD_TEXT,
    st.lists(JSON_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=8), JSON_SCALARS, max_size=3),
)


def mostly(good, bad, bad_in_ten: int = 2):
    """``good`` about (10 - bad_in_ten) times in ten, else ``bad``."""
    return st.tuples(st.integers(0, 9), good, bad).map(lambda t: t[2] if t[0] >= 10 - bad_in_ten else t[1])


def maybe(strategy, adversarial_weight: int = 1):
    """Mostly the sane strategy, sometimes anything."""
    return mostly(strategy, ADVERSARIAL, 2 * adversarial_weight)


EVENT_NAMES = mostly(
    st.sampled_from(
        [
            "Order Completed",
            "Product Added",
            "Product Viewed",
            "Product Reviewed",
            "Products Searched",
            "Signed Up",
            "Complete Tutorial",
            "COMPLETE_TUTORIAL",
            "spend credits",
            "Application Opened",
            "WEB_SESSION_START",
            "Deep Link Clicked",
            "Video Played",
            "  Order Completed  ",
            "ORDER COMPLETED",
        ]
    ),
    WEIRD_TEXT,
    3,
)
ID_TEXT = st.one_of(st.uuids().map(str), st.just("00000000-0000-0000-0000-000000000000"), st.text(max_size=20))

PRODUCT = st.fixed_dictionaries(
    {},
    optional={
        "product_id": maybe(ID_TEXT),
        "sku": maybe(ID_TEXT),
        "name": maybe(WEIRD_TEXT),
        "brand": maybe(st.text(max_size=10)),
        "category": maybe(st.text(max_size=10)),
        "variant": maybe(st.text(max_size=10)),
        "price": maybe(st.one_of(NUMBERS_AS_STRINGS, HUGE_NUMBERS), 2),
        "quantity": maybe(st.one_of(st.integers(min_value=-5, max_value=5), NUMBERS_AS_STRINGS, HUGE_NUMBERS), 2),
        "url": maybe(st.text(max_size=20)),
        "image_url": maybe(st.text(max_size=20)),
        "rating": maybe(st.one_of(NUMBERS_AS_STRINGS, st.integers(min_value=0, max_value=5)), 2),
        "position": ADVERSARIAL,
        "coupon": ADVERSARIAL,
    },
)
MONEY = st.one_of(NUMBERS_AS_STRINGS, HUGE_NUMBERS, st.floats(min_value=-1e6, max_value=1e6))
PROPERTIES = st.fixed_dictionaries(
    {},
    optional={
        "order_id": maybe(ID_TEXT),
        "revenue": maybe(MONEY, 2),
        "total": maybe(MONEY, 2),
        "shipping": maybe(MONEY, 2),
        "tax": maybe(MONEY, 2),
        "currency": maybe(st.sampled_from(["USD", "usd", "eur", "XYZ", "", "US Dollar", " gbp "])),
        "coupon": maybe(st.text(max_size=10)),
        "affiliation": maybe(st.text(max_size=10)),
        "description": maybe(WEIRD_TEXT),
        "query": maybe(st.one_of(st.text(max_size=10), JSON_VALUES)),
        "products": maybe(st.lists(maybe(PRODUCT), max_size=4), 2),
        "browser_fingerprint_id": maybe(ID_TEXT),
        "product_id": maybe(ID_TEXT),
        "price": maybe(MONEY, 2),
        "quantity": maybe(st.one_of(st.integers(min_value=-5, max_value=5), NUMBERS_AS_STRINGS), 2),
        "rating": maybe(NUMBERS_AS_STRINGS),
        "name": maybe(WEIRD_TEXT),
        "extra": ADVERSARIAL,
        "nested": JSON_VALUES,
        "🔑": ADVERSARIAL,
    },
)
DEVICE = st.fixed_dictionaries(
    {},
    optional={
        "type": maybe(
            st.sampled_from(["ios", "IOS", "android", "Android", "ipados", "tvOS", "watchos", "web", "phone", ""])
        ),
        "advertisingId": maybe(ID_TEXT),
        "id": maybe(ID_TEXT),
        "adTrackingEnabled": maybe(st.booleans()),
        "manufacturer": maybe(st.text(max_size=10)),
        "model": maybe(st.text(max_size=10)),
        "name": ADVERSARIAL,
    },
)
CONTEXT = st.fixed_dictionaries(
    {},
    optional={
        "device": maybe(DEVICE),
        "os": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": maybe(st.sampled_from(["iOS", "iPhone OS", "Android", "Mac OS X", "Windows", "tvOS"])),
                    "version": maybe(st.text(max_size=8)),
                },
            )
        ),
        "app": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": ADVERSARIAL,
                    "version": maybe(st.text(max_size=8)),
                    "build": ADVERSARIAL,
                    "namespace": ADVERSARIAL,
                },
            )
        ),
        "ip": maybe(st.ip_addresses().map(str)),
        "userAgent": maybe(
            st.sampled_from(
                [
                    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)",
                    "Mozilla/5.0 (Linux; Android 14)",
                    "Mozilla/5.0 (Windows NT 10.0)",
                    "",
                ]
            )
        ),
        "locale": maybe(st.sampled_from(["en-US", "fr_FR", "pt-br", "zh-Hant-TW", "x", "", "en"])),
        "screen": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "width": maybe(st.integers(min_value=0, max_value=5000)),
                    "height": maybe(HUGE_NUMBERS),
                    "density": maybe(
                        st.one_of(st.floats(min_value=0.5, max_value=4), st.integers(min_value=0, max_value=640))
                    ),
                },
            )
        ),
        "library": ADVERSARIAL,
        "page": maybe(st.fixed_dictionaries({"url": st.text(max_size=10)})),
    },
)
INTEGRATIONS = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "All": st.booleans(),
            "Branch Metrics": st.one_of(st.booleans(), st.just({})),
            "Branch": st.one_of(st.booleans(), st.just({})),
            "Other": st.booleans(),
        },
    ),
    ADVERSARIAL,
)

SEGMENT_EVENTS = st.fixed_dictionaries(
    {
        "type": mostly(
            st.just("track"),
            st.one_of(
                st.sampled_from(["identify", "page", "screen", "group", "alias", "Track", " track "]), ADVERSARIAL
            ),
            1,
        ),
        "event": mostly(EVENT_NAMES, ADVERSARIAL, 1),
        "messageId": mostly(st.uuids().map(str), st.one_of(st.text(min_size=95, max_size=105), ADVERSARIAL), 1),
        "timestamp": mostly(GOOD_TIMES, st.one_of(BROKEN_TIMES, st.none()), 3),
        "userId": mostly(ID_TEXT, st.one_of(st.none(), ADVERSARIAL), 4),
    },
    optional={
        "originalTimestamp": TIMES,
        "sentAt": TIMES,
        "receivedAt": TIMES,
        "anonymousId": maybe(ID_TEXT),
        "context": maybe(CONTEXT),
        "integrations": INTEGRATIONS,
        "properties": maybe(PROPERTIES, 1),
        "version": ADVERSARIAL,
        "channel": ADVERSARIAL,
    },
)


@settings(FUZZ, max_examples=700)
@given(event=SEGMENT_EVENTS, attributes=ATTRIBUTES, publish_time=PUBLISH_TIMES)
def test_segment_shaped_events_never_raise_and_rows_fit_the_schema(event, attributes, publish_time):
    run(encode(event), attributes, publish_time)


@settings(FUZZ, max_examples=250)
@example(properties={"revenue": "12345678901234567890.1234567891"}, products=[], name="Order Completed")
@example(properties={}, products=[{"price": "99999999999999999999.9999999999"}], name="Order Completed")
@example(properties={"price": 1e308, "quantity": -1, "rating": "NaN"}, products=[], name="Product Added")
@given(
    properties=PROPERTIES,
    products=st.lists(PRODUCT, max_size=3),
    name=st.sampled_from(["Order Completed", "Product Added", "Product Reviewed", "Products Searched", "Video Played"]),
)
def test_adversarial_properties_on_an_identified_event_import(properties, products, name):
    """With a valid envelope the message is always imported: properties never reject an event."""
    if products:
        properties = {**properties, "products": products}
    doc = {
        "type": "track",
        "event": name,
        "messageId": "m-1",
        "timestamp": "2026-11-28T11:59:00Z",
        "userId": "u-1",
        "properties": properties,
    }
    result = run(encode(doc))
    assert result.outcome is Outcome.IMPORTED, (result.reason, result.detail)


@settings(FUZZ, max_examples=150)
@given(event=SEGMENT_EVENTS)
def test_small_payload_limit_never_raises(event):
    data = encode(event)
    result = run(data, None, None, SMALL_SETTINGS)
    if len(data) > 2048:
        assert result.reason is Reason.PAYLOAD_TOO_LARGE


# --------------------------------------------------------------------------- the checker itself


def test_invariant_checker_catches_incoherent_outcomes():
    """Guard: the invariants above can fail (so the fuzz tests are not vacuous)."""
    import pytest

    good = run(
        encode({"type": "track", "event": "X", "messageId": "m", "timestamp": "2026-11-28T11:59:00Z", "userId": "u"})
    )
    assert good.outcome is Outcome.IMPORTED
    bad_rows = [
        {**good.row, "timestamp": 5},
        {**good.row, "custom_data": '{"a": 1}'},
        {**good.row, "user_data_developer_identity": None},
    ]
    for row in bad_rows:
        with pytest.raises(AssertionError):
            check(MappingOutcome(Outcome.IMPORTED, None, None, row))
    for outcome in (
        MappingOutcome(Outcome.SKIPPED, Reason.NO_IDENTIFIER, "x"),
        MappingOutcome(Outcome.REJECTED, None, "x"),
        MappingOutcome(Outcome.IMPORTED, Reason.STALE_EVENT, "x", good.row),
        MappingOutcome(Outcome.REJECTED, Reason.SCHEMA_VIOLATION, "x"),
    ):
        with pytest.raises(AssertionError):
            check(outcome)

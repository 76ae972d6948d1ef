"""Value coercions (domain/values.py) and event time rules (rules §1)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.timestamps import InvalidTimestamp, event_time, parse_timestamp, to_bq_timestamp
from domain.values import to_decimal, to_float, to_int, to_json_text, to_numeric, to_text
from schemas.reasons import Reason
from tests.support.mapping import (
    MAPPING_ABSENT,
    MAPPING_NOW,
    mapping_imported_row,
    mapping_process,
    mapping_track_event,
)

BQ_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    "value,expected",
    [
        ("abc", "abc"),
        ("", ""),
        (5, "5"),
        (-5, "-5"),
        (1.5, "1.5"),
        (Decimal("2.50"), "2.50"),
        (True, None),
        (False, None),
        (None, None),
        ([], None),
        ({}, None),
    ],
)
def test_to_text(value, expected):
    assert to_text(value) == expected


@pytest.mark.parametrize(
    "value,expected",
    [
        (12, "12"),
        ("12.50", "12.50"),
        (" 12.5 ", "12.5"),
        (12.5, "12.5"),
        ("-4", "-4"),
        ("0", "0"),
        ("-0", "0"),
        ("1E+3", "1000"),
        (1e-7, "0.0000001"),
        ("0.0000000004", "0"),
        ("99999999999999999999999999999", "99999999999999999999999999999"),
    ],
)
def test_to_numeric_accepts_numbers_and_numeric_strings(value, expected):
    assert to_numeric(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "",
        "NaN",
        "-nan",
        "Infinity",
        "inf",
        "sNaN",
        True,
        False,
        None,
        [],
        {},
        float("nan"),
        float("inf"),
        "1e29",
        "-1e29",
        10**40,
        "1e400",
    ],
)
def test_to_numeric_rejects_non_numbers_and_out_of_range(value):
    assert to_numeric(value) is None


def test_to_numeric_negative_can_be_refused():
    assert to_numeric(-1, allow_negative=False) is None
    assert to_numeric("-1.5", allow_negative=False) is None
    assert to_numeric("1.5", allow_negative=False) == "1.5"


@pytest.mark.parametrize("value", ["12345678901234567890.1234567891", "99999999999999999999.9999999999"])
def test_to_numeric_never_raises_on_long_decimals(value):
    result = to_numeric(value)  # must not raise decimal.InvalidOperation
    assert result is None or len(result.partition(".")[2]) <= 9


@pytest.mark.parametrize(
    "value,expected",
    [
        (2, 2.0),
        ("2.5", 2.5),
        (2.5, 2.5),
        (" 3 ", 3.0),
        ("1e2", 100.0),
    ],
)
def test_to_float(value, expected):
    assert to_float(value) == expected


@pytest.mark.parametrize(
    "value", ["NaN", "Infinity", "x", True, None, [], float("nan"), float("-inf"), "1e400", 10**400]
)
def test_to_float_rejects(value):
    assert to_float(value) is None


def test_to_float_negative_can_be_refused():
    assert to_float(-1, allow_negative=False) is None
    assert to_float("-0.5", allow_negative=False) is None
    assert to_float(-1) == -1.0


@pytest.mark.parametrize(
    "value,expected",
    [
        (1080, 1080),
        (1080.0, 1080),
        ("1080", 1080),
        (1080.5, None),
        ("x", None),
        (True, None),
        (2**63, None),
        (None, None),
    ],
)
def test_to_int(value, expected):
    assert to_int(value) == expected


@pytest.mark.parametrize(
    "value,expected",
    [
        ({"a": 1}, '{"a":1}'),
        ([1, "b"], '[1,"b"]'),
        (10**30, str(10**30)),
        ("é", '"é"'),
        (None, "null"),
    ],
)
def test_to_json_text_compact(value, expected):
    assert to_json_text(value) == expected


@given(
    st.one_of(
        st.floats(),
        st.integers(-(2**63), 2**64 - 1),
        st.booleans(),
        st.none(),
        st.sampled_from([0.0, -0.0, 1e16, 9999999999999998.0, 1e-4, 1e-5, 5e-324, 1.7976931348623157e308]),
    )
)
def test_to_json_text_of_a_scalar_is_the_text_orjson_writes(value):
    assert to_json_text(value) == orjson.dumps(value).decode()


@given(st.floats(min_value=1e-4, max_value=1e16, exclude_max=True), st.booleans())
def test_orjson_writes_a_price_range_float_as_repr_does(value, negative):
    # to_numeric's float path takes orjson's text for repr's (half the time): the same digits.
    value = -value if negative else value
    assert orjson.dumps(value).decode() == repr(value)


def test_to_decimal_never_raises():
    for value in ("1_000", "١٢", " ", "0x10", object(), b"12", Decimal("NaN")):
        result = to_decimal(value)
        assert result is None or result.is_finite()


# --------------------------------------------------------------------------- parse_timestamp


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2026-11-28T11:59:00Z", datetime(2026, 11, 28, 11, 59, tzinfo=UTC)),
        ("2026-11-28T11:59:00.123Z", datetime(2026, 11, 28, 11, 59, 0, 123000, tzinfo=UTC)),
        ("2026-11-28T17:29:00+05:30", datetime(2026, 11, 28, 11, 59, tzinfo=UTC)),
        ("2026-11-28T06:59:00-05:00", datetime(2026, 11, 28, 11, 59, tzinfo=UTC)),
        ("2026-11-28T11:59:00+00:00", datetime(2026, 11, 28, 11, 59, tzinfo=UTC)),
        ("2026-11-28T11:59:00", datetime(2026, 11, 28, 11, 59, tzinfo=UTC)),  # no offset: UTC
        ("2026-11-29T01:59:00+14:00", datetime(2026, 11, 28, 11, 59, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_normalises_offsets_to_utc(text, expected):
    parsed = parse_timestamp(text, "timestamp")
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", ["", "now", "2026-02-30T00:00:00Z", "2026-11-28T24:00:01Z", 0, None, [], {}, True])
def test_parse_timestamp_rejects_garbage(value):
    with pytest.raises(InvalidTimestamp):
        parse_timestamp(value, "timestamp")


def test_to_bq_timestamp_format():
    assert to_bq_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    assert (
        to_bq_timestamp(datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=timezone(timedelta(hours=5, minutes=30))))
        == "2026-01-01T21:34:05.000007Z"
    )


# --------------------------------------------------------------------------- event time rules


def _time(**fields):
    return mapping_imported_row(mapping_track_event(**fields), publish_time=fields.pop("_publish", None))["timestamp"]


def test_timestamp_wins_over_everything():
    row = mapping_imported_row(
        mapping_track_event(
            timestamp="2026-11-28T11:50:00Z",
            receivedAt="2026-11-28T11:55:00Z",
            sentAt="2026-11-28T11:54:00Z",
            originalTimestamp="2026-11-28T11:40:00Z",
        ),
        publish_time=MAPPING_NOW - timedelta(minutes=1),
    )
    assert row["timestamp"] == "2026-11-28T11:50:00.000000Z"


def test_skew_corrected_time_without_timestamp():
    # receivedAt - (sentAt - originalTimestamp) = 11:55 - (11:54:30 - 11:40) = 11:40:30
    row = mapping_imported_row(
        mapping_track_event(
            timestamp=MAPPING_ABSENT,
            receivedAt="2026-11-28T11:55:00Z",
            sentAt="2026-11-28T11:54:30Z",
            originalTimestamp="2026-11-28T11:40:00Z",
        )
    )
    assert row["timestamp"] == "2026-11-28T11:40:30.000000Z"


def test_skew_corrected_time_with_mixed_offsets():
    # sentAt 13:54:30+02:00 = 11:54:30Z; originalTimestamp 06:40-05:00 = 11:40Z (device clock); receivedAt 11:55Z.
    row = mapping_imported_row(
        mapping_track_event(
            timestamp=MAPPING_ABSENT,
            receivedAt="2026-11-28T17:25:00.500+05:30",
            sentAt="2026-11-28T13:54:30+02:00",
            originalTimestamp="2026-11-28T06:40:00-05:00",
        )
    )
    assert row["timestamp"] == "2026-11-28T11:40:30.500000Z"


def test_device_clock_ahead_is_corrected():
    # The device clock runs 1 h fast: originalTimestamp and sentAt both say 12:5x, receivedAt 11:58.
    row = mapping_imported_row(
        mapping_track_event(
            timestamp=MAPPING_ABSENT,
            receivedAt="2026-11-28T11:58:00Z",
            sentAt="2026-11-28T12:58:00Z",
            originalTimestamp="2026-11-28T12:57:00Z",
        )
    )
    assert row["timestamp"] == "2026-11-28T11:57:00.000000Z"


@pytest.mark.parametrize("missing", ["sentAt", "originalTimestamp"])
def test_received_at_when_sent_at_or_original_timestamp_missing(missing):
    fields = {
        "timestamp": MAPPING_ABSENT,
        "receivedAt": "2026-11-28T11:58:00Z",
        "sentAt": "2026-11-28T11:50:00Z",
        "originalTimestamp": "2026-11-28T11:40:00Z",
    }
    fields[missing] = MAPPING_ABSENT
    assert mapping_imported_row(mapping_track_event(**fields))["timestamp"] == "2026-11-28T11:58:00.000000Z"


def test_publish_time_when_no_timestamps():
    publish = datetime(2026, 11, 28, 11, 58, 30, 250000, tzinfo=UTC)
    row = mapping_imported_row(
        mapping_track_event(
            timestamp=MAPPING_ABSENT, sentAt="2026-11-28T11:50:00Z", originalTimestamp="2026-11-28T11:40:00Z"
        ),
        publish_time=publish,
    )
    assert row["timestamp"] == "2026-11-28T11:58:30.250000Z"


def test_now_when_no_timestamps_and_no_publish_time():
    row = mapping_imported_row(mapping_track_event(timestamp=MAPPING_ABSENT))
    assert row["timestamp"] == "2026-11-28T12:00:00.000000Z"


def test_null_timestamp_counts_as_absent():
    row = mapping_imported_row(mapping_track_event(timestamp=None, receivedAt="2026-11-28T11:58:00Z"))
    assert row["timestamp"] == "2026-11-28T11:58:00.000000Z"


@pytest.mark.parametrize(
    "timestamp,expected",
    [
        ("2026-11-28T17:29:00+05:30", "2026-11-28T11:59:00.000000Z"),
        ("2026-11-28T11:59:00.1+00:00", "2026-11-28T11:59:00.100000Z"),
        ("2026-11-28T11:59:00.123456789Z", None),  # nanoseconds: the rules are silent, only check the format
        ("2026-11-28T11:59:00Z", "2026-11-28T11:59:00.000000Z"),
    ],
)
def test_output_timestamp_format_is_utc_microseconds_z(timestamp, expected):
    result = mapping_process(mapping_track_event(timestamp=timestamp))
    if result.row is None:
        assert result.reason is Reason.INVALID_TIMESTAMP
        return
    assert BQ_FORMAT.match(result.row["timestamp"])
    assert BQ_FORMAT.match(result.row["ingested_at"])
    if expected:
        assert result.row["timestamp"] == expected


def test_event_time_function_fallback_chain():
    publish = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    assert event_time({}, publish, MAPPING_NOW) == publish
    assert event_time({}, None, MAPPING_NOW) == MAPPING_NOW
    assert event_time({"receivedAt": "2026-11-28T10:00:00Z"}, publish, MAPPING_NOW) == datetime(
        2026, 11, 28, 10, tzinfo=UTC
    )
    with pytest.raises(InvalidTimestamp):
        event_time({"timestamp": "nope", "receivedAt": "2026-11-28T10:00:00Z"}, publish, MAPPING_NOW)

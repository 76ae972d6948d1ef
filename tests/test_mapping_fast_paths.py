"""The mapping's fast paths give exactly what the general code they shortcut gives."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import mapping_config_from, mapping_settings_for
from transforms import event_names
from transforms.identifiers import _locale, _parse_locale, is_zeroed
from transforms.mapping import _has_long_number, decode, event_id, has_long_number, integrations_disabled
from transforms import timestamps
from transforms.timestamps import (
    InvalidTimestamp, _bq_timestamp_of, _to_bq_timestamp, bq_timestamp_of, parse_timestamp, to_bq_timestamp,
)
from transforms.values import to_numeric

UTC = timezone.utc


def isoformat_text(value: datetime) -> str:
    """to_bq_timestamp's definition: isoformat() of the UTC time, microseconds, "Z"."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])))
def test_bq_timestamp_text_is_the_isoformat_text(value):
    try:
        expected = isoformat_text(value)
    except OverflowError:  # beyond datetime's range once in UTC
        return
    assert to_bq_timestamp(value) == expected


@pytest.mark.parametrize("text", [
    "2026-11-28T12:00:00.123Z", "2026-11-28T12:00:00.000Z", "0999-01-01T00:00:00.001Z", "2026-11-28T12:00:00Z",
    "2026-11-28T12:00:00.123+00:00", "2026-11-28T12:00:00.123+05:30", "2026-11-28T12:00:00.1234Z",
    "2026-11-28 12:00:00.123Z", "2026-11-28T12:00:00,123Z", "20261128T120000.123Z", "2026-11-28T12:00:00.123",
])
def test_segment_form_timestamp_text_is_the_parsed_timestamp_text(text):
    assert bq_timestamp_of(text, parse_timestamp(text, "t")) == to_bq_timestamp(parse_timestamp(text, "t"))


@given(st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)))
def test_segment_form_text_round_trips(value):
    text = value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    parsed = parse_timestamp(text, "t")
    assert bq_timestamp_of(text, parsed) == isoformat_text(parsed)


@pytest.mark.parametrize("text", ["2026-13-28T12:00:00.123Z", "2026-11-28T24:00:00.123Z", "2026-11-28T12:00:60.123Z",
                                  "2026-11-2xT12:00:00.123Z", "2026-11-28T12:00:00.12xZ"])
def test_segment_form_lookalikes_that_do_not_parse_are_still_invalid(text):
    with pytest.raises(InvalidTimestamp):
        parse_timestamp(text, "t")


@given(st.text(alphabet="0-a \u0660", max_size=40))
def test_zeroed_advertising_id_is_only_zeros_and_dashes(advertising_id):
    assert is_zeroed(advertising_id) == (set(advertising_id.replace("-", "")) == {"0"})


@given(st.text(alphabet="abcdefgzABZ_- 12é", max_size=12))
def test_memoised_locale_is_the_parsed_locale(text):
    assert _locale(text) == _parse_locale(text) == _locale(text)


FLAGS = [None, False, True, {}, "x", 0]


@pytest.mark.parametrize("branch_metrics", FLAGS + ["absent"])
@pytest.mark.parametrize("branch", FLAGS + ["absent"])
@pytest.mark.parametrize("everything", [None, False, True, "absent"])
def test_integrations_opt_out_follows_segment_rules(branch_metrics, branch, everything):
    integrations = {k: v for k, v in (("Branch Metrics", branch_metrics), ("Branch", branch), ("All", everything))
                    if v != "absent"}
    values = [integrations.get("Branch Metrics"), integrations.get("Branch")]
    expected = any(v is False for v in values) or (
        integrations.get("All") is False and all(v is None or v is False for v in values))
    assert integrations_disabled(integrations) is expected


def test_zero_prices_are_numeric_zero():
    assert to_numeric(0.0) == to_numeric(-0.0) == to_numeric(0) == "0"
    assert to_numeric(-0.0, allow_negative=False) == "0"


@pytest.mark.parametrize("segment_name", [
    "Order Completed", " order completed ", "Signed Up", "COMPLETE_TUTORIAL", "Complete Tutorial", "Product Added",
    "Deep Link Clicked", "Click", "Trip Booked", "  Custom   Thing ", "Straße",
])
def test_event_name_facts_are_those_of_the_name_tables(segment_name):
    config = mapping_config_from("""
apps:
  - app_id: app
    branch_key: key_live_app
    branch_secret_hash: "{hash}"
    natively_tracked_events: [PURCHASE, Complete Tutorial, RESERVE]
    event_map:
      Trip Booked: {name: RESERVE, category: COMMERCE}
      Signed Up: COMPLETE_REGISTRATION
""")
    app = mapping_settings_for(config).default_app
    name, category = event_names.resolve_event(segment_name, app.overrides)
    key = event_names.name_key(segment_name)
    for _ in range(2):  # worked out, then memoised
        facts = app.event_name(segment_name)
        assert (facts.name, facts.category) == (name, category)
        assert facts.topic == event_names.TOPIC_BY_CATEGORY[category]
        assert facts.not_imported == event_names.is_not_imported(segment_name, name)
        assert facts.single_product == (key in event_names.SINGLE_PRODUCT_EVENTS)
        assert facts.double_tracking == (key in app.native_keys or event_names.name_key(name) in app.native_keys)


@given(value=st.floats(allow_nan=False, allow_infinity=False), digits=st.integers(15, 19),
       negative=st.booleans())
def test_a_number_decodes_the_same_whether_or_not_the_document_takes_the_exact_path(value, digits, negative):
    # Another property's 20-digit string sends the whole document to the exact decoder: the
    # number must still come out as the fast path gives it.
    literal = f"{abs(value):.{digits}g}"
    literal = ("-" if negative else "") + (literal if "." in literal or "e" in literal else literal + ".0")
    plain = decode(f'{{"price": {literal}}}'.encode())
    exact = decode(f'{{"price": {literal}, "id": "12345678901234567890"}}'.encode())
    assert type(exact["price"]) is type(plain["price"])
    assert repr(exact["price"]) == repr(plain["price"])


_RUN_BYTES = st.sampled_from(b"0123456789.-x:")


@given(st.lists(st.one_of(st.binary(max_size=30), st.lists(_RUN_BYTES, max_size=45).map(bytes)), max_size=8).map(b"".join))
def test_the_long_number_search_answers_as_the_table_and_search_do(data):
    assert has_long_number(data) is _has_long_number(data)
    assert has_long_number(bytearray(data)) is _has_long_number(data)


@pytest.mark.parametrize("run", [b"1" * 19, b"1" * 20, b"-" + b"1" * 19, b"-" + b"1" * 18, b"1.2" * 7, b"-1" * 10])
@pytest.mark.parametrize("before,after", [(b"", b""), (b'{"a":', b"}"), (b"x" * 37, b"9"), (b"7", b"-" * 40)])
def test_the_long_number_search_at_every_offset(run, before, after):
    for pad in range(40):
        data = before + b"a" * pad + run + after
        assert has_long_number(data) is _has_long_number(data), data


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3)), timezone(timedelta(0))])))
def test_the_c_timestamp_text_is_the_pure_one(value):
    assert to_bq_timestamp(value) == _to_bq_timestamp(value)


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40), st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=100))
def test_event_id_is_blake2b_128_of_the_app_and_message_id(app_id, message_id):
    for _ in range(2):  # the app's hash state is made, then reused
        assert event_id(app_id, message_id) == hashlib.blake2b(
            f"{app_id}\x1f{message_id}".encode(), digest_size=16).hexdigest()


_SEGMENT_FORM_TEXT = st.tuples(
    st.integers(0, 9999), st.integers(0, 19), st.integers(0, 39), st.integers(0, 29), st.integers(0, 69),
    st.integers(0, 69), st.integers(0, 999),
).map(lambda t: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % t)
_LOOKALIKES = st.text(st.sampled_from("0123456789-T:.Z+ \u0663"), min_size=22, max_size=26)


@given(st.one_of(_SEGMENT_FORM_TEXT, _LOOKALIKES))
def test_the_c_segment_form_reader_gives_what_fromisoformat_gives(text):
    if timestamps.segment_timestamp is None:  # a pure install reads every form with fromisoformat
        return
    fast = timestamps.segment_timestamp(text)
    fast_text = timestamps.segment_text(text)
    try:
        expected = datetime.fromisoformat(text)
    except ValueError:
        assert fast is None and fast_text is None
        with pytest.raises(InvalidTimestamp):
            timestamps.bq_timestamp_text(text, "receivedAt")
        return
    assert (fast is None) is (fast_text is None)
    assert timestamps.bq_timestamp_text(text, "receivedAt") == _bq_timestamp_of(text, expected)
    if fast is not None:
        assert fast == expected and fast.tzinfo is expected.tzinfo is UTC
    else:  # only texts of other forms go the general way
        assert not (len(text) == 24 and text.isascii() and text.endswith("Z") and text[4:20:3] == "--T::.")
    parsed = parse_timestamp(text, "timestamp")
    assert bq_timestamp_of(text, parsed) == _bq_timestamp_of(text, parsed)


@pytest.mark.parametrize("text", [
    "1900-02-29T00:00:00.000Z", "2000-02-29T00:00:00.000Z", "2024-02-29T23:59:59.999Z", "2023-02-29T00:00:00.000Z",
    "2026-04-31T00:00:00.000Z", "2026-12-31T00:00:00.000Z", "0001-01-01T00:00:00.000Z", "0000-01-01T00:00:00.000Z",
    "2026-11-28T24:00:00.000Z", "2026-11-28T12:60:00.000Z", "2026-11-28T12:00:60.000Z", "2026-00-10T00:00:00.000Z",
])
def test_segment_form_calendar_edges_are_decided_as_fromisoformat_decides(text):
    try:
        expected = _bq_timestamp_of(text, datetime.fromisoformat(text))
    except ValueError:
        with pytest.raises(InvalidTimestamp):
            timestamps.bq_timestamp_text(text, "receivedAt")
        assert timestamps.segment_timestamp is None or timestamps.segment_timestamp(text) is None
    else:
        assert timestamps.bq_timestamp_text(text, "receivedAt") == expected
        if timestamps.segment_text is not None:
            assert timestamps.segment_text(text) == expected

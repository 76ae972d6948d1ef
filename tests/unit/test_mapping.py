"""process_message: outcomes, reason codes and check order (rules §1, §2, §7)."""

from __future__ import annotations

import json
from datetime import UTC, timedelta

import orjson
import pytest

from domain.config import load_config
from domain.mapping import MAPPED_VALIDATOR, event_id
from schemas.reasons import SKIP_REASONS, Outcome, Reason
from tests.support.mapping import (
    FAULT_ATTRIBUTE,
    MAPPING_ABSENT,
    MAPPING_DEFAULT_KEY,
    MAPPING_EVENT_TIME_BQ,
    MAPPING_NOW,
    MAPPING_WEB_KEY,
    FaultInjectingSettings,
    mapping_config_from,
    mapping_imported_row,
    mapping_ios_context,
    mapping_process,
    mapping_settings_for,
    mapping_track_event,
)

WEB = {"branch_key": MAPPING_WEB_KEY}
UNKNOWN = {"branch_key": "key_live_nobody"}


def assert_reason(result, reason: Reason) -> None:
    assert result.reason is reason, (result.reason, result.detail)
    assert result.outcome is reason.outcome
    assert result.row is None


# --------------------------------------------------------------------------- reason enum


def test_reason_outcomes_split_as_spec_says():
    skipped = {"unsupported_call_type", "not_imported_event", "integration_disabled", "platform_not_enabled"}
    rejected = {
        "malformed_json",
        "not_an_object",
        "payload_too_large",
        "missing_event_name",
        "missing_message_id",
        "invalid_message_id",
        "invalid_timestamp",
        "stale_event",
        "future_event",
        "unknown_app",
        "no_identifier",
        "schema_violation",
        "sink_error",
        "internal_error",
        "invalid_touch_row",
    }
    assert {r.value for r in Reason} == skipped | rejected
    assert {r.value for r in SKIP_REASONS} == skipped
    for reason in Reason:
        assert reason.outcome is (Outcome.SKIPPED if reason.value in skipped else Outcome.REJECTED)
        assert reason.description and reason.stage


def test_outcome_values():
    assert {o.value for o in Outcome} == {"imported", "duplicate", "skipped", "rejected"}


# --------------------------------------------------------------------------- imported row


def test_minimal_track_event_is_imported_with_a_valid_row():
    result = mapping_process(mapping_track_event())
    assert result.outcome is Outcome.IMPORTED and result.reason is None and result.detail is None
    row = result.row
    assert MAPPED_VALIDATOR.validate(row) is None
    assert row["app_id"] == "local-app"  # the default app without a branch_key attribute
    assert row["origin"] == "SEGMENT"
    assert row["segment_message_id"] == "msg-0001"
    assert row["id"] == event_id("local-app", "msg-0001")
    assert row["timestamp"] == MAPPING_EVENT_TIME_BQ
    assert row["ingested_at"] == "2026-11-28T12:00:00.000000Z"
    assert row["user_data_developer_identity"] == "user-1"
    assert row["warnings"] == []
    assert result.app_id == "local-app" and result.message_id == "msg-0001"
    orjson.dumps(row)


def test_event_id_is_deterministic_per_app_and_message():
    assert event_id("a", "m") == event_id("a", "m")
    assert event_id("a", "m") != event_id("b", "m")
    assert event_id("a", "m") != event_id("a", "n")


def test_branch_key_attribute_selects_app():
    row = mapping_imported_row(mapping_track_event(), attributes={"branch_key": MAPPING_DEFAULT_KEY})
    assert row["app_id"] == "local-app"
    row = mapping_imported_row(mapping_track_event(context={"userAgent": "Mozilla/5.0"}), attributes=WEB)
    assert row["app_id"] == "local-web-app"


def test_call_type_match_tolerates_case():
    # the rules are silent; the code accepts "Track" / " TRACK " as a track call.
    assert mapping_process(mapping_track_event(type="Track")).outcome is Outcome.IMPORTED


def test_received_at_column_from_received_at_else_publish_time():
    row = mapping_imported_row(mapping_track_event(receivedAt="2026-11-28T11:59:30+01:00"))
    assert row["received_at"] == "2026-11-28T10:59:30.000000Z"
    row = mapping_imported_row(mapping_track_event(), publish_time=MAPPING_NOW - timedelta(seconds=5))
    assert row["received_at"] == "2026-11-28T11:59:55.000000Z"


# --------------------------------------------------------------------------- rejected: decode


def test_payload_too_large_with_small_limit():
    settings = mapping_settings_for(max_payload_bytes=200)
    small = orjson.dumps(mapping_track_event())
    assert len(small) <= 200
    assert mapping_process(small, settings=settings).outcome is Outcome.IMPORTED
    big = orjson.dumps(mapping_track_event(properties={"pad": "x" * 300}))
    assert_reason(mapping_process(big, settings=settings), Reason.PAYLOAD_TOO_LARGE)


def test_payload_exactly_at_limit_is_accepted():
    data = orjson.dumps(mapping_track_event())
    settings = mapping_settings_for(max_payload_bytes=len(data))
    assert mapping_process(data, settings=settings).outcome is Outcome.IMPORTED
    settings = mapping_settings_for(max_payload_bytes=len(data) - 1)
    assert_reason(mapping_process(data, settings=settings), Reason.PAYLOAD_TOO_LARGE)


def test_default_payload_limit_is_one_mib():
    data = orjson.dumps(mapping_track_event(properties={"pad": "x" * (1 << 20)}))
    assert_reason(mapping_process(data), Reason.PAYLOAD_TOO_LARGE)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b"not json",
        b'{"type": "track", "event": "X"',  # truncated
        b'{"type": "track", "messageId": "m", ',
        b'{"a": 1}}',
        b"{'single': 'quotes'}",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": 1,}',
        b"\xff\xfe{}",  # invalid UTF-8
        b'{"event": "caf\xe9"}',  # latin-1 byte inside a string
        b'{"event": "\xc3"}',  # truncated UTF-8 sequence
        b'{"event": "\\ud800"}',  # lone surrogate escape: cannot be stored as UTF-8
    ],
)
def test_malformed_json(data):
    assert_reason(mapping_process(data), Reason.MALFORMED_JSON)


@pytest.mark.parametrize("value", [[], [mapping_track_event()], "track", 42, 1.5, True, None])
def test_json_non_object_is_not_an_object(value):
    assert_reason(mapping_process(orjson.dumps(value)), Reason.NOT_AN_OBJECT)


@pytest.mark.parametrize("depth", [100, 300, 600, 900, 990, 1000, 1020, 1030, 5000])
def test_deeply_nested_properties_never_raise(depth):
    nested = "[" * depth + "]" * depth
    data = orjson.dumps(mapping_track_event(properties={"p": "X"}))
    data = data.replace(b'"X"', nested.encode())
    result = mapping_process(data)  # must not raise (RecursionError is a crash in the pipeline)
    assert result.reason in (None, Reason.MALFORMED_JSON)
    if result.row is not None:
        assert MAPPED_VALIDATOR.validate(result.row) is None


def test_integer_beyond_64_bits_keeps_every_digit_in_custom_data():
    # decode() says such integers take the exact stdlib path; orjson actually returns a float.
    data = orjson.dumps(mapping_track_event(properties={"big": "X"})).replace(b'"X"', b"123456789012345678901234567890")
    row = mapping_imported_row(data)
    assert json.loads(row["custom_data"]) == {"big": "123456789012345678901234567890"}


# --------------------------------------------------------------------------- messageId


@pytest.mark.parametrize("message_id", [MAPPING_ABSENT, None, ""])
def test_missing_message_id(message_id):
    assert_reason(mapping_process(mapping_track_event(messageId=message_id)), Reason.MISSING_MESSAGE_ID)


@pytest.mark.parametrize("message_id", [123, 1.5, True, False, [], ["m"], {}, {"id": "m"}, "x" * 101, " ", "\t\n"])
def test_invalid_message_id(message_id):
    assert_reason(mapping_process(mapping_track_event(messageId=message_id)), Reason.INVALID_MESSAGE_ID)


def test_message_id_of_100_chars_is_ok():
    row = mapping_imported_row(mapping_track_event(messageId="m" * 100))
    assert row["segment_message_id"] == "m" * 100


def test_message_id_of_100_non_ascii_chars_is_ok():
    mapping_imported_row(mapping_track_event(messageId="é" * 100))


# --------------------------------------------------------------------------- call type


@pytest.mark.parametrize(
    "call_type", ["identify", "page", "screen", "group", "alias", "Identify", "tracks", "", None, 7, ["track"]]
)
def test_unsupported_call_type_is_skipped(call_type):
    result = mapping_process(mapping_track_event(type=call_type))
    assert_reason(result, Reason.UNSUPPORTED_CALL_TYPE)
    assert result.outcome is Outcome.SKIPPED


def test_missing_type_is_unsupported_call_type():
    assert_reason(mapping_process(mapping_track_event(type=MAPPING_ABSENT)), Reason.UNSUPPORTED_CALL_TYPE)


# --------------------------------------------------------------------------- event name


@pytest.mark.parametrize(
    "event", [MAPPING_ABSENT, None, "", "   ", "\t\n", 42, True, [], ["Order Completed"], {"name": "x"}]
)
def test_missing_event_name(event):
    assert_reason(mapping_process(mapping_track_event(event=event)), Reason.MISSING_EVENT_NAME)


# --------------------------------------------------------------------------- app


def test_unknown_branch_key_is_unknown_app():
    assert_reason(mapping_process(mapping_track_event(), attributes=UNKNOWN), Reason.UNKNOWN_APP)


def test_no_branch_key_and_no_default_app_is_unknown_app():
    config = mapping_config_from("""
apps:
  - {app_id: a1, branch_key: key_1, branch_secret_hash: "{hash}"}
  - {app_id: a2, branch_key: key_2, branch_secret_hash: "{hash}"}
""")
    settings = mapping_settings_for(config)
    assert_reason(mapping_process(mapping_track_event(), settings=settings), Reason.UNKNOWN_APP)
    assert_reason(mapping_process(mapping_track_event(), {}, settings=settings), Reason.UNKNOWN_APP)
    row = mapping_imported_row(mapping_track_event(), attributes={"branch_key": "key_2"}, settings=settings)
    assert row["app_id"] == "a2"


def test_single_app_config_is_the_default_app():
    config = mapping_config_from('apps:\n  - {app_id: solo, branch_key: key_s, branch_secret_hash: "{hash}"}\n')
    row = mapping_imported_row(mapping_track_event(), settings=mapping_settings_for(config))
    assert row["app_id"] == "solo"


# --------------------------------------------------------------------------- integrations


@pytest.mark.parametrize(
    "integrations",
    [
        {"Branch Metrics": False},
        {"Branch": False},
        {"All": False},
        {"All": False, "Branch Metrics": False},
        {"All": True, "Branch Metrics": False},
        {"All": True, "Branch": False},
        {"All": False, "Segment.io": True},
        {"Branch Metrics": False, "Branch": True},
    ],
)
def test_integrations_opt_out_is_skipped(integrations):
    result = mapping_process(mapping_track_event(integrations=integrations))
    assert_reason(result, Reason.INTEGRATION_DISABLED)
    assert result.outcome is Outcome.SKIPPED


@pytest.mark.parametrize(
    "integrations",
    [
        {"All": False, "Branch Metrics": True},
        {"All": False, "Branch": True},
        {"All": False, "Branch": {}},  # an options object means "on"
        {"All": False, "Branch Metrics": {"option": 1}},
        {"All": True},
        {},
        {"Branch Metrics": True},
        {"Amplitude": False},
        {"branch metrics": False},  # Segment integration names are case-sensitive
        None,
        [],
        "All",
    ],
)
def test_integrations_not_opting_out_are_imported(integrations):
    assert mapping_process(mapping_track_event(integrations=integrations)).outcome is Outcome.IMPORTED


# --------------------------------------------------------------------------- not imported

NOT_IMPORTED = [
    "Deep Link Clicked",
    "Install Attributed",
    "Deep Link Opened",
    "Application Installed",
    "Application Opened",
    "Application Updated",
    "Application Backgrounded",
    "Application Crashed",
    "Application Uninstalled",
    "Push Notification Received",
    "Push Notification Tapped",
    "Push Notification Bounced",
    "Click",
    "Install",
    "Reinstall",
    "Open",
    "SMS Sent",
    "Pageview",
    "Web Session Start",
    "Branch CTA View",
    "Impression",
    "Web to App Auto Redirect",
]
BRANCH_API_FORMS = [
    "CLICK",
    "INSTALL",
    "REINSTALL",
    "OPEN",
    "SMS_SENT",
    "PAGEVIEW",
    "WEB_SESSION_START",
    "BRANCH_CTA_VIEW",
    "IMPRESSION",
    "WEB_TO_APP_AUTO_REDIRECT",
    "web_session_start",
]


@pytest.mark.parametrize("name", NOT_IMPORTED)
def test_not_imported_event_in_several_casings_is_skipped(name):
    for sent in (name, name.lower(), name.upper(), f"  {name.swapcase()}  "):
        result = mapping_process(mapping_track_event(sent))
        assert result.reason is Reason.NOT_IMPORTED_EVENT, (sent, result.reason)
        assert result.outcome is Outcome.SKIPPED


@pytest.mark.parametrize("name", BRANCH_API_FORMS)
def test_not_imported_branch_api_form_is_skipped(name):
    assert_reason(mapping_process(mapping_track_event(name)), Reason.NOT_IMPORTED_EVENT)


def test_override_to_a_not_imported_branch_name_is_skipped():
    config = mapping_config_from("""
apps:
  - app_id: a1
    branch_key: key_1
    branch_secret_hash: "{hash}"
    event_map: {"App Launch": "OPEN"}
""")
    result = mapping_process(mapping_track_event("App Launch"), settings=mapping_settings_for(config))
    assert_reason(result, Reason.NOT_IMPORTED_EVENT)


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    "fields",
    [
        {"timestamp": "yesterday"},
        {"timestamp": ""},
        {"timestamp": "2026-13-01T00:00:00Z"},
        {"timestamp": "2026-11-31T00:00:00Z"},
        {"timestamp": "2026-11-28T25:00:00Z"},
        {"timestamp": "28/11/2026 11:59"},
        {"timestamp": 1764331140000},
        {"timestamp": 1764331140.5},
        {"timestamp": True},
        {"timestamp": {"$date": "2026-11-28T11:59:00Z"}},
        {"timestamp": ["2026-11-28T11:59:00Z"]},
        {"timestamp": "2026-11-28T11:59:00+25:00"},
        {"timestamp": MAPPING_ABSENT, "receivedAt": "garbage"},
        {"timestamp": MAPPING_ABSENT, "receivedAt": 12},
        {
            "timestamp": MAPPING_ABSENT,
            "receivedAt": "2026-11-28T11:59:00Z",
            "sentAt": "bad",
            "originalTimestamp": "2026-11-28T11:58:00Z",
        },
        {
            "timestamp": MAPPING_ABSENT,
            "receivedAt": "2026-11-28T11:59:00Z",
            "sentAt": "2026-11-28T11:59:00Z",
            "originalTimestamp": "bad",
        },
    ],
)
def test_invalid_timestamp(fields):
    assert_reason(mapping_process(mapping_track_event(**fields)), Reason.INVALID_TIMESTAMP)


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_timestamp_overflowing_utc_is_invalid_not_a_crash(timestamp):
    assert_reason(mapping_process(mapping_track_event(timestamp=timestamp)), Reason.INVALID_TIMESTAMP)


def test_skew_correction_overflow_is_invalid_timestamp():
    event = mapping_track_event(
        timestamp=MAPPING_ABSENT,
        receivedAt="0001-01-02T00:00:00Z",
        sentAt="9999-12-31T00:00:00Z",
        originalTimestamp="0001-01-01T00:00:00Z",
    )
    assert_reason(mapping_process(event), Reason.INVALID_TIMESTAMP)


def test_stale_event_older_than_24h():
    stale = mapping_track_event(timestamp="2026-11-27T11:59:59Z")
    assert_reason(mapping_process(stale), Reason.STALE_EVENT)
    fresh = mapping_track_event(timestamp="2026-11-27T12:00:01Z")
    assert mapping_process(fresh).outcome is Outcome.IMPORTED


def test_stale_check_uses_now_argument():
    event = mapping_track_event(timestamp="2020-01-01T00:00:00Z")
    assert_reason(mapping_process(event), Reason.STALE_EVENT)
    from datetime import datetime

    then = datetime(2020, 1, 1, 0, 5, tzinfo=UTC)
    assert mapping_process(event, now=then).outcome is Outcome.IMPORTED


def test_stale_and_future_are_measured_from_the_publish_time_not_the_read_time():
    """rules §10: a backlog (messages read days after Pub/Sub got them) keeps on-time events."""
    from datetime import datetime

    published = datetime(2026, 11, 20, 12, tzinfo=UTC)  # 8 days before MAPPING_NOW, the read time
    on_time = mapping_track_event(timestamp="2026-11-20T11:00:00Z")
    assert mapping_process(on_time, publish_time=published).outcome is Outcome.IMPORTED
    assert_reason(mapping_process(on_time), Reason.STALE_EVENT)  # no publish time: measured from now
    late = mapping_track_event(timestamp="2026-11-19T11:59:59Z")  # a day and a second before publish
    outcome = mapping_process(late, publish_time=published)
    assert_reason(outcome, Reason.STALE_EVENT)
    assert "before its publish time" in outcome.detail
    ahead = mapping_track_event(timestamp="2026-11-20T12:10:01Z")  # in the past at read time, ahead of publish
    assert_reason(mapping_process(ahead, publish_time=published), Reason.FUTURE_EVENT)


def test_backfill_without_max_event_age_accepts_old_events():
    settings = mapping_settings_for(max_event_age=None)
    row = mapping_imported_row(mapping_track_event(timestamp="2001-02-03T04:05:06Z"), settings=settings)
    assert row["timestamp"] == "2001-02-03T04:05:06.000000Z"


def test_future_event_more_than_10_minutes_ahead():
    assert_reason(mapping_process(mapping_track_event(timestamp="2026-11-28T12:10:01Z")), Reason.FUTURE_EVENT)
    assert mapping_process(mapping_track_event(timestamp="2026-11-28T12:09:59Z")).outcome is Outcome.IMPORTED


def test_future_check_respects_offsets():
    # 17:39+05:30 == 12:09 UTC: within the skew; 12:09-01:00 == 13:09 UTC: future.
    assert mapping_process(mapping_track_event(timestamp="2026-11-28T17:39:00+05:30")).outcome is Outcome.IMPORTED
    assert_reason(mapping_process(mapping_track_event(timestamp="2026-11-28T12:09:00-01:00")), Reason.FUTURE_EVENT)


def test_custom_clock_skew_and_age():
    settings = mapping_settings_for(max_clock_skew=timedelta(seconds=30), max_event_age=timedelta(minutes=5))
    assert_reason(
        mapping_process(mapping_track_event(timestamp="2026-11-28T12:01:00Z"), settings=settings), Reason.FUTURE_EVENT
    )
    assert_reason(
        mapping_process(mapping_track_event(timestamp="2026-11-28T11:54:00Z"), settings=settings), Reason.STALE_EVENT
    )


# --------------------------------------------------------------------------- identifiers / platform


def test_no_identifier_when_only_anonymous_id():
    event = mapping_track_event(userId=MAPPING_ABSENT, anonymousId="anon-1")
    assert_reason(mapping_process(event), Reason.NO_IDENTIFIER)


def test_no_identifier_for_app_event_with_device_type_but_no_ids():
    event = mapping_track_event(userId=MAPPING_ABSENT, context={"device": {"type": "android"}})
    assert_reason(mapping_process(event), Reason.NO_IDENTIFIER)


def test_platform_not_enabled_for_web_only_app():
    event = mapping_track_event(context=mapping_ios_context())
    result = mapping_process(event, attributes=WEB)
    assert_reason(result, Reason.PLATFORM_NOT_ENABLED)
    assert result.outcome is Outcome.SKIPPED
    assert result.platform == "IOS"


def test_android_event_not_enabled_for_web_only_app():
    event = mapping_track_event(context={"device": {"type": "Android", "advertisingId": "a-1"}})
    assert_reason(mapping_process(event, attributes=WEB), Reason.PLATFORM_NOT_ENABLED)


def test_web_event_enabled_for_web_only_app():
    event = mapping_track_event(userId=MAPPING_ABSENT, properties={"browser_fingerprint_id": "fp-1"})
    row = mapping_imported_row(event, attributes=WEB)
    assert row["user_data_os"] == "WEB" and row["app_id"] == "local-web-app"


# --------------------------------------------------------------------------- schema_violation


def _good_row():
    return mapping_imported_row(
        mapping_track_event(
            "Order Completed",
            context=mapping_ios_context(),
            properties={"revenue": 10, "currency": "usd", "products": [{"product_id": "p", "price": 1, "quantity": 2}]},
        )
    )


@pytest.mark.parametrize(
    "breakage",
    [
        lambda r: r.pop("id"),
        lambda r: r.update(name=None),
        lambda r: r.update(timestamp=1764331140),
        lambda r: r.update(event_data_revenue=12.5),  # NUMERIC travels as text
        lambda r: r.update(event_data_revenue="1" * 30),  # more than 29 integer digits
        lambda r: r.update(event_data_revenue="1.1234567891"),  # more than 9 fraction digits
        lambda r: r.update(event_data_revenue="NaN"),
        lambda r: r.update(user_data_screen_width="1080"),
        lambda r: r.update(user_data_screen_width=2**63),
        lambda r: r.update(user_data_limit_ad_tracking="true"),
        lambda r: r.update(warnings="one"),
        lambda r: r.update(warnings=[None]),
        lambda r: r.update(content_items={"sku": "x"}),
        lambda r: r["content_items"][0].update(quantity=float("nan")),
        lambda r: r["content_items"][0].update(price=1.5),
        lambda r: r["content_items"][0].update(unknown_field="x"),
        lambda r: r.update(custom_data={"a": "b"}),  # JSON column travels as text
        lambda r: r.update(not_a_column=1),
    ],
)
def test_schema_violation_detected_by_validator_on_a_broken_row(breakage):
    row = _good_row()
    assert MAPPED_VALIDATOR.validate(row) is None
    breakage(row)
    assert MAPPED_VALIDATOR.validate(row) is not None


def test_schema_violation_is_a_rejection():
    assert Reason.SCHEMA_VIOLATION.outcome is Outcome.REJECTED


# --------------------------------------------------------------------------- check order

IOS_NO_IDS = {"device": {"type": "ios"}}


def _order_cases():
    big = mapping_settings_for(max_payload_bytes=40)
    t = mapping_track_event
    return [
        # (name, payload, attributes, settings, expected)
        (
            "size before decode",
            b"{not json at all, and longer than forty bytes......}",
            None,
            big,
            Reason.PAYLOAD_TOO_LARGE,
        ),
        ("size before object", orjson.dumps(list(range(40))), None, big, Reason.PAYLOAD_TOO_LARGE),
        ("decode before object", b"[1, 2, \xff]", None, None, Reason.MALFORMED_JSON),
        ("decode before object (truncated array)", b"[1, 2", None, None, Reason.MALFORMED_JSON),
        ("object before messageId", orjson.dumps([{"type": "identify"}]), None, None, Reason.NOT_AN_OBJECT),
        (
            "messageId before call type",
            t(messageId=MAPPING_ABSENT, type="identify"),
            None,
            None,
            Reason.MISSING_MESSAGE_ID,
        ),
        ("invalid messageId before call type", t(messageId=7, type="page"), None, None, Reason.INVALID_MESSAGE_ID),
        (
            "call type before event name",
            t(type="identify", event=MAPPING_ABSENT),
            None,
            None,
            Reason.UNSUPPORTED_CALL_TYPE,
        ),
        ("event name before app", t(event=""), UNKNOWN, None, Reason.MISSING_EVENT_NAME),
        ("app before integrations", t(integrations={"Branch Metrics": False}), UNKNOWN, None, Reason.UNKNOWN_APP),
        (
            "integrations before not-imported",
            t("Application Opened", integrations={"All": False}),
            None,
            None,
            Reason.INTEGRATION_DISABLED,
        ),
        (
            "not-imported before timestamp",
            t("Install Attributed", timestamp="garbage"),
            None,
            None,
            Reason.NOT_IMPORTED_EVENT,
        ),
        (
            "not-imported before stale",
            t("Deep Link Opened", timestamp="2001-01-01T00:00:00Z"),
            None,
            None,
            Reason.NOT_IMPORTED_EVENT,
        ),
        (
            "timestamp before identifiers",
            t(timestamp="garbage", userId=MAPPING_ABSENT),
            None,
            None,
            Reason.INVALID_TIMESTAMP,
        ),
        (
            "stale before identifiers",
            t(timestamp="2001-01-01T00:00:00Z", userId=MAPPING_ABSENT),
            None,
            None,
            Reason.STALE_EVENT,
        ),
        (
            "future before identifiers",
            t(timestamp="2099-01-01T00:00:00Z", userId=MAPPING_ABSENT),
            None,
            None,
            Reason.FUTURE_EVENT,
        ),
        ("identifiers before platform", t(userId=MAPPING_ABSENT, context=IOS_NO_IDS), WEB, None, Reason.NO_IDENTIFIER),
        # non-adjacent sanity: everything wrong at once -> the first check
        (
            "messageId before everything later",
            t(messageId="", type="screen", event=None, timestamp="x", userId=None, integrations={"All": False}),
            UNKNOWN,
            None,
            Reason.MISSING_MESSAGE_ID,
        ),
    ]


@pytest.mark.parametrize(
    "name,payload,attributes,settings,expected", _order_cases(), ids=[c[0] for c in _order_cases()]
)
def test_check_order_earlier_check_wins(name, payload, attributes, settings, expected):
    assert_reason(mapping_process(payload, attributes, settings=settings), expected)


def test_check_order_each_later_failure_alone_gives_its_own_reason():
    """Guard for the ORDER tests: the later failure of each pair really fails on its own."""
    t = mapping_track_event
    assert_reason(mapping_process(t(type="identify")), Reason.UNSUPPORTED_CALL_TYPE)
    assert_reason(mapping_process(t(event=MAPPING_ABSENT)), Reason.MISSING_EVENT_NAME)
    assert_reason(mapping_process(t(), UNKNOWN), Reason.UNKNOWN_APP)
    assert_reason(mapping_process(t(integrations={"Branch Metrics": False})), Reason.INTEGRATION_DISABLED)
    assert_reason(mapping_process(t("Application Opened")), Reason.NOT_IMPORTED_EVENT)
    assert_reason(mapping_process(t(timestamp="garbage")), Reason.INVALID_TIMESTAMP)
    assert_reason(mapping_process(t(userId=MAPPING_ABSENT)), Reason.NO_IDENTIFIER)
    assert_reason(mapping_process(t(context=mapping_ios_context()), WEB), Reason.PLATFORM_NOT_ENABLED)


def test_detail_is_set_for_every_non_imported_outcome():
    for payload in (
        b"",
        b"[]",
        mapping_track_event(messageId=None),
        mapping_track_event(type="page"),
        mapping_track_event(timestamp="x"),
        mapping_track_event(userId=None),
    ):
        result = mapping_process(payload)
        assert result.reason is not None and result.detail


@pytest.mark.parametrize("number", [-9999999999999999999, -9223372036854775809, 18446744073709551616])
def test_integers_just_outside_64_bits_keep_every_digit(number):
    # orjson is exact only within [-2**63, 2**64 - 1]; just outside, it would round to a float.
    from domain.decoder import decode

    assert decode(b'{"n": %d}' % number) == {"n": number}


# --------------------------------------------------------------------------- failsafe (rules §10)


def test_an_unexpected_exception_is_the_outcome_internal_error_with_the_error_text():
    settings = FaultInjectingSettings(load_config())
    result = mapping_process(mapping_track_event(), {FAULT_ATTRIBUTE: "boom"}, settings=settings)
    assert_reason(result, Reason.INTERNAL_ERROR)
    assert result.detail.startswith("RuntimeError: injected fault: boom (at ")
    assert "app_for" in result.detail  # where it was raised
    # The same settings map a message without the fault as usual.
    assert mapping_process(mapping_track_event(), settings=settings).outcome is Outcome.IMPORTED


def test_an_internal_error_text_is_bounded():
    settings = FaultInjectingSettings(load_config())
    result = mapping_process(mapping_track_event(), {FAULT_ATTRIBUTE: "x" * 10_000}, settings=settings)
    assert len(result.detail) < 700


def test_one_name_per_column_segment_name_and_branch_name_apart():
    """A no_identifier Product Added kept ADD_TO_CART where other reasons kept the
    Segment name; now the Segment name is always segment_event / event_name, the Branch name apart."""
    from domain.dead_letters import rejected_row
    from domain.import_stats import row_key

    outcome = mapping_process(mapping_track_event(event="Product Added", userId=MAPPING_ABSENT))
    assert_reason(outcome, Reason.NO_IDENTIFIER)
    assert (outcome.segment_event, outcome.event_name) == ("Product Added", "ADD_TO_CART")
    early = mapping_process(mapping_track_event(event="Product Added", timestamp="not a time"))
    assert (early.segment_event, early.event_name) == ("Product Added", None)  # no Branch name yet
    row = rejected_row(
        b"{}", None, None, outcome.reason, "", MAPPING_NOW, max_stored_bytes=10,
        segment_event=outcome.segment_event, branch_event=outcome.event_name,
    )  # fmt: skip
    assert (row["segment_event"], row["branch_event"]) == ("Product Added", "ADD_TO_CART")
    imported = mapping_process(mapping_track_event(event="Product Added"))
    key = row_key({**imported.row, "ingested_at": "2026-11-28T12:00:00.000000Z"}, Outcome.IMPORTED)
    assert (key.event_name, key.branch_event_name) == ("Product Added", "ADD_TO_CART")

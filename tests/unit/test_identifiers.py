"""rules §4: platform detection, identifiers and user_data_* columns."""

from __future__ import annotations

import json

import pytest

from domain.identifiers import PLACEHOLDER_IDS, detect_platform, is_zeroed, web_platform
from schemas.reasons import Outcome, Reason
from tests.support.mapping import (
    MAPPING_ABSENT,
    mapping_config_from,
    mapping_imported_row,
    mapping_ios_context,
    mapping_process,
    mapping_settings_for,
    mapping_track_event,
)

IDFA = "6D92078A-8246-4BA4-AE5B-76104861E7DC"
IDFV = "B5372DB0-C21E-11E4-8DFC-AA07A5B093DB"
AAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
ANDROID_ID = "9774d56d682e549c"
ZERO_IDFA = "00000000-0000-0000-0000-000000000000"

UA_IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
UA_IPAD = "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1"
UA_ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
UA_DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def anon(**fields):
    """A track event without userId (so identifiers must come from the device / web)."""
    return mapping_track_event(userId=MAPPING_ABSENT, **fields)


# --------------------------------------------------------------------------- platform


@pytest.mark.parametrize(
    "device_type,platform",
    [
        ("ios", "IOS"),
        ("iOS", "IOS"),
        ("IOS", "IOS"),
        (" ios ", "IOS"),
        ("ipados", "IOS"),
        ("iPadOS", "IOS"),
        ("tvos", "IOS"),
        ("tvOS", "IOS"),
        ("watchos", "IOS"),
        ("watchOS", "IOS"),
        ("android", "ANDROID"),
        ("Android", "ANDROID"),
        ("ANDROID", "ANDROID"),
    ],
)
def test_device_type_decides_platform_case_insensitively(device_type, platform):
    assert detect_platform({"device": {"type": device_type}}, {}) == platform
    row = mapping_imported_row(anon(context={"device": {"type": device_type, "id": "dev-1"}}))
    assert row["user_data_os"] == platform
    assert row["user_data_platform"] == f"{platform}_APP"
    assert row["user_data_environment"] == "FULL_APP"


@pytest.mark.parametrize(
    "os_name,platform",
    [
        ("iOS", "IOS"),
        ("ios", "IOS"),
        ("iPhone OS", "IOS"),
        ("iphone os", "IOS"),
        ("iPadOS", "IOS"),
        ("tvOS", "IOS"),
        ("Android", "ANDROID"),
        ("android", "ANDROID"),
    ],
)
def test_os_name_is_the_fallback_when_device_type_is_absent_or_unknown(os_name, platform):
    assert detect_platform({"os": {"name": os_name}}, {}) == platform
    assert detect_platform({"device": {"type": "phone"}, "os": {"name": os_name}}, {}) == platform
    assert detect_platform({"device": {"type": None}, "os": {"name": os_name}}, {}) == platform


def test_device_type_wins_over_os_name():
    assert detect_platform({"device": {"type": "android"}, "os": {"name": "iOS"}}, {}) == "ANDROID"


@pytest.mark.parametrize(
    "context,properties",
    [
        ({}, {"browser_fingerprint_id": "fp-1"}),
        ({"userAgent": UA_DESKTOP}, {}),
        ({"page": {"url": "https://example.com/"}}, {}),
    ],
)
def test_web_detection_by_fingerprint_user_agent_or_page(context, properties):
    assert detect_platform(context, properties) == "WEB"


@pytest.mark.parametrize(
    "context", [{}, {"device": {"type": "server"}}, {"os": {"name": "Windows"}}, {"userAgent": "  "}]
)
def test_no_platform_for_server_side_context(context):
    assert detect_platform(context, {}) is None


def test_os_name_macos_with_user_agent_is_web():
    assert detect_platform({"os": {"name": "Mac OS X"}, "userAgent": UA_DESKTOP}, {}) == "WEB"


@pytest.mark.parametrize(
    "ua,platform",
    [
        (UA_IPHONE, "IOS_WEB"),
        (UA_IPAD, "IOS_WEB"),
        (UA_ANDROID, "ANDROID_WEB"),
        (UA_DESKTOP, "DESKTOP_WEB"),
        (None, "DESKTOP_WEB"),
    ],
)
def test_web_platform_split_by_user_agent(ua, platform):
    assert web_platform(ua) == platform
    context = {"userAgent": ua} if ua else {"page": {"path": "/"}}
    row = mapping_imported_row(anon(context=context, properties={"browser_fingerprint_id": "fp-1"}))
    assert row["user_data_os"] == "WEB"
    assert row["user_data_platform"] == platform
    assert row["user_data_environment"] == "FULL_WEB"
    assert row["user_data_user_agent"] == ua


# --------------------------------------------------------------------------- device ids


def test_ios_advertising_id_is_idfa_and_device_id_is_idfv():
    row = mapping_imported_row(anon(context=mapping_ios_context()))
    assert row["user_data_idfa"] == IDFA and row["user_data_idfv"] == IDFV
    assert row["user_data_aaid"] is None and row["user_data_android_id"] is None
    assert row["user_data_os"] == "IOS"


def test_android_advertising_id_is_aaid_and_device_id_is_android_id():
    row = mapping_imported_row(anon(context={"device": {"type": "android", "advertisingId": AAID, "id": ANDROID_ID}}))
    assert row["user_data_aaid"] == AAID and row["user_data_android_id"] == ANDROID_ID
    assert row["user_data_idfa"] is None and row["user_data_idfv"] is None
    assert row["user_data_os"] == "ANDROID"


@pytest.mark.parametrize("device", [{"advertisingId": IDFA}, {"id": IDFV}])
def test_either_app_identifier_alone_suffices(device):
    assert mapping_process(anon(context={"device": {"type": "ios", **device}})).outcome is Outcome.IMPORTED
    assert mapping_process(anon(context={"device": {"type": "android", **device}})).outcome is Outcome.IMPORTED


def test_device_ids_without_a_platform_are_not_identifiers():
    # Seed: "advertisingId AND device.type" / "id AND device.type".
    result = mapping_process(anon(context={"device": {"advertisingId": IDFA, "id": IDFV}}))
    assert result.reason is Reason.NO_IDENTIFIER


@pytest.mark.parametrize("zero", [ZERO_IDFA, "00000000000000000000000000000000", "0"])
def test_zeroed_advertising_id_is_dropped_and_limits_ad_tracking(zero):
    row = mapping_imported_row(anon(context=mapping_ios_context(advertisingId=zero)))
    assert row["user_data_idfa"] is None
    assert row["user_data_idfv"] == IDFV
    assert row["user_data_limit_ad_tracking"] is True
    assert "zeroed_advertising_id" in row["warnings"]


def test_zeroed_aaid_is_dropped_on_android():
    row = mapping_imported_row(
        anon(context={"device": {"type": "android", "advertisingId": ZERO_IDFA, "id": ANDROID_ID}})
    )
    assert row["user_data_aaid"] is None and row["user_data_limit_ad_tracking"] is True
    assert "zeroed_advertising_id" in row["warnings"]


def test_zeroed_advertising_id_as_only_identifier_is_no_identifier():
    result = mapping_process(anon(context={"device": {"type": "ios", "advertisingId": ZERO_IDFA}}))
    assert result.reason is Reason.NO_IDENTIFIER and result.outcome is Outcome.REJECTED


# --------------------------------------------------------------------------- placeholder ids (rules §4)

# The spec's list, written out by hand (so a code change cannot silently agree with itself).
SPEC_PLACEHOLDERS = ["0", "-1", "null", "nil", "none", "undefined", "nan", "unknown", "anonymous", "guest",
                     "(null)", "n/a", "[object object]"]  # fmt: skip


def test_the_placeholder_list_is_the_specs():
    assert frozenset(SPEC_PLACEHOLDERS) == PLACEHOLDER_IDS


@pytest.mark.parametrize(
    "user_id", [*SPEC_PLACEHOLDERS, " Guest ", "NULL", "[object Object]", "N/A", "Undefined", 0, -1]
)
def test_a_placeholder_user_id_is_no_identity(user_id):
    result = mapping_process(mapping_track_event(userId=user_id))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.NO_IDENTIFIER)
    assert "placeholder" in (result.detail or "") and result.placeholder_identity


@pytest.mark.parametrize("user_id", ["guest-42", "0x1f", "nullable", "u-0", "10"])
def test_ids_that_only_look_like_placeholders_stay_identities(user_id):
    row = mapping_imported_row(mapping_track_event(userId=user_id))
    assert row["user_data_developer_identity"] == str(user_id)
    assert "placeholder_identity" not in row["warnings"]


def test_a_placeholder_is_dropped_with_a_warning_and_the_other_ids_decide():
    result = mapping_process(mapping_track_event(userId="guest", context=mapping_ios_context(id="unknown")))
    assert result.outcome is Outcome.IMPORTED and result.placeholder_identity
    assert result.row is not None
    assert (result.row["user_data_developer_identity"], result.row["user_data_idfv"]) == (None, None)
    assert result.row["user_data_idfa"] == IDFA
    assert result.row["warnings"].count("placeholder_identity") == 1


def test_a_placeholder_device_id_alone_is_no_identifier():
    result = mapping_process(anon(context=mapping_ios_context(advertisingId=MAPPING_ABSENT, id="(null)")))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, Reason.NO_IDENTIFIER)


def test_an_app_adds_its_own_placeholder_ids():
    config = mapping_config_from("""
apps:
  - app_id: app
    branch_key: key_live_app
    branch_secret_hash: "{hash}"
    placeholder_ids: ["Demo-User ", "  "]
""")
    settings = mapping_settings_for(config)
    assert mapping_process(mapping_track_event(userId="demo-user"), settings=settings).reason is Reason.NO_IDENTIFIER
    assert mapping_process(mapping_track_event(userId="guest"), settings=settings).reason is Reason.NO_IDENTIFIER
    assert mapping_imported_row(mapping_track_event(userId="user-1"), settings=settings)
    # Another app's list does not apply.
    assert mapping_imported_row(mapping_track_event(userId="demo-user"))


def test_anonymous_id_is_unaffected_by_the_placeholder_rule():
    row = mapping_imported_row(mapping_track_event(anonymousId="guest"))
    assert row["segment_anonymous_id"] == "guest" and "placeholder_identity" not in row["warnings"]


def test_is_zeroed():
    assert is_zeroed(ZERO_IDFA)
    assert not is_zeroed(IDFA)
    assert not is_zeroed("----")
    assert not is_zeroed("00000000-0000-0000-0000-000000000001")


@pytest.mark.parametrize(
    "enabled,limit",
    [
        (False, True),
        (True, False),
        ("false", True),
        ("TRUE", False),
        (" False ", True),
        (0, True),
        (1, False),
        ("0", True),
    ],
)
def test_ad_tracking_enabled_flag_sets_limit_ad_tracking(enabled, limit):
    """A tracking opt-out is honoured however the SDK spelled it (the string "false" was once lost)."""
    row = mapping_imported_row(anon(context=mapping_ios_context(adTrackingEnabled=enabled)))
    assert row["user_data_limit_ad_tracking"] is limit
    assert row["user_data_idfa"] == IDFA
    assert "invalid_value:adTrackingEnabled" not in (row["warnings"] or "")


@pytest.mark.parametrize("value", ["no", 2, 0.5, [], {}, ""])
def test_an_unreadable_ad_tracking_flag_is_dropped_with_a_warning(value):
    row = mapping_imported_row(anon(context=mapping_ios_context(adTrackingEnabled=value)))
    assert row["user_data_limit_ad_tracking"] is None
    assert "invalid_value:adTrackingEnabled" in row["warnings"]


def test_limit_ad_tracking_unknown_without_flag():
    row = mapping_imported_row(anon(context=mapping_ios_context()))
    assert row["user_data_limit_ad_tracking"] is None


def test_zeroed_id_wins_over_ad_tracking_enabled_true():
    row = mapping_imported_row(anon(context=mapping_ios_context(advertisingId=ZERO_IDFA, adTrackingEnabled=True)))
    assert row["user_data_limit_ad_tracking"] is True


# --------------------------------------------------------------------------- userId / anonymousId


def test_user_id_alone_suffices_and_is_developer_identity():
    row = mapping_imported_row(mapping_track_event(userId="u-42"))
    assert row["user_data_developer_identity"] == "u-42"
    assert row["user_data_os"] is None


def test_numeric_user_id_is_taken_as_text():
    row = mapping_imported_row(mapping_track_event(userId=12345))
    assert row["user_data_developer_identity"] == "12345"


@pytest.mark.parametrize("user_id", ["", "   ", None, {}, [], True])
def test_unusable_user_id_is_not_an_identifier(user_id):
    assert mapping_process(mapping_track_event(userId=user_id)).reason is Reason.NO_IDENTIFIER


def test_anonymous_id_alone_is_not_an_identifier():
    result = mapping_process(anon(anonymousId="anon-1"))
    assert result.reason is Reason.NO_IDENTIFIER


def test_anonymous_id_goes_to_segment_anonymous_id_not_identity():
    row = mapping_imported_row(mapping_track_event(userId="u-1", anonymousId="anon-1"))
    assert row["segment_anonymous_id"] == "anon-1"
    assert row["user_data_developer_identity"] == "u-1"
    assert "anon-1" not in (row["custom_data"] or "")


def test_anonymous_id_with_device_ids():
    row = mapping_imported_row(anon(anonymousId="anon-7", context=mapping_ios_context()))
    assert row["segment_anonymous_id"] == "anon-7"
    assert row["user_data_developer_identity"] is None


# --------------------------------------------------------------------------- web


def test_fingerprint_is_a_web_identifier_and_not_custom_data():
    row = mapping_imported_row(
        anon(context={"userAgent": UA_DESKTOP}, properties={"browser_fingerprint_id": "fp-123", "plan": "pro"})
    )
    assert row["user_data_browser_fingerprint_id"] == "fp-123"
    assert row["user_data_user_agent"] == UA_DESKTOP
    assert json.loads(row["custom_data"]) == {"plan": "pro"}


def test_fingerprint_only_custom_data_is_empty():
    row = mapping_imported_row(anon(properties={"browser_fingerprint_id": "fp-123"}))
    assert row["custom_data"] in (None, "{}")


def test_web_event_without_fingerprint_or_user_id_is_no_identifier():
    result = mapping_process(anon(context={"userAgent": UA_DESKTOP, "page": {"url": "https://x"}}))
    assert result.reason is Reason.NO_IDENTIFIER


def test_web_event_with_user_id_is_imported():
    row = mapping_imported_row(mapping_track_event(context={"userAgent": UA_ANDROID}))
    assert row["user_data_platform"] == "ANDROID_WEB"


def test_fingerprint_on_app_event_is_not_an_app_identifier():
    result = mapping_process(anon(context={"device": {"type": "ios"}}, properties={"browser_fingerprint_id": "fp"}))
    assert result.reason is Reason.NO_IDENTIFIER


# --------------------------------------------------------------------------- other user_data


def test_device_os_app_ip_columns():
    context = {
        "device": {"type": "ios", "id": IDFV, "manufacturer": "Apple", "model": "iPhone15,2", "name": "Bob's"},
        "os": {"name": "iOS", "version": "17.1.2"},
        "app": {"name": "Shop", "version": "3.4.5", "build": "345", "namespace": "com.example.shop"},
        "ip": "203.0.113.7",
    }
    row = mapping_imported_row(anon(context=context))
    assert row["user_data_brand"] == "Apple"
    assert row["user_data_model"] == "iPhone15,2"
    assert row["user_data_os_version"] == "17.1.2"
    assert row["user_data_app_version"] == "3.4.5"
    assert row["user_data_ip"] == "203.0.113.7"


@pytest.mark.parametrize(
    "locale,language,country",
    [
        ("en-US", "en", "US"),
        ("en_GB", "en", "GB"),
        ("fr", "fr", None),
        ("pt-br", "pt", "BR"),
        ("zh-Hant-TW", "zh", "TW"),
        ("EN-us", "en", "US"),
        ("garbage-locale", None, None),
        ("", None, None),
        (42, None, None),
    ],
)
def test_locale_to_language_and_country(locale, language, country):
    row = mapping_imported_row(mapping_track_event(context={"locale": locale}))
    assert (row["user_data_language"], row["user_data_country"]) == (language, country)


@pytest.mark.parametrize(
    "screen,width,height,dpi",
    [
        ({"width": 1170, "height": 2532, "density": 3}, 1170, 2532, 480),
        ({"width": 1080, "height": 2400, "density": 2.625}, 1080, 2400, 420),
        ({"width": "1080", "height": "1920", "density": 480}, 1080, 1920, 480),
        ({"width": "wide", "height": -1.5, "density": "x"}, None, None, None),
        ({}, None, None, None),
    ],
)
def test_screen_width_height_dpi(screen, width, height, dpi):
    row = mapping_imported_row(mapping_track_event(context={"screen": screen}))
    assert (row["user_data_screen_width"], row["user_data_screen_height"], row["user_data_screen_dpi"]) == (
        width,
        height,
        dpi,
    )


def test_server_side_event_has_no_environment_or_platform():
    row = mapping_imported_row(mapping_track_event())
    assert row["user_data_os"] is None and row["user_data_platform"] is None and row["user_data_environment"] is None


@pytest.mark.parametrize("context", [[], "ios", 5, {"device": "ios"}, {"device": [], "os": "Android"}])
def test_non_object_context_parts_are_ignored(context):
    row = mapping_imported_row(mapping_track_event(context=context))
    assert row["user_data_os"] is None


# --------------------------------------------------------------------------- double tracking


@pytest.mark.parametrize("name", ["Complete Tutorial", "COMPLETE_TUTORIAL", "  complete tutorial "])
def test_natively_tracked_event_warns_double_tracking(name):
    row = mapping_imported_row(mapping_track_event(name))
    assert row["name"] == "COMPLETE_TUTORIAL"
    assert "double_tracking" in row["warnings"]


def test_other_events_do_not_warn_double_tracking():
    for name in ("Order Completed", "Complete Registration", "Tutorial Done"):
        assert "double_tracking" not in mapping_imported_row(mapping_track_event(name))["warnings"]

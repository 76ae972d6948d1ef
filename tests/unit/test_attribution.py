"""Attribution (rules §9), rule by rule, through ``segment-branch map --attribute``'s
in-memory state: messages run in order, touches first where a scenario says so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beam_jobs.cli import map_message
from domain.attribution import AttributionState, KeyTouches
from domain.config import load_config
from domain.mapping import ImportSettings
from domain.timestamps import moment_of
from domain.touches import ATTRIBUTION_COLUMNS, LINK_COLUMN_PREFIX, LINK_KEYS, Touch, link_data
from tests.support.attribution import CONVERSION_AT, IDFA, IDFV, NOW, click, ios, iso, message, purchase, web
from tests.support.cli import outputs, run_map
from tests.support.mapping import MAPPING_WEB_KEY, mapping_config_from


def run(*docs: dict[str, Any], settings: ImportSettings | None = None,
        attributes: list[dict | None] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Each message's output line, in order, through one attribution state."""
    settings = settings or ImportSettings(load_config(), max_event_age=None)
    state = AttributionState()
    lines = []
    for index, doc in enumerate(docs):
        attrs = attributes[index] if attributes else None
        _, shown = map_message(orjson.dumps(doc), attrs, settings, NOW, explain=True, attribution=state)
        lines.append(orjson.loads(orjson.dumps(shown)))
    return lines


def campaign_of(line: dict[str, Any]) -> str | None:
    assert line["outcome"] == "imported", line
    return line["row"]["last_attributed_touch_data_tilde_campaign"]


# --------------------------------------------------------------------------- touch sources


def test_install_attributed_campaign_fields_map_to_link_keys_and_provider_is_kept():
    install = message("Install Attributed", NOW - timedelta(days=1), context=ios(advertisingId=IDFA), properties={
        "provider": "Branch",
        "campaign": {"name": "spring", "source": "google", "medium": "cpc", "ad_group": "set-1",
                     "ad_creative": "banner", "term": "shoes", "content": "ignored"},
    })  # fmt: skip
    [line] = run(install)
    assert (line["outcome"], line["reason"], line["row"]) == ("skipped", "not_imported_event", None)
    touch = line["touch"]
    assert {k.removeprefix("last_attributed_touch_data_tilde_"): v for k, v in touch.items() if v is not None} == {
        "last_attributed_touch_type": "CLICK",
        "last_attributed_touch_timestamp": "2026-11-27T12:00:00.000000Z",
        "campaign": "spring", "channel": "google", "feature": "cpc", "ad_set_name": "set-1",
        "creative_name": "banner", "keyword": "shoes",
    }  # fmt: skip
    settings = ImportSettings(load_config(), max_event_age=None)
    result, _ = map_message(orjson.dumps(install), None, settings, NOW)
    assert result.touch is not None and result.touch.provider == "Branch"


@pytest.mark.parametrize("event", ["Deep Link Opened", "Deep Link Clicked", " deep link opened "])
def test_deep_link_url_query_gives_link_data_and_tilde_keys_win_over_utm(event):
    url = ("https://example.app.link/abc?~campaign=tilde_campaign&utm_campaign=utm_campaign&utm_source=newsletter"
           "&utm_medium=email&utm_term=boots&~stage=new&~tags=a&~tags=b&~feature=paid&~id=123")  # fmt: skip
    [line] = run(message(event, NOW, user_id="u1", properties={"url": url}))
    touch = {k.removeprefix("last_attributed_touch_data_tilde_"): v for k, v in line["touch"].items()}
    assert touch["campaign"] == "tilde_campaign"  # "~" wins over utm_campaign
    assert (touch["channel"], touch["feature"], touch["keyword"]) == ("newsletter", "paid", "boots")
    assert (touch["stage"], touch["tags"], touch["id"]) == ("new", ["a", "b"], "123")


@pytest.mark.parametrize("name", ["campaign", "~campaign"])
def test_branch_exported_events_with_link_data_are_touches_and_never_imported(name):
    [line] = run(message("branch_PURCHASE", NOW, user_id="u1",
                         properties={name: "holiday", "~channel": "tiktok", "revenue": 5}))  # fmt: skip
    assert (line["outcome"], line["reason"], line["row"]) == ("skipped", "not_imported_event", None)
    assert line["touch"]["last_attributed_touch_data_tilde_campaign"] == "holiday"
    assert line["touch"]["last_attributed_touch_data_tilde_channel"] == "tiktok"


@pytest.mark.parametrize("tilde", ["", "~"])
def test_branch_events_carry_every_link_key_that_has_a_column_campaign_id_included(tilde):
    """rules §9: every key with a last_attributed_touch_data_tilde_* column, with or without "~"."""
    values = {key: f"v-{key}" for key in LINK_KEYS if key != "tags"} | {"tags": ["t1", "t2"]}
    [line] = run(message("branch_OPEN", NOW, user_id="u1", properties={tilde + k: v for k, v in values.items()}))
    touch = line["touch"]
    assert {key: touch[LINK_COLUMN_PREFIX + key] for key in LINK_KEYS} == values
    only_campaign_id = run(message("branch_OPEN", NOW, user_id="u1", properties={tilde + "campaign_id": "c-42"}))
    assert only_campaign_id[0]["touch"][LINK_COLUMN_PREFIX + "campaign_id"] == "c-42"


def test_deep_link_urls_carry_every_tilde_link_key_campaign_id_included():
    values = {key: f"v-{key}" for key in LINK_KEYS if key != "tags"}
    url = "https://example.app.link/abc?" + "&".join(f"~{key}={value}" for key, value in values.items()) + "&~tags=t"
    [line] = run(message("Deep Link Opened", NOW, user_id="u1", properties={"url": url}))
    assert {key: line["touch"][LINK_COLUMN_PREFIX + key] for key in LINK_KEYS} == values | {"tags": ["t"]}


def test_a_branch_event_without_link_data_is_skipped_and_no_touch():
    [line] = run(message("branch_INSTALL", NOW, user_id="u1", properties={"revenue": 5}))
    assert (line["outcome"], line["reason"]) == ("skipped", "not_imported_event")
    assert "touch" not in line


@pytest.mark.parametrize("field", ["touch_type", "last_attributed_touch_type"])
def test_touch_type_is_impression_when_the_properties_say_so(field):
    [line] = run(message("Deep Link Opened", NOW, user_id="u1", properties={"url": "https://x.app.link/a",
                                                                               field: "Impression"}))  # fmt: skip
    assert line["touch"]["last_attributed_touch_type"] == "IMPRESSION"


def test_a_touch_with_no_identity_is_not_recorded():
    [line] = run(message("Deep Link Opened", NOW, anonymousId="anon-1", properties={"url": "https://x.app.link/a"}))
    assert (line["outcome"], line["reason"]) == ("skipped", "not_imported_event") and "touch" not in line


@pytest.mark.parametrize(("properties", "warning"), [
    ({"~campaign": "c", "tags": "not-a-list"}, "invalid_value:tags"),
    ({"~campaign": "x" * 10_000}, "invalid_value:~campaign"),
    ({"~campaign": "c", "~channel": {"nested": 1}}, "invalid_value:~channel"),
])  # fmt: skip
def test_link_data_of_the_wrong_shape_is_dropped_with_a_warning_on_the_touch(properties, warning):
    [line] = run(message("branch_OPEN", NOW, user_id="u1", properties=properties))
    assert warning in line["touch"]["warnings"]


@pytest.mark.parametrize(("event", "properties", "warning"), [
    ("Install Attributed", {"campaign": "not-an-object"}, "invalid_value:campaign"),
    ("Deep Link Opened", {"url": "http://[::1"}, "invalid_value:url"),
    ("Deep Link Opened", {"url": 42}, "invalid_value:url"),
])  # fmt: skip
def test_bad_campaign_objects_and_urls_leave_a_touch_without_that_data(event, properties, warning):
    [line] = run(message(event, NOW, user_id="u1", properties=properties))
    assert line["touch"]["warnings"] == [warning]
    assert line["touch"]["last_attributed_touch_data_tilde_campaign"] is None


def test_link_data_of_every_json_shape_never_raises():
    for value in (None, True, 1.5, [], {}, [1, [2]], "x" * 100_000, {"name": {"deep": [1]}}):
        for properties in ({"campaign": value}, {"url": value}, {"tags": value, "~id": value}):
            for event in ("Install Attributed", "Deep Link Opened", "branch_OPEN"):
                warnings: list[str] = []
                assert isinstance(link_data(event, properties, warnings), dict)


# --------------------------------------------------------------------------- the rule


def test_a_conversion_shares_a_key_with_an_earlier_touch_and_gets_its_columns():
    lines = run(click(NOW - timedelta(days=2, hours=5), context=ios(advertisingId=IDFA)),
                purchase(context=ios(advertisingId=IDFA)))  # fmt: skip
    row = lines[1]["row"]
    assert row["attributed"] is True and row["attribution_match"] == "advertising_id"
    assert row["last_attributed_touch_type"] == "CLICK"
    assert row["last_attributed_touch_timestamp"] == iso(NOW - timedelta(days=2, hours=5)).replace("Z", ".000000Z")
    assert (row["last_attributed_touch_data_tilde_campaign"], row["last_attributed_touch_data_tilde_channel"]) == (
        "spring", "facebook")  # fmt: skip
    assert row["days_from_last_attributed_touch_to_event"] == 2  # 2 days 4 hours: whole days, floor


def test_an_unattributed_conversion_has_attributed_false_and_the_rest_null():
    [line] = run(purchase(user_id="u1"))
    assert line["row"]["attributed"] is False
    assert all(line["row"][column] is None for column in ATTRIBUTION_COLUMNS if column != "attributed")


@pytest.mark.parametrize(("touch_age", "impression", "attributed"), [
    (timedelta(days=7), False, True),  # the click window's edge is inside
    (timedelta(days=7, microseconds=1), False, False),
    (timedelta(days=1), True, True),  # the impression window's edge is inside
    (timedelta(days=1, microseconds=1), True, False),
    (timedelta(0), False, True),  # a touch at the conversion's own time
    (-timedelta(microseconds=1), False, False),  # a touch after the conversion's time is not used
])  # fmt: skip
def test_window_edges_are_inclusive_and_a_later_touch_is_not_used(touch_age, impression, attributed):
    lines = run(click(CONVERSION_AT - touch_age, impression=impression, user_id="u1"), purchase(user_id="u1"))
    assert lines[1]["row"]["attributed"] is attributed


def _config(click_days: float, impression_days: float) -> ImportSettings:
    config = mapping_config_from(f"""
apps:
  - app_id: app
    branch_key: key_live_app
    branch_secret_hash: "{{hash}}"
    attribution: {{click_window_days: {click_days}, impression_window_days: {impression_days}}}
""")
    return ImportSettings(config, max_event_age=None)


@pytest.mark.parametrize(("click_days", "impression_days", "expected"), [
    (30, 1, [True, True]),  # a 20-day-old click within a 30-day window
    (0, 1, [False, True]),  # 0 turns clicks off
    (7, 0, [False, False]),  # the click is 20 days old; 0 turns impressions off
    (7, 0.001, [False, True]),  # 86.4 s: the impression 60 s before the purchase
])  # fmt: skip
def test_windows_are_per_app_and_zero_turns_a_type_off(click_days, impression_days, expected):
    settings = _config(click_days, impression_days)
    lines = run(
        click(CONVERSION_AT - timedelta(days=20), user_id="u1"),
        purchase(user_id="u1"),
        click(CONVERSION_AT - timedelta(seconds=60), impression=True, user_id="u2"),
        purchase(user_id="u2"),
        settings=settings,
    )
    assert [lines[1]["row"]["attributed"], lines[3]["row"]["attributed"]] == expected


@pytest.mark.parametrize("value", [-1, 0.0005, 91, 1000])
def test_a_window_outside_branchs_range_is_refused(value):
    with pytest.raises(ValueError, match="0.001 to 90"):
        _config(value, 1)


def test_a_deterministic_click_beats_a_later_probabilistic_click_and_a_later_deterministic_impression():
    context, fingerprint = web()
    lines = run(
        click(CONVERSION_AT - timedelta(hours=5), campaign="deterministic_click", user_id="u1"),
        click(
            CONVERSION_AT - timedelta(hours=2), campaign="probabilistic_click", context=context, properties=fingerprint
        ),  # fmt: skip
        click(CONVERSION_AT - timedelta(hours=1), campaign="deterministic_impression", impression=True, user_id="u1"),
        purchase(user_id="u1", context=context, properties=fingerprint),
    )
    assert campaign_of(lines[3]) == "deterministic_click"


def test_a_probabilistic_click_beats_a_later_deterministic_impression():
    context, fingerprint = web()
    lines = run(
        click(
            CONVERSION_AT - timedelta(hours=5), campaign="probabilistic_click", context=context, properties=fingerprint
        ),  # fmt: skip
        click(CONVERSION_AT - timedelta(hours=1), campaign="deterministic_impression", impression=True, user_id="u1"),
        purchase(user_id="u1", context=context, properties=fingerprint),
    )
    assert campaign_of(lines[2]) == "probabilistic_click"
    assert lines[2]["row"]["attribution_match"] == "browser_fingerprint"


def test_an_impression_sharing_only_the_fingerprint_never_attributes():
    context, fingerprint = web()
    lines = run(click(CONVERSION_AT - timedelta(hours=1), impression=True, context=context, properties=fingerprint),
                purchase(user_id="u1", context=context, properties=fingerprint))  # fmt: skip
    assert lines[1]["row"]["attributed"] is False


def test_within_a_class_the_latest_touch_wins():
    lines = run(click(CONVERSION_AT - timedelta(hours=3), campaign="older", user_id="u1"),
                click(CONVERSION_AT - timedelta(hours=1), campaign="latest", user_id="u1"),
                click(CONVERSION_AT - timedelta(hours=2), campaign="middle", user_id="u1"),
                purchase(user_id="u1"))  # fmt: skip
    assert campaign_of(lines[3]) == "latest"


def test_ties_in_time_are_broken_by_touch_id_whatever_the_arrival_order():
    a = click(CONVERSION_AT - timedelta(hours=1), campaign="a", user_id="u1")
    b = click(CONVERSION_AT - timedelta(hours=1), campaign="b", user_id="u1")
    assert campaign_of(run(a, b, purchase(user_id="u1"))[2]) == campaign_of(run(b, a, purchase(user_id="u1"))[2])


def test_the_match_is_the_strongest_shared_key():
    lines = run(click(NOW - timedelta(days=1), context=ios(advertisingId=IDFA, id=IDFV), user_id="u1"),
                purchase(context=ios(advertisingId=IDFA, id=IDFV)),
                purchase(context=ios(id=IDFV)),
                purchase(context=ios(advertisingId=IDFA, id=IDFV), user_id="u1"))  # fmt: skip
    assert [line["row"]["attribution_match"] for line in lines[1:]] == [
        "advertising_id", "device_id", "developer_identity"]  # fmt: skip


def test_a_touch_arriving_after_the_conversion_does_not_re_attribute_it():
    lines = run(purchase(user_id="u1"), click(CONVERSION_AT - timedelta(hours=2), user_id="u1"))
    assert lines[0]["row"]["attributed"] is False  # decided once, with the touches received before it


# --------------------------------------------------------------------------- persona: one hop


def test_cross_platform_a_web_click_reaches_an_app_purchase_through_a_shared_user_id():
    context, fingerprint = web()
    lines = run(
        click(NOW - timedelta(days=2), campaign="web_ad", context=context, properties=fingerprint),
        message("Login", NOW - timedelta(days=1), user_id="u1", context=context, properties=fingerprint),
        purchase(user_id="u1", context=ios(advertisingId=IDFA)),
    )
    assert campaign_of(lines[1]) == "web_ad" and lines[1]["row"]["attribution_match"] == "browser_fingerprint"
    assert campaign_of(lines[2]) == "web_ad"
    assert lines[2]["row"]["attribution_match"] == "developer_identity"  # the class follows the shared key


def test_a_linked_touch_is_not_passed_on_again():
    context, fingerprint = web()
    lines = run(
        click(NOW - timedelta(days=2), context=context, properties=fingerprint),
        message("Login", NOW - timedelta(days=1, hours=2), user_id="u1", context=context, properties=fingerprint),
        purchase(NOW - timedelta(days=1), user_id="u1", context=ios(advertisingId=IDFA)),  # claims it by u1
        purchase(context=ios(advertisingId=IDFA)),  # shares only the IDFA with that purchase
    )
    assert campaign_of(lines[2]) == "spring"
    assert lines[3]["row"]["attributed"] is False


def test_an_unattributed_event_links_nothing():
    context, fingerprint = web()
    lines = run(
        message("Login", NOW - timedelta(days=1), user_id="u1", context=context, properties=fingerprint),
        click(NOW - timedelta(hours=20), context=context, properties=fingerprint),
        purchase(user_id="u1"),
    )
    assert lines[0]["row"]["attributed"] is False and lines[2]["row"]["attributed"] is False


def test_no_leak_to_other_users():
    lines = run(click(NOW - timedelta(days=1), user_id="u1", context=ios(advertisingId=IDFA)),
                purchase(user_id="u2", context=ios(advertisingId="another-idfa")))  # fmt: skip
    assert lines[1]["row"]["attributed"] is False


def test_no_leak_to_other_apps():
    touch = click(NOW - timedelta(days=1), user_id="u1", context=web()[0], properties=web()[1])
    conversion = purchase(user_id="u1", context=web()[0], properties=web()[1])
    lines = run(touch, conversion, conversion | {"messageId": "m-web"},
                attributes=[None, {"branch_key": MAPPING_WEB_KEY}, None])  # fmt: skip
    assert lines[1]["row"]["app_id"] == "local-web-app" and lines[1]["row"]["attributed"] is False
    assert lines[2]["row"]["app_id"] == "local-app" and lines[2]["row"]["attributed"] is True


def test_zeroed_advertising_ids_and_anonymous_ids_never_link():
    zeroed = "00000000-0000-0000-0000-000000000000"
    lines = run(
        click(NOW - timedelta(days=1), anonymousId="anon-1", context=ios(advertisingId=zeroed, id=IDFV)),
        purchase(anonymousId="anon-1", context=ios(advertisingId=zeroed, id="other-device")),
        click(NOW - timedelta(days=1), anonymousId="anon-2", context=ios(advertisingId=zeroed)),  # no identity
    )
    assert lines[1]["row"]["attributed"] is False
    assert "touch" not in lines[2]


@pytest.mark.parametrize("placeholder", ["guest", "0", " NULL ", "[object Object]", "undefined"])
def test_placeholder_user_ids_never_merge_guests_into_one_user(placeholder):
    """rules §4: one guest's click never attributes another guest's purchase (nor keys any state)."""
    lines = run(
        click(NOW - timedelta(days=1), user_id=placeholder),
        purchase(user_id=placeholder, messageId="m-guest", context=ios(id="device-2")),
    )
    assert "touch" not in lines[0]  # the click had no other identity: not recorded
    assert lines[1]["outcome"] == "imported" and lines[1]["row"]["attributed"] is False
    assert lines[1]["row"]["user_data_developer_identity"] is None
    assert "placeholder_identity" in lines[1]["row"]["warnings"]


def test_a_placeholder_device_id_is_not_a_key_but_the_real_ids_still_attribute():
    lines = run(
        click(NOW - timedelta(days=1), context=ios(advertisingId=IDFA, id="unknown")),
        purchase(messageId="m-other", context=ios(id="unknown")),  # shares only the placeholder: rejected
        purchase(messageId="m-same", context=ios(advertisingId=IDFA, id="unknown")),
    )
    assert lines[0]["touch"] is not None
    assert (lines[1]["outcome"], lines[1]["reason"]) == ("rejected", "no_identifier")
    assert lines[2]["row"]["attributed"] is True and lines[2]["row"]["attribution_match"] == "advertising_id"


# --------------------------------------------------------------------------- the command line


def test_map_attribute_runs_the_lines_in_order():
    lines = [
        orjson.dumps(click(CONVERSION_AT - timedelta(hours=1), user_id="u1")),
        orjson.dumps(purchase(user_id="u1")),
    ]
    out = outputs(run_map(lines, "--attribute", "--now", iso(NOW)))
    assert out[0]["touch"]["last_attributed_touch_data_tilde_campaign"] == "spring"
    assert out[1]["row"]["attributed"] is True and "touch" not in out[1]
    # Without --attribute: no touch on the line, and rows are left unattributed.
    plain = outputs(run_map(lines, "--now", iso(NOW)))
    assert "touch" not in plain[0] and plain[1]["row"]["attributed"] is False


def test_what_a_conversion_teaches_is_its_best_direct_touch_even_when_a_linked_one_wins():
    # The purchase claims the later web click through a link (u1), but its own direct touch,
    # the app click by IDFA, is what it passes on under its other keys (here the IDFV).
    context, fingerprint = web()
    lines = run(
        click(NOW - timedelta(days=2), campaign="app_ad", context=ios(advertisingId=IDFA)),
        click(NOW - timedelta(hours=30), campaign="web_ad", context=context, properties=fingerprint),
        message("Login", NOW - timedelta(hours=29), user_id="u1", context=context, properties=fingerprint),
        purchase(NOW - timedelta(days=1), user_id="u1", context=ios(advertisingId=IDFA, id=IDFV)),
        purchase(context=ios(id=IDFV)),
    )
    assert campaign_of(lines[3]) == "web_ad"  # the linked click is the later deterministic click
    assert campaign_of(lines[4]) == "app_ad" and lines[4]["row"]["attribution_match"] == "device_id"


def test_every_touch_row_fits_the_touches_table():
    from domain.row_schema import validator_for
    from schemas.tables import TOUCHES

    settings = ImportSettings(load_config(), max_event_age=None)
    validator = validator_for(TOUCHES)
    docs = [
        click(NOW, user_id="u1", properties={"url": "https://x.app.link/?~tags=a&~tags=b&~id=9"}),
        message(
            "Install Attributed",
            NOW,
            context=ios(advertisingId=IDFA, id=IDFV),
            properties={"provider": "Branch", "campaign": {"name": "c", "term": 5}},
        ),  # fmt: skip
        message("branch_OPEN", NOW, context=web()[0], properties={**web()[1], "~channel": "x", "tags": "bad"}),
    ]
    for doc in docs:
        result, _ = map_message(orjson.dumps(doc), None, settings, NOW)
        assert result.touch is not None
        row = result.touch.row(NOW)
        assert validator.validate(row) is None, (validator.validate(row), row)
        assert sum(row[kind] is not None for kind in ("developer_identity", "advertising_id", "device_id",
                                                        "browser_fingerprint")) >= 1  # fmt: skip


def test_a_touch_read_back_from_its_row_is_the_same_touch():
    settings = ImportSettings(load_config(), max_event_age=None)
    doc = click(NOW, user_id="u1", context=ios(advertisingId=IDFA),
                properties={"url": "https://x.app.link/?~tags=a&~tags=b&~id=9&~campaign=c"})  # fmt: skip
    result, _ = map_message(orjson.dumps(doc), None, settings, NOW)
    assert result.touch is not None
    assert Touch.from_row(result.touch.row(NOW)) == result.touch


# --------------------------------------------------------------------------- bounded state (rules §11)


def _touch(n: int, *, hours_ago: float = 1, touch_type: str = "CLICK") -> Touch:
    return Touch(
        f"t-{n:03}", "app", touch_type, NOW - timedelta(hours=hours_ago), "test", (("developer_identity", "u"),), ()
    )


def test_a_key_holds_one_entry_per_touch_id():
    held = KeyTouches()
    assert held.add(_touch(1), max_per_type=64) == 0
    assert held.add(_touch(1), max_per_type=64) == 0  # the same touch again (the table and the stream)
    assert len(held) == 1


def test_a_key_keeps_the_latest_touches_of_each_type_within_its_cap_and_counts_the_cut():
    held = KeyTouches()
    cuts = sum(held.add(_touch(n, hours_ago=200 - n), max_per_type=64) for n in range(100))
    cuts += sum(held.add(_touch(500 + n, touch_type="IMPRESSION"), max_per_type=64) for n in range(3))
    assert cuts == 36 and len(held) == 64 + 3
    kept = sorted(t.id for t in held.touches() if t.type == "CLICK")
    assert kept == [f"t-{n:03}" for n in range(36, 100)]  # the 64 latest clicks; impressions apart
    assert held.add(_touch(999, hours_ago=500), max_per_type=64) == 1  # older than all: cut at once
    assert "t-999" not in {t.id for t in held.touches()}


def test_prune_drops_what_no_conversion_can_use_and_the_oldest_says_when_to_prune_next():
    held = KeyTouches([(_touch(1, hours_ago=50), None), (_touch(2, hours_ago=10), None)])
    assert held.oldest() == NOW - timedelta(hours=50)
    assert held.prune(NOW - timedelta(hours=24)) == 1
    assert [t.id for t in held.touches()] == ["t-002"] and held.oldest() == NOW - timedelta(hours=10)


@settings(max_examples=200, deadline=None)
@given(
    micros=st.integers(min_value=0, max_value=253402300799999999),
    tags=st.lists(st.text(max_size=5), max_size=3),
    campaign=st.one_of(st.none(), st.text(max_size=8)),
    provider=st.one_of(st.none(), st.text(max_size=5)),
    taught_by=st.one_of(st.none(), st.text(max_size=5)),
    warnings=st.lists(st.text(max_size=5), max_size=2),
)
def test_a_store_survives_its_stored_bytes_exactly(micros, tags, campaign, provider, taught_by, warnings):
    link = (("campaign", campaign),) if campaign is not None else ()
    touch = Touch("t-1", "app", "CLICK", moment_of(micros), "Branch Link Clicked",
                  (("developer_identity", "u"), ("idfa", "A-1")), (*link, ("tags", tuple(tags))),
                  "m-1", provider, tuple(warnings))  # fmt: skip
    held = KeyTouches([(touch, taught_by), (_touch(2), None)])
    back = KeyTouches.from_bytes(held.to_bytes())
    assert back.to_bytes() == held.to_bytes()
    assert back.touches() == held.touches() and len(back) == 2
    assert back.touches(not_taught_by=taught_by) == held.touches(not_taught_by=taught_by)
    assert KeyTouches.from_bytes(None).touches() == [] and KeyTouches.from_bytes(b"").touches() == []


def test_a_link_remembers_the_conversion_that_first_taught_it():
    links = KeyTouches()
    links.add(_touch(1), "conversion-a", max_per_type=64)
    links.add(_touch(1), "conversion-b", max_per_type=64)  # taught again: one entry, the first teacher
    assert len(links) == 1
    assert links.touches(not_taught_by="conversion-a") == []  # never claimed back by its teacher
    assert [t.id for t in links.touches(not_taught_by="conversion-b")] == ["t-001"]


def test_the_reference_state_is_bounded_as_the_pipeline_and_still_decides_by_the_latest_click():
    lines = run(*[click(NOW - timedelta(days=6, hours=-n), campaign=f"c{n}", user_id="hot") for n in range(100)],
                purchase(user_id="hot"))  # fmt: skip
    assert campaign_of(lines[-1]) == "c99"
    state = AttributionState()
    for n in range(100):
        state.add_touch(_touch(n, hours_ago=100 - n))
    assert state.cuts == 36

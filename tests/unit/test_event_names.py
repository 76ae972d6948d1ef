"""rules §3: Segment event name -> Branch name, category, topic."""

from __future__ import annotations

import pytest

from domain import event_names
from tests.support.mapping import (
    MAPPING_WEB_KEY,
    mapping_config_from,
    mapping_imported_row,
    mapping_settings_for,
    mapping_track_event,
)

TOPICS = {
    "COMMERCE": "eo_commerce_event",
    "CONTENT": "eo_content_event",
    "USER_LIFECYCLE": "eo_user_lifecycle_event",
    "CUSTOM": "eo_custom_event",
}

SEGMENT_TABLE = [
    ("Product Added", "ADD_TO_CART", "COMMERCE"),
    ("Product Added to Wishlist", "ADD_TO_WISHLIST", "COMMERCE"),
    ("Cart Viewed", "VIEW_CART", "COMMERCE"),
    ("Payment Info Entered", "ADD_PAYMENT_INFO", "COMMERCE"),
    ("Checkout Started", "INITIATE_PURCHASE", "COMMERCE"),
    ("Order Completed", "PURCHASE", "COMMERCE"),
    ("Products Searched", "SEARCH", "CONTENT"),
    ("Product Viewed", "VIEW_ITEM", "CONTENT"),
    ("Product List Viewed", "VIEW_ITEMS", "CONTENT"),
    ("Product Reviewed", "RATE", "CONTENT"),
    ("Product Shared", "SHARE", "CONTENT"),
]

STANDARD_EVENTS = [
    *[
        (n, "COMMERCE")
        for n in (
            "ADD_TO_CART",
            "ADD_TO_WISHLIST",
            "VIEW_CART",
            "INITIATE_PURCHASE",
            "ADD_PAYMENT_INFO",
            "PURCHASE",
            "SPEND_CREDITS",
            "RESERVE",
            "CLICK_AD",
            "VIEW_AD",
        )
    ],
    *[
        (n, "CONTENT")
        for n in ("SEARCH", "VIEW_ITEM", "VIEW_ITEMS", "RATE", "SHARE", "INITIATE_STREAM", "COMPLETE_STREAM")
    ],
    *[
        (n, "USER_LIFECYCLE")
        for n in (
            "COMPLETE_REGISTRATION",
            "COMPLETE_TUTORIAL",
            "ACHIEVE_LEVEL",
            "UNLOCK_ACHIEVEMENT",
            "INVITE",
            "LOGIN",
            "START_TRIAL",
            "SUBSCRIBE",
        )
    ],
]


def _display(api: str) -> str:
    return " ".join(w.capitalize() for w in api.split("_"))


def _casings(name: str) -> list[str]:
    return [name, name.lower(), name.upper(), f"  {name}  ", f"\t{name.swapcase()}\n"]


@pytest.mark.parametrize("segment,branch,category", SEGMENT_TABLE)
def test_segment_table_row_maps_to_branch_name_category_and_topic(segment, branch, category):
    for sent in _casings(segment):
        row = mapping_imported_row(mapping_track_event(sent))
        assert row["name"] == branch, sent
        assert row["category"] == category, sent
        assert row["topic"] == TOPICS[category], sent
        assert row["customer_event_alias"] == sent, "alias must be the original Segment name"


@pytest.mark.parametrize("api,category", STANDARD_EVENTS)
def test_branch_standard_event_api_form_is_that_standard_event(api, category):
    for sent in (api, api.lower(), f" {api} "):
        row = mapping_imported_row(mapping_track_event(sent))
        assert (row["name"], row["category"], row["topic"]) == (api, category, TOPICS[category]), sent
        assert row["customer_event_alias"] == sent


@pytest.mark.parametrize("api,category", STANDARD_EVENTS)
def test_branch_standard_event_display_form_is_that_standard_event(api, category):
    display = _display(api)
    for sent in (display, display.lower(), display.upper(), f"  {display}\t"):
        row = mapping_imported_row(mapping_track_event(sent))
        assert (row["name"], row["category"], row["topic"]) == (api, category, TOPICS[category]), sent
        assert row["customer_event_alias"] == sent


def test_standard_event_count_matches_spec():
    assert len(STANDARD_EVENTS) == 25
    assert dict(STANDARD_EVENTS) == event_names.STANDARD_EVENTS


@pytest.mark.parametrize(
    "sent,expected",
    [
        ("Registered", "Registered"),
        ("  Registered  ", "Registered"),
        ("video played", "video played"),
        ("Plan Upgraded 🚀", "Plan Upgraded 🚀"),
        ("AddToCart", "AddToCart"),  # not the API or display form
        ("Add-To-Cart", "Add-To-Cart"),
        ("Product Added Twice", "Product Added Twice"),
        ("Signed Up", "Signed Up"),  # override is per app: not in the table itself
    ],
)
def test_custom_event_keeps_trimmed_name_and_is_custom(sent, expected):
    name, category = event_names.resolve_event(sent)
    assert (name, category) == (expected, "CUSTOM")


def test_custom_event_row_keeps_trimmed_name_alias_and_custom_topic():
    row = mapping_imported_row(mapping_track_event("  Video Played  "))
    assert row["name"] == "Video Played"
    assert row["category"] == "CUSTOM"
    assert row["topic"] == "eo_custom_event"
    assert row["customer_event_alias"] == "  Video Played  "


def test_custom_event_name_case_is_preserved():
    row = mapping_imported_row(mapping_track_event("viDEO PlayED"))
    assert row["name"] == "viDEO PlayED"


@pytest.mark.parametrize("sent", ["Signed Up", "signed up", "  SIGNED UP "])
def test_default_config_override_signed_up_is_complete_registration(sent):
    row = mapping_imported_row(mapping_track_event(sent))
    assert row["name"] == "COMPLETE_REGISTRATION"
    assert row["category"] == "USER_LIFECYCLE"
    assert row["topic"] == "eo_user_lifecycle_event"
    assert row["customer_event_alias"] == sent


def test_override_is_per_app_other_app_keeps_custom_name():
    event = mapping_track_event(
        "Signed Up",
        properties={"browser_fingerprint_id": "fp"},
        context={"userAgent": "Mozilla/5.0 (X11; Linux x86_64)"},
    )
    row = mapping_imported_row(event, attributes={"branch_key": MAPPING_WEB_KEY})
    assert (row["name"], row["category"]) == ("Signed Up", "CUSTOM")


_OVERRIDE_CONFIG = """
apps:
  - app_id: app-a
    branch_key: key_a
    branch_secret_hash: "{hash}"
    event_map:
      Order Completed: Big Purchase
      Checkout Started: {name: SPEND_CREDITS}
      Spend Credits: {name: Credits Used, category: CONTENT}
      Level Up: Achieve Level
"""


@pytest.mark.parametrize(
    "sent,name,category",
    [
        ("Order Completed", "Big Purchase", "CUSTOM"),  # override wins over the Segment table
        ("checkout started", "SPEND_CREDITS", "COMMERCE"),  # category derived from the standard name
        ("SPEND CREDITS", "Credits Used", "CONTENT"),  # override wins over a standard display name
        ("Level Up", "ACHIEVE_LEVEL", "USER_LIFECYCLE"),  # override given in display form
    ],
)
def test_app_event_map_override_wins_over_everything(sent, name, category):
    settings = mapping_settings_for(mapping_config_from(_OVERRIDE_CONFIG))
    row = mapping_imported_row(mapping_track_event(sent), settings=settings)
    assert (row["name"], row["category"], row["topic"]) == (name, category, TOPICS[category])
    assert row["customer_event_alias"] == sent


@pytest.mark.parametrize(
    "name",
    [
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
    ],
)
def test_is_not_imported_matches_every_listed_name_case_insensitively(name):
    for sent in (name, name.lower(), name.upper(), f"  {name} "):
        assert event_names.is_not_imported(sent, event_names.resolve_event(sent)[0]), sent


@pytest.mark.parametrize("name", ["Order Completed", "Registered", "Clicked", "Opened", "Installs", "Page View"])
def test_is_not_imported_false_for_importable_names(name):
    assert not event_names.is_not_imported(name, event_names.resolve_event(name)[0])


@pytest.mark.parametrize("api,display", [(a, _display(a)) for a, _ in STANDARD_EVENTS])
def test_standard_event_helper_accepts_both_forms(api, display):
    assert event_names.standard_event(api) == (api, event_names.STANDARD_EVENTS[api])
    assert event_names.standard_event(display) == (api, event_names.STANDARD_EVENTS[api])
    assert event_names.standard_event(display.lower()) == (api, event_names.STANDARD_EVENTS[api])

"""The mapping's fast paths give exactly what the general code they shortcut gives."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import event_names
from domain.decoder import decode
from domain.identifiers import _locale, _parse_locale, is_zeroed
from domain.mapping import event_id, integrations_disabled
from domain.values import to_numeric
from tests.support.mapping import mapping_config_from, mapping_settings_for


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
    integrations = {
        k: v for k, v in (("Branch Metrics", branch_metrics), ("Branch", branch), ("All", everything)) if v != "absent"
    }
    values = [integrations.get("Branch Metrics"), integrations.get("Branch")]
    expected = any(v is False for v in values) or (
        integrations.get("All") is False and all(v is None or v is False for v in values)
    )
    assert integrations_disabled(integrations) is expected


def test_zero_prices_are_numeric_zero():
    assert to_numeric(0.0) == to_numeric(-0.0) == to_numeric(0) == "0"
    assert to_numeric(-0.0, allow_negative=False) == "0"


@pytest.mark.parametrize(
    "segment_name",
    [
        "Order Completed",
        " order completed ",
        "Signed Up",
        "COMPLETE_TUTORIAL",
        "Complete Tutorial",
        "Product Added",
        "Deep Link Clicked",
        "Click",
        "Trip Booked",
        "  Custom   Thing ",
        "Straße",
    ],
)
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


@given(value=st.floats(allow_nan=False, allow_infinity=False), digits=st.integers(15, 19), negative=st.booleans())
def test_a_number_decodes_the_same_whether_or_not_the_document_takes_the_exact_path(value, digits, negative):
    # Another property's 20-digit string sends the whole document to the exact decoder: the
    # number must still come out as the fast path gives it.
    literal = f"{abs(value):.{digits}g}"
    literal = ("-" if negative else "") + (literal if "." in literal or "e" in literal else literal + ".0")
    plain = decode(f'{{"price": {literal}}}'.encode())
    exact = decode(f'{{"price": {literal}, "id": "12345678901234567890"}}'.encode())
    assert type(exact["price"]) is type(plain["price"])
    assert repr(exact["price"]) == repr(plain["price"])


@given(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=100),
)
def test_event_id_is_blake2b_128_of_the_app_and_message_id(app_id, message_id):
    for _ in range(2):  # the app's hash state is made, then reused
        assert (
            event_id(app_id, message_id)
            == hashlib.blake2b(f"{app_id}\x1f{message_id}".encode(), digest_size=16).hexdigest()
        )

"""The seeded Segment event generator: determinism, mix, shapes and corpus sizes."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tools.samples import (
    CORPUS_BAD_KINDS,
    EXPECTED_OUTCOMES,
    ZERO_AD_ID,
    SampleMessage,
    generate_corpus,
    generate_sample,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ECOMMERCE_EVENTS = (
    "Product Added",
    "Product Added to Wishlist",
    "Cart Viewed",
    "Payment Info Entered",
    "Checkout Started",
    "Order Completed",
    "Products Searched",
    "Product Viewed",
    "Product List Viewed",
    "Product Reviewed",
    "Product Shared",
)
# Kinds whose data is a JSON object carrying a (possibly doomed) track event.
TRACK_KINDS = (
    "valid",
    "duplicate",
    "not_imported",
    "integration_disabled",
    "no_identifier",
    "unknown_app",
    "stale_event",
    "future_event",
)


@pytest.fixture(scope="module")
def sample() -> list[SampleMessage]:
    return generate_sample(1200, seed=42, now=NOW)


def _parsed(messages: list[SampleMessage], *kinds: str) -> list[dict]:
    return [orjson.loads(m.data) for m in messages if m.kind in kinds]


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_same_seed_and_now_give_identical_messages(sample):
    assert generate_sample(1200, seed=42, now=NOW) == sample


def test_different_seed_gives_different_messages(sample):
    other = generate_sample(1200, seed=43, now=NOW)
    assert [m.data for m in other] != [m.data for m in sample]


def test_count_is_respected():
    for count in (0, 1, 7, 99, 100, 1201):
        assert len(generate_sample(count, seed=1, now=NOW)) == count


def test_every_kind_is_present_in_a_1200_event_sample(sample):
    assert set(Counter(m.kind for m in sample)) == set(EXPECTED_OUTCOMES)


def test_mix_is_roughly_as_specified(sample):
    kinds = Counter(m.kind for m in sample)
    share = {kind: n / len(sample) for kind, n in kinds.items()}
    assert 0.62 <= share["valid"] <= 0.75
    assert 0.06 <= share["duplicate"] <= 0.10
    assert 1 <= kinds["future_event"] <= 2
    bad = sum(kinds[k] for k in CORPUS_BAD_KINDS) + kinds["unknown_app"]
    assert 0.04 <= bad / len(sample) <= 0.08


def test_duplicates_repeat_an_earlier_valid_message_byte_for_byte(sample):
    seen_valid: dict[bytes, dict[str, str]] = {}
    duplicates = 0
    for message in sample:
        if message.kind == "duplicate":
            duplicates += 1
            assert message.data in seen_valid
            assert message.attributes == seen_valid[message.data]
        elif message.kind == "valid":
            seen_valid[message.data] = message.attributes
    assert duplicates > 0


def test_message_ids_are_unique_apart_from_duplicates(sample):
    ids = [
        e["messageId"]
        for e in _parsed(
            sample,
            "valid",
            "not_imported",
            "integration_disabled",
            "no_identifier",
            "identify",
            "page",
            "screen",
            "group",
            "alias",
        )
    ]
    assert len(ids) == len(set(ids))


def test_every_message_is_a_single_line(sample):
    corpus = list(generate_corpus(2000, seed=3, now=NOW))
    assert all(b"\n" not in m.data and b"\r" not in m.data for m in sample)
    assert all(b"\n" not in data for data in corpus)


def test_valid_events_are_track_events_with_name_and_message_id(sample):
    events = _parsed(sample, "valid")
    assert events
    for event in events:
        assert event["type"] == "track"
        assert isinstance(event["event"], str) and event["event"].strip()
        assert isinstance(event["messageId"], str) and 0 < len(event["messageId"]) <= 100


def test_valid_events_can_be_tied_to_a_user(sample):
    for event in _parsed(sample, "valid"):
        device = event["context"].get("device", {})
        assert (
            event.get("userId")
            or device.get("id")
            or device.get("advertisingId") not in (None, ZERO_AD_ID)
            or event["properties"].get("browser_fingerprint_id")
        )


def test_no_identifier_events_have_no_identifier(sample):
    events = _parsed(sample, "no_identifier")
    assert events
    for event in events:
        device = event["context"].get("device", {})
        assert "userId" not in event and "id" not in device
        assert device.get("advertisingId") in (None, ZERO_AD_ID)
        assert "browser_fingerprint_id" not in event["properties"]


def test_fresh_events_fall_in_the_two_hours_before_now(sample):
    for event in _parsed(sample, "valid", "not_imported", "integration_disabled", "no_identifier"):
        moment = _parse_iso(event.get("timestamp") or event["receivedAt"])
        assert NOW - timedelta(hours=2, minutes=5) <= moment <= NOW


def test_stale_and_future_events_are_out_of_bounds(sample):
    stale = _parsed(sample, "stale_event")
    future = _parsed(sample, "future_event")
    assert stale and future
    assert all(NOW - _parse_iso(e["timestamp"]) > timedelta(days=2) for e in stale)
    assert all(_parse_iso(e["timestamp"]) - NOW >= timedelta(hours=1) for e in future)


def test_call_types_other_than_track_are_present(sample):
    types = {e["type"] for e in _parsed(sample, "identify", "page", "screen", "group", "alias")}
    assert types == {"identify", "page", "screen", "group", "alias"}


def test_integration_disabled_events_opt_out_of_branch(sample):
    for event in _parsed(sample, "integration_disabled"):
        integrations = event["integrations"]
        assert (
            integrations.get("Branch Metrics") is False
            or integrations.get("Branch") is False
            or integrations.get("All") is False
        )


def test_bad_records_fail_the_way_their_kind_says(sample):
    by_kind: dict[str, list[bytes]] = {}
    for message in sample:
        by_kind.setdefault(message.kind, []).append(message.data)
    for data in by_kind["malformed_json"]:
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(data)
    for data in by_kind["invalid_utf8"]:
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    assert all(isinstance(orjson.loads(d), list) for d in by_kind["json_array"])
    assert all(isinstance(orjson.loads(d), str) for d in by_kind["json_string"])
    assert all("messageId" not in orjson.loads(d) for d in by_kind["missing_message_id"])
    assert all(len(orjson.loads(d)["messageId"]) == 101 for d in by_kind["invalid_message_id"])
    assert all(not orjson.loads(d).get("event") for d in by_kind["missing_event_name"])
    for data in by_kind["invalid_timestamp"]:
        with pytest.raises(ValueError):
            _parse_iso(orjson.loads(data)["timestamp"])


def test_unknown_app_and_multi_app_attributes():
    messages = generate_sample(1200, seed=5, now=NOW, apps=("key_a", "key_b"), unknown_app_key="key_nope")
    unknown = [m for m in messages if m.kind == "unknown_app"]
    assert unknown and all(m.attributes == {"branch_key": "key_nope"} for m in unknown)
    routed = Counter(m.attributes.get("branch_key") for m in messages if m.kind == "valid")
    assert routed["key_a"] > 0 and routed["key_b"] > 0 and routed[None] > routed["key_a"]
    single_app = generate_sample(1200, seed=5, now=NOW)
    assert all(not m.attributes for m in single_app if m.kind == "valid")


def test_event_names_cover_segment_ecommerce_branch_and_custom(sample):
    names = {e["event"].strip() for e in _parsed(sample, "valid")}
    assert set(ECOMMERCE_EVENTS) <= names
    assert {"SPEND_CREDITS", "LOGIN"} <= names
    assert {"Complete Tutorial", "Unlock Achievement"} & names
    assert {"Song Played", "Level Started"} & names


def test_platforms_mimic_segment_libraries(sample):
    events = _parsed(sample, "valid")
    libraries = {e["context"]["library"]["name"] for e in events}
    assert libraries & {"analytics-ios", "analytics-swift"}
    assert libraries & {"analytics-android", "analytics-kotlin"}
    assert "analytics.js" in libraries
    assert libraries & {
        "@segment/analytics-node",
        "analytics-python",
        "analytics-java",
        "analytics-ruby",
        "analytics-go",
    }
    assert any(e["context"].get("device", {}).get("advertisingId") == ZERO_AD_ID for e in events)
    assert any("page" in e["context"] and "browser_fingerprint_id" in e["properties"] for e in events)


def test_orders_carry_segment_v2_ecommerce_properties():
    events = _parsed(generate_sample(3000, seed=9, now=NOW), "valid")
    orders = [e["properties"] for e in events if e["event"] == "Order Completed"]
    assert orders
    for order in orders:
        assert {"order_id", "products", "shipping", "tax"} <= set(order)
        assert 1 <= len(order["products"]) <= 5
        assert {"product_id", "sku", "name", "price", "quantity", "position"} <= set(order["products"][0])
    currencies = {p.get("currency") for p in orders}
    assert None in currencies and "USD" in currencies
    reviews = [e["properties"] for e in events if e["event"] == "Product Reviewed"]
    assert reviews and all(isinstance(r["rating"], str) for r in reviews)


def test_corpus_is_deterministic_and_lazy():
    first = list(generate_corpus(500, seed=11, now=NOW))
    assert first == list(generate_corpus(500, seed=11, now=NOW))
    assert first != list(generate_corpus(500, seed=12, now=NOW))
    # A generator: taking a few records of a huge corpus must not build it all.
    assert len(list(itertools.islice(generate_corpus(10**9, seed=11, now=NOW), 3))) == 3


def test_corpus_average_size_is_about_one_kilobyte():
    sizes = [len(data) for data in generate_corpus(2000, seed=21, now=NOW)]
    assert len(sizes) == 2000
    assert 800 <= sum(sizes) / len(sizes) <= 1300
    assert min(sizes) < 500 and max(sizes) > 2000  # a real mix, not one size


def test_corpus_is_mostly_valid_track_events():
    records = list(generate_corpus(2000, seed=21, now=NOW))
    tracks = 0
    for data in records:
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("type") == "track" and event.get("event") and event.get("messageId"):
            tracks += 1
    assert 0.95 <= tracks / len(records) < 1.0


def test_cli_writes_one_line_per_message_and_a_summary(tmp_path):
    out = tmp_path / "sample.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.samples",
            "--count",
            "300",
            "--seed",
            "4",
            "--now",
            NOW.isoformat(),
            "--out",
            str(out),
        ],
        capture_output=True,
        check=True,
    )
    lines = out.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 301
    assert lines[:-1] == [m.data for m in generate_sample(300, seed=4, now=NOW)]
    assert b"valid=" in result.stderr and b"duplicate=" in result.stderr

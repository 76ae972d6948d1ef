"""End to end: a known mix published to the Pub/Sub emulator, imported by the streaming job
on the DirectRunner, checked in the BigQuery emulator."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from tests.support.stack import query_rows, rows_by
from tools.local_run import ALL_TIME, import_until_accounted, publish
from tools.samples import SampleMessage

NOW = datetime.now(UTC)
WHEN = (NOW - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
IOS = {
    "device": {"type": "ios", "advertisingId": "AAAA-IDFA", "id": "IDFV-1", "adTrackingEnabled": True},
    "os": {"name": "iOS", "version": "17.2"},
    "locale": "en-US",
}
ANDROID = {
    "device": {"type": "android", "advertisingId": "GAID-1", "id": "ANDROID-1"},
    "os": {"name": "Android", "version": "14"},
}
WEB = {"userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Chrome/120", "page": {"path": "/"}}


def track(message_id: str, event: str, context: dict | None = None, **fields) -> bytes:
    doc = {
        "type": "track",
        "event": event,
        "messageId": message_id,
        "timestamp": WHEN,
        "anonymousId": f"anon-{message_id}",
        "context": context or {},
        **fields,
    }
    return orjson.dumps(doc)


def msg(data: bytes, kind: str, **attributes: str) -> SampleMessage:
    return SampleMessage(data, attributes, kind)


ORDER = track(
    "m-order",
    "Order Completed",
    IOS,
    userId="u1",
    properties={
        "order_id": "o-1",
        "revenue": "25.50",
        "currency": "eur",
        "coupon": "WINTER",
        "products": [
            {"product_id": "p-1", "sku": "SKU-1", "name": "Scarf", "price": 12.75, "quantity": 2, "color": "red"}
        ],
    },
)
VALID = {
    "m-order": ORDER,
    "m-search": track("m-search", "Products Searched", ANDROID, properties={"query": "boots"}),
    "m-register": track(
        "m-register", "COMPLETE_REGISTRATION", WEB, properties={"browser_fingerprint_id": "fp-1", "method": "email"}
    ),
    "m-custom": track("m-custom", "Song Played", None, userId="server-user", properties={"song": "Blue", "n": 3}),
    "m-view": track("m-view", "Product Viewed", ANDROID, properties={"product_id": "p-9", "price": "9.99"}),
}
REJECTED = {
    "malformed_json": msg(b'{"type": "track", "event": "Order Completed"', "malformed"),
    "not_an_object": msg(b'["track"]', "array"),
    "unknown_app": msg(track("m-unknown-app", "Login", IOS), "unknown", branch_key="key_live_nobody"),
    "no_identifier": msg(track("m-anon", "Login", None), "anonymous only"),
}
INVALID_UTF8 = msg(b'{"type":"track","event":"\xff\xfe","messageId":"m-bad-utf8"}', "invalid utf8")
SKIPPED = [
    msg(orjson.dumps({"type": "identify", "messageId": "m-identify", "userId": "u1"}), "identify"),
    msg(track("m-opened", "Application Opened", IOS, userId="u1"), "not imported"),
    msg(track("m-optout", "Login", IOS, userId="u1", integrations={"Branch Metrics": False}), "opt-out"),
    msg(track("m-web-only", "Login", IOS, userId="u1"), "platform off", branch_key="key_live_local_web"),
]


@pytest.fixture(scope="module")
def imported(request, local_stack, tmp_path_factory):
    """Publish the mix once (with re-publishes), run the job until accounted, stop it."""
    from adapters.bigquery import make_client
    from adapters.provision import provision_tables
    from tools.localstack import provision_pubsub

    project, dataset, topic, subscription = "local-project", "e2e_streaming", "e2e-topic", "e2e-sub"
    client = make_client(project)
    client.delete_dataset(f"{project}.{dataset}", delete_contents=True, not_found_ok=True)
    provision_tables(client, dataset)
    provision_pubsub(project, topic, subscription)
    messages = [msg(data, "valid") for data in VALID.values()] + list(REJECTED.values()) + [INVALID_UTF8] + SKIPPED
    # Segment retries: the same bytes twice more for the order, once more for the search.
    messages += [msg(ORDER, "duplicate"), msg(ORDER, "duplicate"), msg(VALID["m-search"], "duplicate")]
    publish(project, topic, messages, progress=False)
    accounting = import_until_accounted(project, dataset, subscription, len(messages), timeout=180)
    return client, dataset, messages, accounting


def test_accounting_identity_holds_from_the_tables(imported):
    _, _, messages, accounting = imported
    assert accounting.consistent(len(messages)), accounting
    assert (accounting.imported, accounting.duplicate, accounting.skipped, accounting.rejected) == (5, 3, 4, 5)


def test_each_unique_event_is_imported_exactly_once_with_its_columns(imported):
    client, dataset, _, _ = imported
    rows = query_rows(client, f"SELECT * FROM `{client.project}.{dataset}.events` WHERE {ALL_TIME}")
    by_message = rows_by(rows, "segment_message_id")
    assert {k: len(v) for k, v in by_message.items()} == dict.fromkeys(VALID, 1)

    order = by_message["m-order"][0]
    assert (order["name"], order["category"], order["topic"], order["origin"]) == (
        "PURCHASE",
        "COMMERCE",
        "eo_commerce_event",
        "SEGMENT",
    )
    assert (order["user_data_os"], order["user_data_platform"], order["user_data_idfa"], order["user_data_idfv"]) == (
        "IOS",
        "IOS_APP",
        "AAAA-IDFA",
        "IDFV-1",
    )
    assert order["user_data_developer_identity"] == "u1"
    assert order["segment_anonymous_id"] == "anon-m-order"
    assert order["event_data_revenue"] == Decimal("25.50") and order["event_data_currency"] == "EUR"
    assert order["event_data_transaction_id"] == "o-1" and order["event_data_coupon"] == "WINTER"
    [item] = order["content_items"]
    assert (item["canonical_identifier"], item["sku"], item["product_name"], item["quantity"]) == (
        "p-1",
        "SKU-1",
        "Scarf",
        2.0,
    )
    assert item["price"] == Decimal("12.75")
    assert order["timestamp"] == datetime.fromisoformat(WHEN)

    search = by_message["m-search"][0]
    assert (search["name"], search["topic"], search["user_data_aaid"], search["user_data_android_id"]) == (
        "SEARCH",
        "eo_content_event",
        "GAID-1",
        "ANDROID-1",
    )
    assert search["event_data_search_query"] == "boots"
    register = by_message["m-register"][0]
    assert (register["name"], register["category"], register["user_data_os"]) == (
        "COMPLETE_REGISTRATION",
        "USER_LIFECYCLE",
        "WEB",
    )
    assert register["user_data_browser_fingerprint_id"] == "fp-1"
    custom = by_message["m-custom"][0]
    assert (custom["name"], custom["topic"], custom["user_data_os"]) == ("Song Played", "eo_custom_event", None)
    custom_data = custom["custom_data"]
    assert (orjson.loads(custom_data) if isinstance(custom_data, str) else custom_data) == {"song": "Blue", "n": "3"}


def test_rejected_messages_keep_their_exact_raw_payload_reason_and_attributes(imported):
    client, dataset, _, _ = imported
    rows = query_rows(client, f"SELECT * FROM `{client.project}.{dataset}.rejected_events`")
    by_reason = rows_by(rows, "reason")
    assert sorted((r, len(v)) for r, v in by_reason.items()) == [
        ("malformed_json", 2),
        ("no_identifier", 1),
        ("not_an_object", 1),
        ("unknown_app", 1),
    ]
    for reason, message in REJECTED.items():
        [row] = [r for r in by_reason[reason] if r["payload_bytes"] == message.data]
        assert row["payload_string"] == message.data.decode()
        assert {a["key"]: a["value"] for a in row["attributes"]} == message.attributes
        assert row["payload_size"] == len(message.data) and not row["payload_truncated"]
        assert row["publish_time"] is not None and row["stage"]
    [bad_utf8] = [r for r in by_reason["malformed_json"] if r["payload_bytes"] == INVALID_UTF8.data]
    assert bad_utf8["payload_string"] is None
    assert base64.b64encode(bad_utf8["payload_bytes"]) == base64.b64encode(INVALID_UTF8.data)
    assert by_reason["unknown_app"][0]["segment_message_id"] == "m-unknown-app"


def test_skips_and_duplicates_are_counted_per_reason(imported):
    client, dataset, _, _ = imported
    rows = query_rows(
        client,
        f"""SELECT outcome, reason, SUM(count) AS n FROM `{client.project}.{dataset}.import_stats`
                             WHERE outcome IN ('skipped', 'duplicate') GROUP BY outcome, reason""",
    )
    assert {(r["outcome"], r["reason"]): r["n"] for r in rows} == {
        ("duplicate", None): 3,
        ("skipped", "unsupported_call_type"): 1,
        ("skipped", "not_imported_event"): 1,
        ("skipped", "integration_disabled"): 1,
        ("skipped", "platform_not_enabled"): 1,
    }

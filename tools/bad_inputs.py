"""A generated, deterministic corpus of bad (and borderline) Segment messages.

Each item is ``BadInput(label, data, attributes, outcome, reason, ...)``; the expected outcome
and reason are derived from rules §2 and the README's reason table and "Decisions",
not from running the mapping code (a disagreement is a finding, see tests/unit/test_bad_input.py).

    from tools.bad_inputs import bad_input_corpus
    for item in bad_input_corpus(now):   # same `now` -> byte-identical corpus
        ...

Every message has a distinct payload (and, where it has one, a distinct messageId), so each
one can be found again in ``events`` (by messageId) or ``rejected_events`` (by SHA-256).
``now`` only sets the valid event time (one minute before it) and the stale/future examples.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

IMPORTED, SKIPPED, REJECTED = "imported", "skipped", "rejected"

#: The size of the "10 MB" payload (Pub/Sub's limit is 10 MB for the whole publish request).
TEN_MB = 10 * 1000 * 1000 - 1000
#: What pstest (the local Pub/Sub emulator) accepts: Go gRPC's default 4 MiB receive limit
#: applies to the whole Publish request, so ~4 MiB of data is the largest local message.
PSTEST_MAX_DATA = 4 * 1024 * 1024 - 1024
#: What the streaming job on the DirectRunner can pull: Beam pulls up to 10 messages per
#: request with a Python gRPC client whose receive limit is also 4 MiB, and a pull response
#: over it raises ResourceExhausted in the reader (the job stops making progress). With the
#: 1 MiB + 1 item possibly in the same pull, ~2.5 MB keeps every pull under 4 MiB.
LOCAL_PULL_SAFE_DATA = 2_500_000
DEFAULT_MAX_PAYLOAD_BYTES = 1 << 20  # README: `--max_payload_bytes` default 1 MiB

WEB_KEY = "key_live_local_web"  # local-web-app (WEB only)


@dataclasses.dataclass(frozen=True)
class BadInput:
    label: str
    data: bytes
    attributes: Mapping[str, str]
    outcome: str
    reason: str | None
    #: Warnings an imported row must carry (a subset check).
    warnings: tuple[str, ...] = ()
    #: Column values an imported row must have.
    columns: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: True for payloads the local Pub/Sub emulator cannot carry (over ~4 MiB).
    too_big_for_pstest: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def message_id(self) -> str | None:
        """The messageId of a JSON-object payload (None when there is none)."""
        try:
            doc = json.loads(self.data.decode("utf-8"), parse_float=Decimal)
        except (ValueError, RecursionError):
            return None
        value = doc.get("messageId") if type(doc) is dict else None
        return value if type(value) is str else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _Builder:
    def __init__(self, now: datetime) -> None:
        self.when = _iso(now - timedelta(minutes=1))
        self.now = now
        self.items: list[BadInput] = []

    def event(self, label: str, **fields: Any) -> dict[str, Any]:
        """A valid, identifiable track event for ``label`` (fields override; None removes)."""
        doc: dict[str, Any] = {
            "type": "track",
            "event": "Order Completed",
            "messageId": f"bad-{label}",
            "timestamp": self.when,
            "userId": f"user-{label}",
        }
        doc.update(fields)
        return {k: v for k, v in doc.items() if v is not _DROP}

    def add(
        self,
        label: str,
        data: bytes | dict,
        outcome: str,
        reason: str | None = None,
        *,
        attributes: Mapping[str, str] | None = None,
        warnings: tuple[str, ...] = (),
        columns: Mapping[str, Any] | None = None,
    ) -> None:
        raw = data if isinstance(data, bytes) else orjson.dumps(data)
        self.items.append(
            BadInput(
                label,
                raw,
                dict(attributes or {}),
                outcome,
                reason,
                warnings,
                dict(columns or {}),
                len(raw) > PSTEST_MAX_DATA,
            )
        )

    def raw(self, label: str, fields_json: bytes) -> bytes:
        """A track event whose last field is raw JSON text ``fields_json`` (e.g. bare NaN)."""
        head = orjson.dumps(self.event(label))[:-1]
        return head + b"," + fields_json + b"}"


_DROP = object()


def bad_input_corpus(now: datetime, *, ten_mb: int = TEN_MB) -> list[BadInput]:
    """The whole corpus for ``now`` (deterministic: same ``now`` -> same bytes)."""
    b = _Builder(now)
    _decode(b, ten_mb)
    _validate(b)
    _wrong_types(b)
    _names(b)
    _currencies(b)
    _timestamps(b)
    labels = [i.label for i in b.items]
    assert len(labels) == len(set(labels)), "labels must be unique"
    assert len({i.data for i in b.items}) == len(b.items), "payloads must be unique"
    return b.items


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _decode(b: _Builder, ten_mb: int) -> None:
    good = orjson.dumps(b.event("utf8"))
    # Size first: over the limit, whatever the content.
    pad = b.event("ten_mb")
    pad_json = orjson.dumps(pad)
    b.add(
        "ten_mb",
        pad_json[:-1] + b',"pad":"' + b"x" * (ten_mb - len(pad_json) - 9) + b'"}',
        REJECTED,
        "payload_too_large",
    )
    near = orjson.dumps(b.event("limit_plus_one"))
    b.add(
        "limit_plus_one",
        near[:-1] + b',"pad":"' + b"y" * (DEFAULT_MAX_PAYLOAD_BYTES + 1 - len(near) - 9) + b'"}',
        REJECTED,
        "payload_too_large",
    )
    # Decode: not UTF-8, not JSON.
    b.add(
        "invalid_utf8_byte", good.replace(b'"Order Completed"', b'"Order \xff Completed"'), REJECTED, "malformed_json"
    )
    b.add(
        "overlong_utf8",
        orjson.dumps(b.event("overlong")).replace(b'"Order Completed"', b'"\xc0\xaf"'),
        REJECTED,
        "malformed_json",
    )
    b.add(
        "utf8_encoded_surrogate",
        orjson.dumps(b.event("surr8")).replace(b'"Order Completed"', b'"\xed\xa0\x80"'),
        REJECTED,
        "malformed_json",
    )
    b.add(
        "latin1_text",
        orjson.dumps(b.event("latin1")).replace(b'"Order Completed"', '"Caf\u00e9"'.encode("latin-1")),
        REJECTED,
        "malformed_json",
    )
    full = orjson.dumps(b.event("truncated"))
    b.add("truncated_json", full[: len(full) // 2], REJECTED, "malformed_json")
    b.add("truncated_one_byte", full[:-1], REJECTED, "malformed_json")
    b.add("trailing_garbage", orjson.dumps(b.event("garbage")) + b"x", REJECTED, "malformed_json")
    b.add("two_documents", orjson.dumps(b.event("two")) + b"\n{}", REJECTED, "malformed_json")
    b.add("single_quotes", orjson.dumps(b.event("single")).replace(b'"', b"'"), REJECTED, "malformed_json")
    b.add("empty_data", b"", REJECTED, "malformed_json")
    b.add("whitespace_only", b" \n\t ", REJECTED, "malformed_json")
    b.add("bom_prefix", b"\xef\xbb\xbf" + orjson.dumps(b.event("bom")), REJECTED, "malformed_json")
    b.add("bare_nan", b.raw("bare_nan", b'"properties":{"revenue":NaN}'), REJECTED, "malformed_json")
    b.add("bare_infinity", b.raw("bare_inf", b'"properties":{"revenue":Infinity}'), REJECTED, "malformed_json")
    b.add("bare_minus_infinity", b.raw("bare_minf", b'"properties":{"revenue":-Infinity}'), REJECTED, "malformed_json")
    b.add(
        "lone_surrogate_escape", b.raw("lone_surrogate", b'"properties":{"note":"\\ud800"}'), REJECTED, "malformed_json"
    )
    # Beyond any double and beyond Decimal's exponent range (found by atheris): not a number
    # the importer can represent -> malformed_json (it must never crash the pipeline).
    b.add(
        "exponent_beyond_decimal",
        b.raw("exp_huge", b'"properties":{"revenue":1e1000000000000000000}'),
        REJECTED,
        "malformed_json",
    )
    b.add(
        "nested_2000", b.raw("nested_2000", b'"properties":{"deep":' + _nested(2000) + b"}"), REJECTED, "malformed_json"
    )
    # JSON, but not an object.
    b.add("json_array", b"[" + orjson.dumps(b.event("array")) + b"]", REJECTED, "not_an_object")
    b.add("json_string", b'"track"', REJECTED, "not_an_object")
    b.add("json_number", b"42", REJECTED, "not_an_object")
    b.add("json_null", b"null", REJECTED, "not_an_object")
    b.add("json_true", b"true", REJECTED, "not_an_object")
    # Valid: a proper surrogate pair and deep-but-decodable nesting stay importable.
    b.add(
        "surrogate_pair_escape",
        b.raw("pair", b'"properties":{"note":"\\ud83d\\ude00"}'),
        IMPORTED,
        columns={"custom_data": '{"note":"\U0001f600"}'},
    )
    b.add("nested_200", b.raw("nested_200", b'"properties":{"deep":' + _nested(200) + b"}"), IMPORTED)
    # Deeper than orjson encodes (255) but within the exact decoder: imported (README: a
    # property too deep to encode is dropped with a warning; the event is not rejected).
    b.add("nested_900", b.raw("nested_900", b'"properties":{"deep":' + _nested(900) + b"}"), IMPORTED)


def _validate(b: _Builder) -> None:
    b.add(
        "message_id_missing",
        b.event("mid_missing", messageId=_DROP, anonymousId="mid-missing"),
        REJECTED,
        "missing_message_id",
    )
    b.add(
        "message_id_null", b.event("mid_null", messageId=None, anonymousId="mid-null"), REJECTED, "missing_message_id"
    )
    b.add("message_id_101_chars", b.event("mid_101", messageId="m" * 101), REJECTED, "invalid_message_id")
    b.add(
        "message_id_100_chars",
        b.event("mid_100", messageId="bad-" + "m" * 96),
        IMPORTED,
        columns={"segment_message_id": "bad-" + "m" * 96},
    )
    b.add("message_id_101_emoji", b.event("mid_emoji", messageId="\U0001f600" * 101), REJECTED, "invalid_message_id")
    b.add("message_id_number", b.event("mid_number", messageId=12345), REJECTED, "invalid_message_id")
    b.add("message_id_object", b.event("mid_object", messageId={"id": "x"}), REJECTED, "invalid_message_id")
    b.add("message_id_array", b.event("mid_array", messageId=["bad-mid-array"]), REJECTED, "invalid_message_id")
    b.add("message_id_bool", b.event("mid_bool", messageId=True), REJECTED, "invalid_message_id")
    # README: missing_message_id = absent, null or empty.
    b.add(
        "message_id_empty", b.event("mid_empty", messageId="", anonymousId="mid-empty"), REJECTED, "missing_message_id"
    )
    b.add("type_array", b.event("type_array", type=["track"]), SKIPPED, "unsupported_call_type")
    b.add("type_number", b.event("type_number", type=1), SKIPPED, "unsupported_call_type")
    b.add("type_missing", b.event("type_missing", type=_DROP), SKIPPED, "unsupported_call_type")
    b.add("type_identify", b.event("type_identify", type="identify"), SKIPPED, "unsupported_call_type")
    b.add(
        "unknown_branch_key",
        b.event("unknown_key"),
        REJECTED,
        "unknown_app",
        attributes={"branch_key": "key_live_nobody"},
    )
    b.add("empty_branch_key", b.event("empty_key"), REJECTED, "unknown_app", attributes={"branch_key": ""})
    b.add("no_identifier", b.event("no_ident", userId=_DROP, anonymousId="anon-only"), REJECTED, "no_identifier")
    b.add("user_id_object", b.event("uid_object", userId={"id": "u1"}), REJECTED, "no_identifier")
    b.add("user_id_blank", b.event("uid_blank", userId="   "), REJECTED, "no_identifier")
    b.add(
        "integrations_opt_out",
        b.event("optout", integrations={"Branch Metrics": False}),
        SKIPPED,
        "integration_disabled",
    )
    b.add(
        "web_only_app_ios_event",
        b.event("web_only", context={"device": {"type": "ios", "id": "IDFV"}}),
        SKIPPED,
        "platform_not_enabled",
        attributes={"branch_key": WEB_KEY},
    )
    b.add(
        "not_imported_name_padded", b.event("app_opened", event="  application OPENED "), SKIPPED, "not_imported_event"
    )


def _wrong_types(b: _Builder) -> None:
    e = b.event
    # Numbers as strings are accepted where a number is expected (rules §5).
    b.add(
        "numbers_as_strings",
        e(
            "num_str",
            properties={
                "revenue": "25.50",
                "currency": "eur",
                "shipping": "1.5",
                "tax": "0.25",
                "products": [{"product_id": "p1", "price": "12.75", "quantity": "2", "rating": "4.5"}],
            },
        ),
        IMPORTED,
        columns={"event_data_revenue": "25.50", "event_data_currency": "EUR", "event_data_shipping": "1.5"},
    )
    b.add(
        "strings_as_numbers",
        e("str_num", userId=12345, properties={"order_id": 987, "coupon": 5}),
        IMPORTED,
        columns={"user_data_developer_identity": "12345", "event_data_transaction_id": "987", "event_data_coupon": "5"},
    )
    # Arrays / strings / numbers where objects go: dropped, the event still imports.
    b.add("context_array", e("ctx_array", context=["ios"]), IMPORTED)
    b.add("context_string", e("ctx_string", context="ios"), IMPORTED)
    b.add("device_array", e("device_array", context={"device": ["ios"], "os": "iOS"}), IMPORTED)
    b.add("properties_array", e("props_array", properties=[1, 2]), IMPORTED, warnings=("invalid_value:properties",))
    b.add(
        "properties_string", e("props_string", properties="revenue=1"), IMPORTED, warnings=("invalid_value:properties",)
    )
    b.add("integrations_array", e("integr_array", integrations=["Branch"]), IMPORTED)
    b.add(
        "products_object",
        e("products_obj", properties={"products": {"product_id": "p1"}}),
        IMPORTED,
        warnings=("invalid_value:products",),
    )
    b.add(
        "product_item_string",
        e("product_str", properties={"products": ["p1"]}),
        IMPORTED,
        warnings=("invalid_value:products[0]",),
    )
    # Objects where strings go.
    b.add(
        "objects_where_strings_go",
        e(
            "obj_str",
            properties={
                "order_id": {"id": 1},
                "coupon": ["A"],
                "products": [{"product_id": {"x": 1}, "name": [1], "price": {"v": 1}}],
            },
        ),
        IMPORTED,
        warnings=(
            "invalid_value:order_id",
            "invalid_value:coupon",
            "invalid_value:products[0].product_id",
            "invalid_value:products[0].name",
            "invalid_value:products[0].price",
        ),
    )
    b.add(
        "query_object",
        e("query_obj", event="Products Searched", properties={"query": {"q": "boots", "n": 2}}),
        IMPORTED,
        columns={"event_data_search_query": '{"q":"boots","n":2}'},
    )
    # NaN / Infinity as strings: not numbers, dropped with a warning.
    b.add(
        "nan_as_string",
        e("nan_str", properties={"revenue": "NaN", "currency": "USD"}),
        IMPORTED,
        warnings=("invalid_value:revenue",),
        columns={"event_data_revenue": None},
    )
    b.add(
        "infinity_as_string",
        e(
            "inf_str",
            properties={"revenue": "Infinity", "tax": "-Infinity", "products": [{"price": "inf", "quantity": "nan"}]},
        ),
        IMPORTED,
        warnings=(
            "invalid_value:revenue",
            "invalid_value:tax",
            "invalid_value:products[0].price",
            "invalid_value:products[0].quantity",
        ),
    )
    # Huge numbers: beyond-double and beyond-NUMERIC values are dropped with a warning;
    # the largest NUMERIC integer is kept exactly.
    b.add(
        "huge_numbers",
        b.raw(
            "huge",
            b'"properties":{"revenue":1e400,"shipping":123456789012345678901234567890,'
            b'"tax":-1e999,"products":[{"price":1e30,"quantity":1e400}]}',
        ),
        IMPORTED,
        warnings=(
            "invalid_value:revenue",
            "invalid_value:shipping",
            "invalid_value:tax",
            "invalid_value:products[0].price",
            "invalid_value:products[0].quantity",
        ),
    )
    b.add(
        "max_numeric_exact",
        b.raw("max_numeric", b'"properties":{"revenue":99999999999999999999999999999.999999999,"currency":"USD"}'),
        IMPORTED,
        columns={"event_data_revenue": "99999999999999999999999999999.999999999"},
    )
    b.add(
        "big_int_beyond_int64",
        b.raw(
            "big_int",
            b'"properties":{"revenue":18446744073709551617,"currency":"USD","n":123456789012345678901234567890}',
        ),
        IMPORTED,
        columns={"event_data_revenue": "18446744073709551617"},
    )
    b.add(
        "huge_screen",
        b.raw("huge_screen", b'"context":{"screen":{"width":1180591620717411303424,"height":-1,"density":1e300}}'),
        IMPORTED,
        columns={"user_data_screen_width": None},
    )
    # Negative quantities: a quantity cannot be negative -> dropped with a warning.
    b.add(
        "negative_quantity",
        e(
            "neg_qty",
            properties={"products": [{"product_id": "p1", "quantity": -2}, {"product_id": "p2", "quantity": "-1"}]},
        ),
        IMPORTED,
        warnings=("invalid_value:products[0].quantity", "invalid_value:products[1].quantity"),
    )
    b.add(
        "booleans_as_numbers",
        e("bools", properties={"revenue": True, "products": [{"price": False}]}),
        IMPORTED,
        warnings=("invalid_value:revenue", "invalid_value:products[0].price"),
    )


def _names(b: _Builder) -> None:
    e = b.event
    b.add("event_name_missing", e("name_missing", event=_DROP), REJECTED, "missing_event_name")
    b.add("event_name_empty", e("name_empty", event=""), REJECTED, "missing_event_name")
    b.add("event_name_whitespace", e("name_ws", event=" \t\n "), REJECTED, "missing_event_name")
    b.add("event_name_number", e("name_number", event=42), REJECTED, "missing_event_name")
    b.add("event_name_object", e("name_object", event={"name": "Order Completed"}), REJECTED, "missing_event_name")
    b.add("event_name_array", e("name_array", event=["Order Completed"]), REJECTED, "missing_event_name")
    b.add("event_name_null", e("name_null", event=None), REJECTED, "missing_event_name")
    b.add(
        "event_name_padded_controls",
        e("name_ctrl_pad", event="\t Order Completed \n"),
        IMPORTED,
        columns={"name": "PURCHASE", "customer_event_alias": "\t Order Completed \n"},
    )
    b.add(
        "event_name_inner_controls",
        e("name_ctrl", event="Order\u0001Completed\u007f\u0000"),
        IMPORTED,
        columns={"name": "Order\u0001Completed\u007f\u0000", "category": "CUSTOM"},
    )
    b.add(
        "event_name_emoji",
        e("name_emoji", event="\U0001f6d2 Cart \U0001f468\u200d\U0001f469\u200d\U0001f467"),
        IMPORTED,
        columns={"name": "\U0001f6d2 Cart \U0001f468\u200d\U0001f469\u200d\U0001f467", "category": "CUSTOM"},
    )
    b.add(
        "event_name_rtl_and_zero_width",
        e("name_rtl", event="\u202eOrder Completed\u200b"),
        IMPORTED,
        columns={"category": "CUSTOM"},
    )
    b.add("event_name_10k", e("name_10k", event="N" * 10_000), IMPORTED, columns={"name": "N" * 10_000})


def _currencies(b: _Builder) -> None:
    e = b.event
    for label, currency in (
        ("currency_word", "US Dollar"),
        ("currency_lower_unknown", "xyz"),
        ("currency_number", 840),
        ("currency_empty", ""),
        ("currency_object", {"code": "USD"}),
        ("currency_symbol", "$"),
        ("currency_emoji", "\U0001f4b6"),
    ):
        b.add(
            label,
            e(label, properties={"revenue": 10, "currency": currency}),
            IMPORTED,
            warnings=("invalid_currency",),
            columns={"event_data_currency": None, "event_data_revenue": "10"},
        )
    b.add(
        "currency_lowercase_valid",
        e("cur_lower", properties={"revenue": 10, "currency": " usd "}),
        IMPORTED,
        columns={"event_data_currency": "USD"},
    )
    b.add(
        "currency_missing_defaulted",
        e("cur_missing", properties={"revenue": 10}),
        IMPORTED,
        warnings=("currency_defaulted",),
        columns={"event_data_currency": "USD"},
    )


def _timestamps(b: _Builder) -> None:
    e = b.event
    broken = {
        "ts_empty": "",
        "ts_words": "yesterday",
        "ts_month_13": "2026-13-01T00:00:00Z",
        "ts_feb_30": "2026-02-30T00:00:00Z",
        "ts_hour_25": "2026-11-28T25:00:00Z",
        "ts_leap_second": "2026-06-30T23:59:60Z",
        "ts_offset_25h": "2026-11-28T12:00:00+25:00",
        "ts_trailing_space": b.when + " ",
        "ts_rfc2822": "Sat, 28 Nov 2026 11:59:00 GMT",
        "ts_epoch_string": "1764331140",
        "ts_year_zero": "0000-01-01T00:00:00Z",
        "ts_overflow_low": "0001-01-01T00:00:00+01:00",
        "ts_overflow_high": "9999-12-31T23:59:59-01:00",
        "ts_fullwidth_digits": "\uff12\uff10\uff12\uff16-11-28T11:59:00Z",
        "ts_slashes": "2026/11/28 11:59:00",
    }
    for label, value in broken.items():
        b.add(label, e(label, timestamp=value), REJECTED, "invalid_timestamp")
    for label, value in (
        ("ts_epoch_number", 1764331140),
        ("ts_epoch_ms", 1764331140000),
        ("ts_object", {"$date": b.when}),
        ("ts_array", [b.when]),
        ("ts_bool", True),
        ("ts_float", 1.5),
    ):
        b.add(label, e(label, timestamp=value), REJECTED, "invalid_timestamp")
    b.add("ts_stale", e("ts_stale", timestamp="1970-01-01T00:00:00Z"), REJECTED, "stale_event")
    b.add("ts_future", e("ts_future", timestamp="2999-01-01T00:00:00Z"), REJECTED, "future_event")
    # Fallbacks: broken fields that decide the event time reject; a broken receivedAt that
    # does not decide it only warns (README "Decisions").
    b.add(
        "ts_received_at_broken_only",
        e("ts_recv_only", timestamp=_DROP, receivedAt="nope"),
        REJECTED,
        "invalid_timestamp",
    )
    b.add(
        "ts_sent_at_broken",
        e("ts_sent", timestamp=_DROP, receivedAt=b.when, sentAt="nope", originalTimestamp=b.when),
        REJECTED,
        "invalid_timestamp",
    )
    b.add(
        "ts_original_broken",
        e("ts_orig", timestamp=_DROP, receivedAt=b.when, sentAt=b.when, originalTimestamp=7),
        REJECTED,
        "invalid_timestamp",
    )
    b.add(
        "ts_received_at_broken_with_timestamp",
        e("ts_recv_warn", receivedAt="nope"),
        IMPORTED,
        warnings=("invalid_value:receivedAt",),
    )
    b.add("ts_null_falls_back", e("ts_null", timestamp=None), IMPORTED)

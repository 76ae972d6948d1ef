"""rules §5: properties -> event_data_*, content_items, custom_data."""

from __future__ import annotations

import json

import pytest

from domain.mapping import MAPPED_VALIDATOR
from domain.properties import map_properties
from tests.support.mapping import mapping_imported_row, mapping_track_event


def row_for(event: str, properties, **fields):
    row = mapping_imported_row(mapping_track_event(event, properties=properties, **fields))
    assert MAPPED_VALIDATOR.validate(row) is None
    return row


def custom(row):
    return json.loads(row["custom_data"]) if row["custom_data"] is not None else {}


def mapped(properties, category="COMMERCE", single=False):
    warnings: list[str] = []
    return map_properties(properties, category, single, warnings), warnings


# --------------------------------------------------------------------------- event_data


def test_order_completed_event_data_columns():
    row = row_for(
        "Order Completed",
        {
            "order_id": "50314b8e9bcf000000000000",
            "affiliation": "Google Store",
            "total": 27.50,
            "revenue": 25.00,
            "shipping": 3,
            "tax": "2.00",
            "discount": 2.5,
            "coupon": "hasbros",
            "currency": "usd",
            "description": "first order",
        },
    )
    assert row["event_data_transaction_id"] == "50314b8e9bcf000000000000"
    assert row["event_data_revenue"] == "25.0"
    assert row["event_data_currency"] == "USD"
    assert row["event_data_shipping"] == "3"
    assert row["event_data_tax"] == "2.00"
    assert row["event_data_coupon"] == "hasbros"
    assert row["event_data_affiliation"] == "Google Store"
    assert row["event_data_description"] == "first order"
    data = custom(row)
    assert data == {"total": "27.5", "discount": "2.5"}
    assert "currency_defaulted" not in row["warnings"]


def test_numeric_order_id_is_text():
    assert row_for("Order Completed", {"order_id": 1234})["event_data_transaction_id"] == "1234"


def test_total_is_revenue_when_revenue_absent():
    row = row_for("Order Completed", {"total": "99.90", "currency": "EUR"})
    assert row["event_data_revenue"] == "99.90"
    assert "total" not in custom(row)


def test_revenue_wins_over_total():
    row = row_for("Order Completed", {"total": 30, "revenue": 20, "currency": "EUR"})
    assert row["event_data_revenue"] == "20"


@pytest.mark.parametrize("sent,expected", [("usd", "USD"), ("Eur", "EUR"), (" gbp ", "GBP"), ("JPY", "JPY")])
def test_currency_upper_cased(sent, expected):
    row = row_for("Order Completed", {"revenue": 1, "currency": sent})
    assert row["event_data_currency"] == expected
    assert "invalid_currency" not in row["warnings"]


@pytest.mark.parametrize("sent", ["US Dollars", "XYZ", "$", "", "us", 840, True, {"code": "USD"}, ["USD"]])
def test_invalid_currency_is_dropped_with_warning(sent):
    row = row_for("Order Completed", {"revenue": 1, "currency": sent})
    assert row["event_data_currency"] is None
    assert "invalid_currency" in row["warnings"]
    assert "currency" not in custom(row)


@pytest.mark.parametrize("event", ["Order Completed", "Product Added", "Checkout Started", "SPEND_CREDITS"])
def test_missing_currency_on_commerce_event_with_revenue_defaults_to_usd(event):
    row = row_for(event, {"revenue": "10"})
    assert row["category"] == "COMMERCE"
    assert row["event_data_currency"] == "USD"
    assert "currency_defaulted" in row["warnings"]


@pytest.mark.parametrize("event", ["Products Searched", "Video Played", "Complete Registration"])
def test_missing_currency_on_non_commerce_event_is_not_defaulted(event):
    row = row_for(event, {"revenue": "10"})
    assert row["event_data_currency"] is None
    assert "currency_defaulted" not in row["warnings"]


def test_missing_currency_on_commerce_event_without_revenue_is_not_defaulted():
    row = row_for("Order Completed", {"order_id": "o-1"})
    assert row["event_data_currency"] is None
    assert "currency_defaulted" not in row["warnings"]


def test_total_counts_as_revenue_for_currency_default():
    row = row_for("Order Completed", {"total": 5})
    assert row["event_data_currency"] == "USD" and "currency_defaulted" in row["warnings"]


@pytest.mark.parametrize(
    "query,expected",
    [
        ("blue hotel", "blue hotel"),
        ({"city": "Paris", "stars": 4}, '{"city":"Paris","stars":4}'),
        (["a", "b"], '["a","b"]'),
    ],
)
def test_query_is_search_query_and_objects_are_compact_json(query, expected):
    row = row_for("Products Searched", {"query": query})
    assert row["event_data_search_query"] == expected
    assert "query" not in custom(row)


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    "sent,expected",
    [
        ("12.50", "12.50"),
        (12.5, "12.5"),
        (12, "12"),
        (" 7 ", "7"),
        ("-3.25", "-3.25"),
        (0, "0"),
        ("1e3", "1000"),
        (0.1, "0.1"),
        ("0.123456789", "0.123456789"),
    ],
)
def test_numeric_strings_accepted_for_money(sent, expected):
    row = row_for("Order Completed", {"revenue": sent, "currency": "USD"})
    assert row["event_data_revenue"] == expected
    assert not [w for w in row["warnings"] if w.startswith("invalid_value")]


@pytest.mark.parametrize(
    "sent",
    [
        "twelve",
        "12,50",
        "",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        "sNaN",
        True,
        [],
        {"amount": 1},
        "1e400",
        1e300,
    ],
)
def test_non_numbers_dropped_with_warning_for_money(sent):
    row = row_for("Order Completed", {"revenue": sent, "tax": sent, "shipping": sent, "currency": "USD"})
    assert row["event_data_revenue"] is None
    assert row["event_data_tax"] is None
    assert row["event_data_shipping"] is None
    for key in ("revenue", "tax", "shipping"):
        assert f"invalid_value:{key}" in row["warnings"]


def test_money_rounded_to_numeric_scale():
    row = row_for("Order Completed", {"revenue": "1.1234567895", "currency": "USD"})
    assert row["event_data_revenue"] == "1.123456790"  # 9 places, half even


@pytest.mark.parametrize(
    "sent",
    [
        "12345678901234567890.1234567891",  # 30 significant digits, 10 after the point
        "1234567890123456789012345678.123",
        "0.12345678901234567890123456789012",
    ],
)
def test_long_decimal_money_never_raises(sent):
    # BigQuery NUMERIC takes 29+9 digits; a longer fraction must be rounded or dropped, not crash.
    row = row_for("Order Completed", {"revenue": sent, "currency": "USD"})
    assert row["event_data_revenue"] is None or MAPPED_VALIDATOR.validate(row) is None


def test_json_integer_revenue_beyond_64_bits_is_exact():
    # A 23-digit integer fits NUMERIC exactly; it must not go through a float.
    import orjson

    data = orjson.dumps(mapping_track_event("Order Completed", properties={"revenue": "X", "currency": "USD"}))
    data = data.replace(b'"X"', b"12345678901234567890123")
    row = mapping_imported_row(data)
    assert row["event_data_revenue"] == "12345678901234567890123"


# --------------------------------------------------------------------------- content items

FULL_PRODUCT = {
    "product_id": "507f1f77bcf86cd799439011",
    "sku": "45790-32",
    "name": "Monopoly: 3rd Edition",
    "brand": "Hasbro",
    "category": "Games",
    "variant": "classic",
    "price": 19.99,
    "quantity": 2,
    "url": "https://www.example.com/product/path",
    "image_url": "https://www.example.com/product/path.jpg",
    "rating": "4.5",
    "coupon": "MAYDEALS",
    "position": 3,
}


def test_products_become_content_items_with_every_field():
    row = row_for(
        "Order Completed", {"products": [FULL_PRODUCT, {"product_id": "p2", "price": "5"}], "currency": "USD"}
    )
    first, second = row["content_items"]
    assert first["content_schema"] == "COMMERCE_PRODUCT"
    assert first["canonical_identifier"] == "507f1f77bcf86cd799439011"
    assert first["sku"] == "45790-32"
    assert first["product_name"] == "Monopoly: 3rd Edition"
    assert first["product_brand"] == "Hasbro"
    assert first["product_category"] == "Games"
    assert first["product_variant"] == "classic"
    assert first["price"] == "19.99"
    assert first["quantity"] == 2
    assert first["canonical_url"] == "https://www.example.com/product/path"
    assert first["og_image_url"] == "https://www.example.com/product/path.jpg"
    assert first["rating"] == 4.5 and type(first["rating"]) is float
    assert json.loads(first["custom_fields"]) == {"coupon": "MAYDEALS", "position": "3"}
    assert second["canonical_identifier"] == "p2" and second["price"] == "5"
    assert "products" not in custom(row)


def test_sku_falls_back_to_product_id():
    item = row_for("Order Completed", {"products": [{"product_id": "p-9"}]})["content_items"][0]
    assert item["sku"] == "p-9"


def test_numeric_product_id_is_text():
    item = row_for("Order Completed", {"products": [{"product_id": 123}]})["content_items"][0]
    assert item["canonical_identifier"] == "123" and item["sku"] == "123"


@pytest.mark.parametrize("rating,expected", [("4.5", 4.5), ("3", 3.0), (5, 5.0), (" 2.5 ", 2.5)])
def test_rating_string_becomes_number(rating, expected):
    item = row_for("Product Reviewed", {"product_id": "p", "rating": rating})["content_items"][0]
    assert item["rating"] == expected


@pytest.mark.parametrize("quantity", [-1, "-2", -0.5])
def test_negative_quantity_dropped_with_warning(quantity):
    row = row_for("Order Completed", {"products": [{"product_id": "p", "quantity": quantity}]})
    assert row["content_items"][0]["quantity"] is None
    assert "invalid_value:products[0].quantity" in row["warnings"]


@pytest.mark.parametrize("field", ["price", "quantity", "rating"])
@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "abc", True, {"x": 1}, [1]])
def test_non_numeric_item_numbers_dropped_with_warning(field, value):
    row = row_for("Order Completed", {"products": [{"product_id": "p", field: value}]})
    assert row["content_items"][0][field] is None
    assert f"invalid_value:products[0].{field}" in row["warnings"]


def test_numeric_strings_accepted_for_item_numbers():
    item = row_for("Order Completed", {"products": [{"product_id": "p", "price": "12.50", "quantity": "3"}]})[
        "content_items"
    ][0]
    assert item["price"] == "12.50" and item["quantity"] == 3.0


@pytest.mark.parametrize("products", ["p1,p2", {"product_id": "p"}, 5])
def test_products_not_a_list_dropped_with_warning(products):
    row = row_for("Order Completed", {"products": products})
    assert row["content_items"] == []
    assert "invalid_value:products" in row["warnings"]


def test_non_object_product_entries_skipped_with_warning():
    row = row_for("Order Completed", {"products": ["p1", {"product_id": "p2"}, None]})
    assert [i["canonical_identifier"] for i in row["content_items"]] == ["p2"]
    assert "invalid_value:products[0]" in row["warnings"]
    assert "invalid_value:products[2]" in row["warnings"]


@pytest.mark.parametrize(
    "event",
    [
        "Product Added",
        "Product Added to Wishlist",
        "Product Viewed",
        "Product Shared",
        "Product Reviewed",
        "product viewed",
        "  PRODUCT ADDED  ",
    ],
)
def test_single_product_events_flat_properties_make_one_item(event):
    row = row_for(
        event,
        {
            "product_id": "p-1",
            "sku": "S1",
            "name": "Shoe",
            "brand": "Acme",
            "category": "Shoes",
            "variant": "red",
            "price": "49.99",
            "quantity": 1,
            "url": "https://x/p-1",
            "image_url": "https://x/p-1.png",
            "rating": "5",
            "cart_id": "c-9",
        },
    )
    [item] = row["content_items"]
    assert item == {
        "content_schema": "COMMERCE_PRODUCT",
        "canonical_identifier": "p-1",
        "sku": "S1",
        "product_name": "Shoe",
        "product_brand": "Acme",
        "product_category": "Shoes",
        "product_variant": "red",
        "price": "49.99",
        "quantity": 1.0,
        "canonical_url": "https://x/p-1",
        "og_image_url": "https://x/p-1.png",
        "rating": 5.0,
        "custom_fields": None,
    }
    assert custom(row) == {"cart_id": "c-9"}


@pytest.mark.parametrize("event", ["Order Completed", "Product List Viewed", "Cart Viewed", "Video Played"])
def test_multi_product_events_do_not_turn_flat_properties_into_an_item(event):
    row = row_for(event, {"product_id": "p-1", "price": 3})
    assert row["content_items"] == []
    assert custom(row) == {"product_id": "p-1", "price": "3"}


def test_single_product_event_without_product_properties_has_no_item():
    assert row_for("Product Viewed", {"color": "red"})["content_items"] == []


# --------------------------------------------------------------------------- custom_data


def test_custom_data_is_string_to_string_with_json_encoded_non_strings():
    row = row_for(
        "Video Played",
        {
            "title": "Intro",
            "seconds": 42,
            "ratio": 0.5,
            "live": True,
            "tags": ["a", "b"],
            "meta": {"k": 1},
            "nothing": None,
            "emoji": "🎬",
        },
    )
    data = custom(row)
    assert data == {
        "title": "Intro",
        "seconds": "42",
        "ratio": "0.5",
        "live": "true",
        "tags": '["a","b"]',
        "meta": '{"k":1}',
        "nothing": "null",
        "emoji": "🎬",
    }
    assert all(type(v) is str for v in data.values())


def test_custom_data_null_without_leftover_properties():
    assert row_for("Order Completed", {"order_id": "o"})["custom_data"] is None
    assert row_for("Order Completed", {})["custom_data"] is None


def test_consumed_properties_are_not_in_custom_data():
    row = row_for(
        "Order Completed",
        {
            "order_id": "o",
            "revenue": 1,
            "currency": "USD",
            "shipping": 1,
            "tax": 1,
            "coupon": "c",
            "affiliation": "a",
            "description": "d",
            "query": "q",
            "products": [],
            "browser_fingerprint_id": "fp",
        },
    )
    assert row["custom_data"] is None


def test_invalid_mapped_values_are_dropped_with_warning_not_kept_in_custom_data():
    row = row_for("Order Completed", {"order_id": {"id": 1}, "coupon": ["c"], "revenue": "abc", "currency": "USD"})
    assert row["event_data_transaction_id"] is None and row["event_data_coupon"] is None
    assert {"invalid_value:order_id", "invalid_value:coupon", "invalid_value:revenue"} <= set(row["warnings"])


@pytest.mark.parametrize("properties", [[], "props", 5, True])
def test_non_object_properties_warn_and_import(properties):
    row = row_for("Order Completed", properties)
    assert "invalid_value:properties" in row["warnings"]
    assert row["custom_data"] is None and row["content_items"] == []


def test_map_properties_direct_call():
    columns, warnings = mapped({"revenue": "10", "extra": 1})
    assert columns["event_data_revenue"] == "10"
    assert columns["event_data_currency"] == "USD"
    assert warnings == ["currency_defaulted"]
    assert json.loads(columns["custom_data"]) == {"extra": "1"}

"""Segment properties -> Branch event data, content items and custom data (SPEC section 5).

Follows Branch's own Segment SDK kits. Mapped properties are consumed; every other property
lands in ``custom_data`` as string -> string. A mapped value of the wrong shape is dropped
with a warning ``invalid_value:<path>``; nothing here raises on any JSON value.
"""
from __future__ import annotations

from typing import Any

from transforms.currencies import ISO_4217
from transforms.event_names import COMMERCE
from transforms.values import to_float, to_json_text, to_numeric, to_text

# Properties that are event data: Segment name -> (column, kind).
_EVENT_DATA = {
    "order_id": ("event_data_transaction_id", "text"),
    "shipping": ("event_data_shipping", "money"),
    "tax": ("event_data_tax", "money"),
    "coupon": ("event_data_coupon", "text"),
    "affiliation": ("event_data_affiliation", "text"),
    "description": ("event_data_description", "text"),
}
# Consumed by identifiers.user_data, never custom data.
_IDENTITY_PROPERTIES = frozenset({"browser_fingerprint_id"})

# Product keys -> content item field; everything else goes to the item's custom_fields.
_ITEM_TEXT = {
    "product_id": "canonical_identifier",
    "name": "product_name",
    "brand": "product_brand",
    "category": "product_category",
    "variant": "product_variant",
    "url": "canonical_url",
    "image_url": "og_image_url",
}
PRODUCT_KEYS = frozenset(_ITEM_TEXT) | {"sku", "price", "quantity", "rating"}

CONTENT_SCHEMA = "COMMERCE_PRODUCT"


def _string_map(values: dict[str, Any], path: str, warnings: list[str]) -> str | None:
    """A string -> string map as JSON text (non-string values JSON-encoded), None if empty.

    A value too deeply nested to encode is dropped with a warning.
    """
    if not values:
        return None
    encoded = {}
    for key, value in values.items():
        text = value if type(value) is str else to_json_text(value)
        if text is None:
            warnings.append(f"invalid_value:{path}{key}")
        else:
            encoded[key] = text
    return to_json_text(encoded) if encoded else None


def content_item(product: dict[str, Any], path: str, warnings: list[str]) -> dict[str, Any]:
    """One Branch content item from a Segment product object."""
    item: dict[str, Any] = {"content_schema": CONTENT_SCHEMA}
    for key, field in _ITEM_TEXT.items():
        value = product.get(key)
        text = to_text(value)
        if text is None and value is not None:
            warnings.append(f"invalid_value:{path}.{key}")
        item[field] = text
    sku = product.get("sku")
    item["sku"] = to_text(sku) if sku is not None else item["canonical_identifier"]
    if item["sku"] is None and sku is not None:
        warnings.append(f"invalid_value:{path}.sku")
    for key, convert, kwargs in (
        ("price", to_numeric, {}),
        ("quantity", to_float, {"allow_negative": False}),
        ("rating", to_float, {}),
    ):
        value = product.get(key)
        number = convert(value, **kwargs) if value is not None else None
        if number is None and value is not None:
            warnings.append(f"invalid_value:{path}.{key}")
        item[key] = number
    item["custom_fields"] = _string_map(
        {k: v for k, v in product.items() if k not in PRODUCT_KEYS}, f"{path}.", warnings)
    return item


def map_properties(
    properties: dict[str, Any], category: str, single_product: bool, warnings: list[str]
) -> dict[str, Any]:
    """The ``event_data_*``, ``content_items`` and ``custom_data`` columns of one event."""
    consumed = set(_IDENTITY_PROPERTIES)
    columns: dict[str, Any] = {}

    for key, (column, kind) in _EVENT_DATA.items():
        value = properties.get(key)
        consumed.add(key)
        if value is None:
            columns[column] = None
            continue
        columns[column] = to_text(value) if kind == "text" else to_numeric(value)
        if columns[column] is None:
            warnings.append(f"invalid_value:{key}")

    revenue_key = "revenue" if properties.get("revenue") is not None else "total"
    revenue_value = properties.get(revenue_key)
    revenue = None
    if revenue_value is not None:
        consumed.add(revenue_key)
        revenue = to_numeric(revenue_value)
        if revenue is None:
            warnings.append(f"invalid_value:{revenue_key}")
    columns["event_data_revenue"] = revenue

    currency_value = properties.get("currency")
    currency = None
    if currency_value is not None:
        consumed.add("currency")
        if type(currency_value) is str and currency_value.strip().upper() in ISO_4217:
            currency = currency_value.strip().upper()
        else:
            warnings.append("invalid_currency")
    elif revenue is not None and category == COMMERCE:
        currency = "USD"
        warnings.append("currency_defaulted")
    columns["event_data_currency"] = currency

    query = properties.get("query")
    if query is not None:
        consumed.add("query")
    search_query = query if type(query) is str or query is None else to_json_text(query)
    if search_query is None and query is not None:
        warnings.append("invalid_value:query")
    columns["event_data_search_query"] = search_query

    items: list[dict[str, Any]] = []
    products = properties.get("products")
    if products is not None:
        consumed.add("products")
        if type(products) is list:
            for index, product in enumerate(products):
                if type(product) is dict:
                    items.append(content_item(product, f"products[{index}]", warnings))
                else:
                    warnings.append(f"invalid_value:products[{index}]")
        else:
            warnings.append("invalid_value:products")
    elif single_product and not PRODUCT_KEYS.isdisjoint(properties):
        flat = {k: properties[k] for k in PRODUCT_KEYS if k in properties}
        consumed.update(flat)
        items.append(content_item(flat, "properties", warnings))
    columns["content_items"] = items

    columns["custom_data"] = _string_map({k: v for k, v in properties.items() if k not in consumed}, "", warnings)
    return columns

"""Segment properties -> Branch event data, content items and custom data (SPEC section 5).

Follows Branch's own Segment SDK kits. Mapped properties are consumed; every other property
lands in ``custom_data`` as string -> string. A mapped value of the wrong shape is dropped
with a warning ``invalid_value:<path>``; nothing here raises on any JSON value.
"""
from __future__ import annotations

from functools import partial
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


# The columns map_properties sets, in the order of the events row.
PROPERTY_COLUMNS = (
    "event_data_transaction_id", "event_data_shipping", "event_data_tax", "event_data_coupon",
    "event_data_affiliation", "event_data_description", "event_data_revenue", "event_data_currency",
    "event_data_search_query", "content_items", "custom_data",
)
# Properties with a rule below (never custom data as such); every other key is, as it is.
_MAPPED_KEYS = frozenset(_EVENT_DATA) | _IDENTITY_PROPERTIES | {"revenue", "total", "currency", "query", "products"}
_MAPPED_KEYS_SINGLE_PRODUCT = _MAPPED_KEYS | PRODUCT_KEYS
# A content item with every field None, in column order (content_item fills a copy).
_ITEM_TEMPLATE = dict.fromkeys(("content_schema", *_ITEM_TEXT.values(), "sku", "price", "quantity", "rating",
                                "custom_fields"))
_ITEM_TEMPLATE["content_schema"] = CONTENT_SCHEMA
_ITEM_NUMBERS = (
    ("price", to_numeric),
    ("quantity", partial(to_float, allow_negative=False)),
    ("rating", to_float),
)


def _string_map(values: dict[str, Any], path: str, warnings: list[str]) -> str | None:
    """A string -> string map as JSON text (non-string values JSON-encoded), None if empty.

    A value too deeply nested to encode is dropped with a warning.
    """
    if not values:
        return None
    encoded = {key: value if type(value) is str else to_json_text(value) for key, value in values.items()}
    if None in encoded.values():  # rare: drop what could not be encoded, in key order
        for key, text in encoded.items():
            if text is None:
                warnings.append(f"invalid_value:{path}{key}")
        encoded = {key: text for key, text in encoded.items() if text is not None}
    return to_json_text(encoded) if encoded else None


def content_item(product: dict[str, Any], path: str, warnings: list[str]) -> dict[str, Any]:
    """One Branch content item from a Segment product object."""
    item = _ITEM_TEMPLATE.copy()
    for key, field in _ITEM_TEXT.items():
        value = product.get(key)
        if type(value) is str:  # the common case, without to_text's type checks
            item[field] = value
        elif value is not None:
            text = item[field] = to_text(value)
            if text is None:
                warnings.append(f"invalid_value:{path}.{key}")
    sku = product.get("sku")
    item["sku"] = to_text(sku) if sku is not None else item["canonical_identifier"]
    if item["sku"] is None and sku is not None:
        warnings.append(f"invalid_value:{path}.sku")
    for key, convert in _ITEM_NUMBERS:
        value = product.get(key)
        if value is not None:
            number = item[key] = convert(value)
            if number is None:
                warnings.append(f"invalid_value:{path}.{key}")
    item["custom_fields"] = _string_map(
        {k: v for k, v in product.items() if k not in PRODUCT_KEYS}, f"{path}.", warnings)
    return item


def map_properties(
    properties: dict[str, Any], category: str, single_product: bool, warnings: list[str],
    row: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``event_data_*``, ``content_items`` and ``custom_data`` columns of one event.

    They are set in ``row`` (default: a new dict), which must hold every column as None
    already: only columns with a value are written.
    """
    if row is None:
        row = dict.fromkeys(PROPERTY_COLUMNS)
    # One pass splits the few mapped properties from custom data (most events have 0-3
    # mapped ones), instead of looking up every rule's key in every event.
    mapped_keys = _MAPPED_KEYS_SINGLE_PRODUCT if single_product else _MAPPED_KEYS
    mapped: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for key, value in properties.items():
        if key in mapped_keys:
            mapped[key] = value
        else:
            custom[key] = value
    items: list[dict[str, Any]] = []
    if mapped:
        unused = _map_event_data(mapped, category, single_product, warnings, row, items)
        if unused:  # a mapped key that did not apply is custom data, in its place among the others
            custom = {k: v for k, v in properties.items() if k not in mapped_keys or k in unused}
    row["content_items"] = items
    row["custom_data"] = _string_map(custom, "", warnings)
    return row


def _map_event_data(mapped: dict[str, Any], category: str, single_product: bool, warnings: list[str],
                    row: dict[str, Any], items: list[dict[str, Any]]) -> list[str]:
    """Apply the rules to the mapped properties, in the rules' order (the order of the
    warnings); returns the keys that no rule took (they are custom data)."""
    unused = []
    for key, (column, kind) in _EVENT_DATA.items():
        value = mapped.get(key)
        if value is not None:
            text = row[column] = to_text(value) if kind == "text" else to_numeric(value)
            if text is None:
                warnings.append(f"invalid_value:{key}")

    revenue_key = "revenue" if mapped.get("revenue") is not None else "total"
    revenue_value = mapped.get(revenue_key)
    revenue = None
    if revenue_value is not None:
        revenue = row["event_data_revenue"] = to_numeric(revenue_value)
        if revenue is None:
            warnings.append(f"invalid_value:{revenue_key}")
    # Only a revenue key with a value is taken: the other one, or a null one, is custom data.
    unused += [key for key in ("revenue", "total") if key in mapped and (key != revenue_key or revenue_value is None)]

    currency_value = mapped.get("currency")
    if currency_value is not None:
        if type(currency_value) is str and currency_value.strip().upper() in ISO_4217:
            row["event_data_currency"] = currency_value.strip().upper()
        else:
            warnings.append("invalid_currency")
    else:
        if "currency" in mapped:
            unused.append("currency")
        if revenue is not None and category == COMMERCE:
            row["event_data_currency"] = "USD"
            warnings.append("currency_defaulted")

    query = mapped.get("query")
    if query is not None:
        search_query = row["event_data_search_query"] = query if type(query) is str else to_json_text(query)
        if search_query is None:
            warnings.append("invalid_value:query")
    elif "query" in mapped:
        unused.append("query")

    products = mapped.get("products")
    if products is not None:
        if type(products) is list:
            for index, product in enumerate(products):
                if type(product) is dict:
                    items.append(content_item(product, f"products[{index}]", warnings))
                else:
                    warnings.append(f"invalid_value:products[{index}]")
        else:
            warnings.append("invalid_value:products")
    else:
        if "products" in mapped:
            unused.append("products")
        if single_product:
            flat = {k: v for k, v in mapped.items() if k in PRODUCT_KEYS}
            if flat:
                items.append(content_item(flat, "properties", warnings))
    if products is not None and single_product:  # the product list wins over flat product keys
        unused.extend(k for k in mapped if k in PRODUCT_KEYS)
    return unused

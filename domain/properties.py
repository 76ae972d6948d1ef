"""Segment properties -> Branch event data, content items and custom data (rules §5).

Follows Branch's own Segment SDK kits. Mapped properties are consumed; every other property
lands in ``custom_data`` as string -> string. A mapped value of the wrong shape is dropped
with a warning ``invalid_value:<path>``; nothing here raises on any JSON value.
"""

from __future__ import annotations

import sys
from typing import Any

from orjson import JSONEncodeError, dumps

from domain.currencies import ISO_4217
from domain.event_names import COMMERCE
from domain.values import to_float, to_json_text, to_numeric, to_text
from schemas.tables import EVENTS, schema_fields

# Properties that are event data: Segment name -> (column, conversion: text or money).
_EVENT_DATA = {
    "order_id": ("event_data_transaction_id", to_text),
    "shipping": ("event_data_shipping", to_numeric),
    "tax": ("event_data_tax", to_numeric),
    "coupon": ("event_data_coupon", to_text),
    "affiliation": ("event_data_affiliation", to_text),
    "description": ("event_data_description", to_text),
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
_ITEM_TEXT_FIELDS = tuple(_ITEM_TEXT.items())
PRODUCT_KEYS = frozenset(_ITEM_TEXT) | {"sku", "price", "quantity", "rating"}

CONTENT_SCHEMA = "COMMERCE_PRODUCT"


# The columns map_properties sets, in the order of the events row.
PROPERTY_COLUMNS = (
    "event_data_transaction_id",
    "event_data_shipping",
    "event_data_tax",
    "event_data_coupon",
    "event_data_affiliation",
    "event_data_description",
    "event_data_revenue",
    "event_data_currency",
    "event_data_search_query",
    "content_items",
    "custom_data",
)
# Properties with a rule below (never custom data as such); every other key is, as it is.
_MAPPED_KEYS = frozenset(_EVENT_DATA) | _IDENTITY_PROPERTIES | {"revenue", "total", "currency", "query", "products"}
_MAPPED_KEYS_SINGLE_PRODUCT = _MAPPED_KEYS | PRODUCT_KEYS
# A content item with every field None, in the schema's order (content_item fills a copy;
# the row validator reads it in that order), names interned as in mapping._ROW_TEMPLATE.
_ITEM_TEMPLATE = dict.fromkeys(
    sys.intern(field["name"])
    for column in schema_fields(EVENTS)
    if column["name"] == "content_items"
    for field in column["fields"]
)
_ITEM_TEMPLATE["content_schema"] = CONTENT_SCHEMA
assert _ITEM_TEMPLATE.keys() == {
    "content_schema",
    *_ITEM_TEXT.values(),
    "sku",
    "price",
    "quantity",
    "rating",
    "custom_fields",
}, "content item fields changed"


def _string_map(
    values: dict[str, Any], path: str, warnings: list[str], leave_out: frozenset = frozenset()
) -> str | None:
    """A string -> string map as JSON text (non-string values JSON-encoded), None if empty.

    The keys in ``leave_out`` are not part of it. A value too deeply nested to encode is
    dropped with a warning naming its place (``path``: the object's, "" for the properties).
    """
    encoded: dict = {}
    for key, value in values.items():  # (a loop: cheaper than a comprehension for small maps)
        if key in leave_out:
            continue
        if type(value) is not str:
            value = to_json_text(value)
            if value is None:
                warnings.append(f"invalid_value:{path}.{key}" if path else f"invalid_value:{key}")
                continue
        encoded[key] = value
    if not encoded:
        return None
    try:
        text: bytes = dumps(encoded)  # what to_json_text returns for a string map
        return text.decode()
    except JSONEncodeError:
        return to_json_text(encoded)


def content_item(product: dict[str, Any], path: str, warnings: list[str]) -> dict[str, Any]:
    """One Branch content item from a Segment product object."""
    item: dict = _ITEM_TEMPLATE.copy()  # (typed for the compiled form)
    for key, field in _ITEM_TEXT_FIELDS:
        value = product.get(key)
        if type(value) is str:  # the common case, without to_text's type checks
            item[field] = value
        elif value is not None:
            text = item[field] = to_text(value)
            if text is None:
                warnings.append(f"invalid_value:{path}.{key}")
    sku = product.get("sku")
    if sku is None:
        item["sku"] = item["canonical_identifier"]
    else:
        text = item["sku"] = sku if type(sku) is str else to_text(sku)
        if text is None:
            warnings.append(f"invalid_value:{path}.sku")
    price = product.get("price")
    if price is not None:
        amount = item["price"] = to_numeric(price)
        if amount is None:
            warnings.append(f"invalid_value:{path}.price")
    quantity = product.get("quantity")
    if quantity is not None:
        number = item["quantity"] = to_float(quantity, allow_negative=False)
        if number is None:
            warnings.append(f"invalid_value:{path}.quantity")
    rating = product.get("rating")
    if rating is not None:
        number = item["rating"] = to_float(rating)
        if number is None:
            warnings.append(f"invalid_value:{path}.rating")
    item["custom_fields"] = _string_map(product, path, warnings, PRODUCT_KEYS)
    return item


def map_properties(
    properties: dict[str, Any],
    category: str,
    single_product: bool,
    warnings: list[str],
    row: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``event_data_*``, ``content_items`` and ``custom_data`` columns of one event.

    They are set in ``row`` (default: a new dict), which must hold every column as None
    already: only columns with a value are written.
    """
    if row is None:
        row = dict.fromkeys(PROPERTY_COLUMNS)
    mapped_keys = _MAPPED_KEYS_SINGLE_PRODUCT if single_product else _MAPPED_KEYS
    items: list[dict[str, Any]] = []
    row["content_items"] = items
    if mapped_keys.isdisjoint(properties):  # custom events: every property is custom data
        row["custom_data"] = _string_map(properties, "", warnings)
        return row
    unused = _map_event_data(properties, category, single_product, warnings, row, items)
    # Custom data: every other property, and a mapped one no rule took, in its place.
    row["custom_data"] = _string_map(
        properties, "", warnings, mapped_keys.difference(unused) if unused else mapped_keys
    )
    return row


def _map_event_data(
    mapped: dict[str, Any],
    category: str,
    single_product: bool,
    warnings: list[str],
    row: dict[str, Any],
    items: list[dict[str, Any]],
) -> list[str]:
    """Apply the rules to the properties (``mapped``: it reads only the mapped keys), in the
    rules' order (the order of the warnings); returns the mapped keys present that no rule
    took (they are custom data)."""
    unused = []
    if not _EVENT_DATA.keys().isdisjoint(mapped):
        for key, (column, convert) in _EVENT_DATA.items():
            value = mapped.get(key)
            if value is not None:
                text = row[column] = convert(value)
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
    for key in ("revenue", "total"):
        if key in mapped and (key != revenue_key or revenue_value is None):
            unused.append(key)

    currency_value = mapped.get("currency")
    if currency_value is not None:
        currency = None
        if type(currency_value) is str:
            code: str = currency_value  # (typed for the compiled form)
            currency = code.strip().upper()
        if currency in ISO_4217:
            row["event_data_currency"] = currency
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
        unused.extend([k for k in mapped if k in PRODUCT_KEYS])
    return unused

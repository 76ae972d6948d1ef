"""Segment event name -> Branch event name and category (rules §3).

Names match after trimming, case-insensitively. Per-app overrides win over the Segment
ecommerce table, which wins over Branch standard names (API or display form); anything else
is a CUSTOM event named as sent. The not-imported list is matched on both the Segment name
and the resolved Branch name.
"""

from __future__ import annotations

from collections.abc import Mapping

COMMERCE = "COMMERCE"
CONTENT = "CONTENT"
USER_LIFECYCLE = "USER_LIFECYCLE"
CUSTOM = "CUSTOM"

CATEGORIES = (COMMERCE, CONTENT, USER_LIFECYCLE, CUSTOM)

TOPIC_BY_CATEGORY = {
    COMMERCE: "eo_commerce_event",
    CONTENT: "eo_content_event",
    USER_LIFECYCLE: "eo_user_lifecycle_event",
    CUSTOM: "eo_custom_event",
}
# The Branch topics (Query API data sources, export file groups) imported events land in.
TOPICS = tuple(TOPIC_BY_CATEGORY.values())

STANDARD_EVENTS: dict[str, str] = {
    **dict.fromkeys(
        (
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
        ),
        COMMERCE,
    ),
    **dict.fromkeys(
        (
            "SEARCH",
            "VIEW_ITEM",
            "VIEW_ITEMS",
            "RATE",
            "SHARE",
            "INITIATE_STREAM",
            "COMPLETE_STREAM",
        ),
        CONTENT,
    ),
    **dict.fromkeys(
        (
            "COMPLETE_REGISTRATION",
            "COMPLETE_TUTORIAL",
            "ACHIEVE_LEVEL",
            "UNLOCK_ACHIEVEMENT",
            "INVITE",
            "LOGIN",
            "START_TRIAL",
            "SUBSCRIBE",
        ),
        USER_LIFECYCLE,
    ),
}

SEGMENT_EVENTS: dict[str, str] = {
    "Product Added": "ADD_TO_CART",
    "Product Added to Wishlist": "ADD_TO_WISHLIST",
    "Cart Viewed": "VIEW_CART",
    "Payment Info Entered": "ADD_PAYMENT_INFO",
    "Checkout Started": "INITIATE_PURCHASE",
    "Order Completed": "PURCHASE",
    "Products Searched": "SEARCH",
    "Product Viewed": "VIEW_ITEM",
    "Product List Viewed": "VIEW_ITEMS",
    "Product Reviewed": "RATE",
    "Product Shared": "SHARE",
}

# Segment events about one product: their flat properties describe one content item.
SINGLE_PRODUCT_EVENTS = frozenset(
    name.casefold()
    for name in ("Product Added", "Product Added to Wishlist", "Product Viewed", "Product Shared", "Product Reviewed")
)

# Events Branch tracks itself (the seed's "Imported: No" rows and Branch auto-tracked events).
NOT_IMPORTED_SEGMENT_NAMES = (
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
)
NOT_IMPORTED_BRANCH_NAMES = (
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
)


def display_name(api_name: str) -> str:
    """``ADD_TO_CART`` -> ``Add To Cart`` (Branch's display form)."""
    return " ".join(word.capitalize() for word in api_name.split("_"))


def api_name(display: str) -> str:
    """``Web Session Start`` -> ``WEB_SESSION_START`` (Branch's API form)."""
    return "_".join(display.split()).upper()


def name_key(name: str) -> str:
    """The matching key of an event name: trimmed, case-folded."""
    return name.strip().casefold()


def _build_lookup() -> dict[str, tuple[str, str]]:
    lookup: dict[str, tuple[str, str]] = {}
    for standard, category in STANDARD_EVENTS.items():
        lookup[name_key(standard)] = (standard, category)
        lookup[name_key(display_name(standard))] = (standard, category)
    # The Segment ecommerce table wins over a coincidental standard display name.
    for segment, standard in SEGMENT_EVENTS.items():
        lookup[name_key(segment)] = (standard, STANDARD_EVENTS[standard])
    return lookup


_LOOKUP = _build_lookup()

NOT_IMPORTED_KEYS = frozenset(
    [name_key(n) for n in NOT_IMPORTED_SEGMENT_NAMES]
    + [name_key(n) for n in NOT_IMPORTED_BRANCH_NAMES]
    + [name_key(api_name(n)) for n in NOT_IMPORTED_BRANCH_NAMES]
)


def resolve_event(segment_name: str, overrides: Mapping[str, tuple[str, str]] | None = None) -> tuple[str, str]:
    """Return ``(branch_name, category)`` for a Segment event name.

    ``overrides`` maps :func:`name_key` of a Segment name to ``(branch_name, category)``.
    """
    key = name_key(segment_name)
    if overrides:
        hit = overrides.get(key)
        if hit is not None:
            return hit
    hit = _LOOKUP.get(key)
    if hit is not None:
        return hit
    return segment_name.strip(), CUSTOM


def standard_event(name: str) -> tuple[str, str] | None:
    """The standard ``(API name, category)`` for a Branch name in API or display form, else None."""
    key = name_key(name)
    api = api_name(name)
    if api in STANDARD_EVENTS and key in (name_key(api), name_key(display_name(api))):
        return api, STANDARD_EVENTS[api]
    return None


# Branch's own events exported to Segment: ``branch_<NAME>`` (never imported; touches, rules §9).
BRANCH_EVENT_PREFIX = "branch_"


def is_branch_event(segment_name: str) -> bool:
    """An event Branch exported to Segment: ``branch_<NAME>``."""
    key = name_key(segment_name)
    return len(key) > len(BRANCH_EVENT_PREFIX) and key.startswith(BRANCH_EVENT_PREFIX)


def is_not_imported(segment_name: str, branch_name: str) -> bool:
    return (
        name_key(segment_name) in NOT_IMPORTED_KEYS
        or name_key(branch_name) in NOT_IMPORTED_KEYS
        or is_branch_event(segment_name)
    )

"""Seeded, realistic Segment event generator for tests, demos and benchmarks.

Two entry points:

* :func:`generate_sample` -- a mixed Pub/Sub sample (``SampleMessage`` = data, attributes,
  intended ``kind``) covering every outcome of the importer: valid ``track`` events,
  exact re-publishes (duplicates), other call types, not-imported names, integration
  opt-outs, events without identifiers and every kind of bad record.
* :func:`generate_corpus` -- a streaming benchmark corpus of valid-looking ``track`` events
  (plus ~2% bad records and ~1% touches) with a realistic size mix, ~1 KB per event on average.

Payloads imitate what Segment delivers for its real libraries: analytics-ios/-swift
(iOS apps), analytics-android/-kotlin (Android apps), analytics.js (desktop and mobile web,
often with Branch's ``browser_fingerprint_id``) and server libraries (``userId`` only).
Users keep one device context across their events, as in real traffic.

Everything is drawn from ``random.Random(seed)`` (never the global RNG, never ``uuid4``), so
the same ``(count, seed, now)`` always gives the same bytes.

CLI::

    python -m tools.samples --count 1200 --seed 42 [--now ISO] [--corpus] --out FILE

writes one message's data per ``\\n``-terminated line (attributes are not part of this
format) and prints a one-line summary of kinds to stderr; ``--out -`` writes to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from random import Random
from typing import Any, BinaryIO, TypeVar

import orjson

from domain.touches import is_touch_source
from schemas.reasons import Outcome, Reason

T = TypeVar("T")
Event = dict[str, Any]

ZERO_AD_ID = "00000000-0000-0000-0000-000000000000"

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
# Event times spread over this window before ``now``: fresh under the 24 h streaming max age.
SPREAD_MS = 2 * HOUR_MS


@dataclass(frozen=True)
class SampleMessage:
    """One Pub/Sub message: its data, attributes, and what the generator meant it to be."""

    data: bytes
    attributes: dict[str, str]
    kind: str


# What the importer should decide for each kind under default options (24 h max age,
# 10 min clock skew, every platform enabled, apps configured), for end-to-end checks.
EXPECTED_OUTCOMES: dict[str, tuple[Outcome, Reason | None]] = {
    "valid": (Outcome.IMPORTED, None),
    "duplicate": (Outcome.DUPLICATE, None),
    **dict.fromkeys(("identify", "page", "screen", "group", "alias"), (Outcome.SKIPPED, Reason.UNSUPPORTED_CALL_TYPE)),
    "not_imported": (Outcome.SKIPPED, Reason.NOT_IMPORTED_EVENT),
    "integration_disabled": (Outcome.SKIPPED, Reason.INTEGRATION_DISABLED),
    "no_identifier": (Outcome.REJECTED, Reason.NO_IDENTIFIER),
    "malformed_json": (Outcome.REJECTED, Reason.MALFORMED_JSON),
    "invalid_utf8": (Outcome.REJECTED, Reason.MALFORMED_JSON),
    "json_array": (Outcome.REJECTED, Reason.NOT_AN_OBJECT),
    "json_string": (Outcome.REJECTED, Reason.NOT_AN_OBJECT),
    "missing_message_id": (Outcome.REJECTED, Reason.MISSING_MESSAGE_ID),
    "invalid_message_id": (Outcome.REJECTED, Reason.INVALID_MESSAGE_ID),
    "missing_event_name": (Outcome.REJECTED, Reason.MISSING_EVENT_NAME),
    "invalid_timestamp": (Outcome.REJECTED, Reason.INVALID_TIMESTAMP),
    "unknown_app": (Outcome.REJECTED, Reason.UNKNOWN_APP),
    "stale_event": (Outcome.REJECTED, Reason.STALE_EVENT),
    "future_event": (Outcome.REJECTED, Reason.FUTURE_EVENT),
}

# Bad records that fit in a data-only file (unknown_app needs an attribute).
CORPUS_BAD_KINDS = (
    "malformed_json",
    "invalid_utf8",
    "json_array",
    "json_string",
    "missing_message_id",
    "invalid_message_id",
    "missing_event_name",
    "invalid_timestamp",
)

# Share of each non-valid kind in a sample; "valid" takes the rest (~68%).
_SAMPLE_MIX: tuple[tuple[str, float], ...] = (
    ("duplicate", 0.08),
    ("identify", 0.025),
    ("page", 0.02),
    ("screen", 0.015),
    ("group", 0.01),
    ("alias", 0.01),
    ("not_imported", 0.04),
    ("integration_disabled", 0.02),
    ("no_identifier", 0.02),
    ("malformed_json", 0.008),
    ("invalid_utf8", 0.006),
    ("json_array", 0.005),
    ("json_string", 0.005),
    ("missing_message_id", 0.006),
    ("invalid_message_id", 0.006),
    ("missing_event_name", 0.008),
    ("invalid_timestamp", 0.008),
    ("unknown_app", 0.008),
    ("stale_event", 0.01),
)
_CORPUS_BAD_SHARE = 0.02
# Touches in the corpus (rules §9): Branch link opens and attributed installs of the profiles,
# so that a benchmark attributes the profiles' later events, as a Branch customer's would:
# about one session in ten opened from a link, of ten events each. (A 200k corpus then
# attributes about a fifth of its conversions.)
_CORPUS_TOUCH_SHARE = 0.01
_TOUCH_CAMPAIGNS = (
    ("spring_sale", "facebook", "paid_advertising"),
    ("retarget_q3", "google", "cpc"),
    ("newsletter_11", "email", "marketing"),
    ("creator_drop", "instagram", "influencer"),
)
# Segment retries re-publish soon after the original: duplicates repeat a recent message.
_DUPLICATE_LOOKBACK = 40

# --------------------------------------------------------------------------- catalogs

_ECOMMERCE_WEIGHTS = (
    ("Product Viewed", 10),
    ("Product List Viewed", 5),
    ("Products Searched", 6),
    ("Product Added", 8),
    ("Product Added to Wishlist", 2),
    ("Cart Viewed", 4),
    ("Checkout Started", 3),
    ("Payment Info Entered", 2),
    ("Order Completed", 5),
    ("Product Reviewed", 1),
    ("Product Shared", 1),
)
_BRANCH_API_WEIGHTS = (
    ("SPEND_CREDITS", 2),
    ("COMPLETE_REGISTRATION", 3),
    ("ACHIEVE_LEVEL", 2),
    ("LOGIN", 4),
    ("SUBSCRIBE", 2),
    ("START_TRIAL", 2),
    ("INITIATE_STREAM", 2),
    ("COMPLETE_STREAM", 1),
    ("RESERVE", 1),
    ("CLICK_AD", 1),
    ("VIEW_AD", 1),
    ("UNLOCK_ACHIEVEMENT", 1),
    ("COMPLETE_TUTORIAL", 1),
    ("INVITE", 1),
)
_BRANCH_DISPLAY_WEIGHTS = (
    ("Complete Tutorial", 3),
    ("Unlock Achievement", 2),
    ("Invite", 2),
    ("Spend Credits", 1),
    ("Complete Registration", 2),
    ("Achieve Level", 1),
    ("Login", 1),
    ("Start Trial", 1),
    ("Subscribe", 1),
    ("Reserve", 1),
)
_CUSTOM_WEIGHTS = (
    ("Song Played", 6),
    ("Level Started", 5),
    ("Coupon Applied", 3),
    ("Video Watched", 4),
    ("Article Read", 3),
    ("Signed Up", 2),
    ("Onboarding Step Completed", 3),
    ("Filter Applied", 3),
    ("Ride Booked", 2),
    ("Settings Changed", 2),
    ("Promotion Viewed", 2),
    ("Button Tapped", 4),
)
# Family of a valid track event's name: Segment ecommerce, Branch names, custom.
_FAMILY_WEIGHTS = (("ecommerce", 42), ("branch_api", 8), ("branch_display", 7), ("custom", 43))

NOT_IMPORTED_NAMES = (
    "Application Opened",
    "application opened",
    "APPLICATION INSTALLED",
    "Application Updated",
    "Application Backgrounded",
    " Application Crashed",
    "Deep Link Clicked",
    "deep link opened",
    "Install Attributed",
    "Install",
    "INSTALL",
    "Push Notification Tapped",
    "Push Notification Received",
    "push notification bounced",
    "Pageview",
    "pageview",
    "Web Session Start",
    "Open",
    "Click",
    "Reinstall",
)
_DISABLED_INTEGRATIONS = (
    {"Branch Metrics": False},
    {"All": False},
    {"Branch": False},
    {"All": False, "Mixpanel": True, "Amplitude": True},
    {"All": True, "Branch Metrics": False},
)
# Integrations objects that still send to Branch (incl. All=false with Branch re-enabled).
_ENABLED_INTEGRATIONS = (
    {},
    {},
    {},
    {},
    {"Branch Metrics": True},
    {"All": True, "Mixpanel": False},
    {"All": False, "Branch Metrics": True},
    {"Amplitude": {"session_id": 1718000000000}},
)
_INVALID_TIMESTAMPS = (
    "not-a-timestamp",
    "2024-13-45T25:61:00Z",
    "Thu, 28 Nov 2024 12:00:00 GMT",
    "0000-00-00T00:00:00Z",
    "yesterday",
)

# (model, name, width, height, scale)
_IOS_DEVICES = (
    ("iPhone15,2", "iPhone", 393, 852, 3.0),
    ("iPhone14,5", "iPhone", 390, 844, 3.0),
    ("iPhone16,1", "iPhone", 393, 852, 3.0),
    ("iPhone12,8", "iPhone", 375, 667, 2.0),
    ("iPhone15,4", "iPhone", 393, 852, 3.0),
    ("iPad13,18", "iPad", 820, 1180, 2.0),
)
_IOS_VERSIONS = ("16.7.8", "17.4.1", "17.5.1", "17.6.1", "18.0.1", "18.1", "18.2")
_IOS_LIBRARIES = (("analytics-ios", "4.1.8"), ("analytics-swift", "1.5.11"), ("analytics-swift", "1.6.1"))
# (manufacturer, model, device name, width, height, density)
_ANDROID_DEVICES = (
    ("samsung", "SM-S911B", "dm1q", 1080, 2340, 2.625),
    ("Google", "Pixel 7", "panther", 1080, 2400, 2.625),
    ("Google", "Pixel 8 Pro", "husky", 1344, 2992, 3.0),
    ("Xiaomi", "2201117TG", "spes", 1080, 2400, 2.75),
    ("OnePlus", "CPH2449", "OP5958L1", 1240, 2772, 3.5),
    ("motorola", "moto g(30)", "caprip", 720, 1600, 1.75),
    ("samsung", "SM-A546B", "a54x", 1080, 2340, 2.625),
)
_ANDROID_VERSIONS = (
    ("12", "SP1A.210812.016"),
    ("13", "TP1A.220624.014"),
    ("14", "UP1A.231005.007"),
    ("15", "AP3A.240905.015"),
)
_ANDROID_LIBRARIES = (("analytics-android", "4.11.3"), ("analytics-kotlin", "1.16.3"))
_WEB_LIBRARIES = (("analytics.js", "next-1.70.0"), ("analytics.js", "npm:next-1.72.1"), ("analytics.js", "4.1.0"))
_SERVER_LIBRARIES = (
    ("@segment/analytics-node", "2.1.2"),
    ("analytics-python", "2.3.2"),
    ("analytics-java", "3.5.1"),
    ("analytics-ruby", "2.4.3"),
    ("analytics-go", "3.3.0"),
)
# (name, namespace) of the customer's apps.
_APPS = (("Shopwise", "com.shopwise.app"), ("Beatbox", "io.beatbox.player"), ("Dungeon Dash", "com.lumen.dungeondash"))
_APP_VERSIONS = (("5.12.0", "5120"), ("5.13.1", "5131"), ("5.14.0", "5140"), ("6.0.2", "6002"))
_CARRIERS = ("T-Mobile", "Verizon", "AT&T", "Vodafone", "Orange F", "O2 - UK", "Telekom.de", "")
# (locale, IANA timezone, UTC offset in minutes)
_LOCALES = (
    ("en-US", "America/New_York", -240),
    ("en-US", "America/Chicago", -300),
    ("en-US", "America/Los_Angeles", -420),
    ("en-GB", "Europe/London", 60),
    ("fr-FR", "Europe/Paris", 120),
    ("de-DE", "Europe/Berlin", 120),
    ("es-ES", "Europe/Madrid", 120),
    ("pt-BR", "America/Sao_Paulo", -180),
    ("ja-JP", "Asia/Tokyo", 540),
    ("en-IN", "Asia/Kolkata", 330),
    ("en-AU", "Australia/Sydney", 600),
    ("nl-NL", "Europe/Amsterdam", 120),
)
_DESKTOP_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
)
_MOBILE_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.165 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
)
_SITE = "https://www.shopwise.com"
_PAGES = (
    ("/", "Shopwise – Everyday gear"),
    ("/search", "Search results"),
    ("/c/apparel", "Apparel"),
    ("/c/electronics", "Electronics"),
    ("/cart", "Your cart"),
    ("/checkout", "Checkout"),
    ("/checkout/payment", "Payment"),
    ("/order/confirmation", "Thank you!"),
    ("/account", "My account"),
    ("/blog/how-to-pack-light", "How to pack light – Shopwise Journal"),
    ("/deals", "Today's deals"),
)
_REFERRERS = ("", "", "https://www.google.com/", "https://www.instagram.com/", "https://t.co/", "https://www.bing.com/")
_CAMPAIGNS = (
    ("summer_sale", "newsletter", "email"),
    ("retarget_q3", "facebook", "paid_social"),
    ("brand", "google", "cpc"),
)

# (category, product names, brands, variants)
_CATALOG_SPEC = (
    (
        "Apparel",
        ("Trail Runner 3", "Rain Jacket", "Merino Hoodie", "Denim Jacket", "Linen Shirt"),
        ("Acme Outdoors", "Northfold", "Blue Tern"),
        ("S", "M", "L", "XL", "Black", "Navy"),
    ),
    (
        "Electronics",
        ("Wireless Earbuds", "4K Action Camera", "Smart Speaker", "USB-C Charger 65W"),
        ("Voltix", "Sonora", "Pixelcraft"),
        ("64GB", "128GB", "White", "Graphite"),
    ),
    (
        "Games",
        ("Monopoly: 3rd Edition", "Dungeon Dice Set", "Puzzle 1000 pcs"),
        ("Hasbro", "Ravensburger", "Lumen Games"),
        ("Standard", "Deluxe", "200 pieces"),
    ),
    (
        "Home",
        ("Ceramic Mug", "Cast Iron Skillet", "Linen Duvet Cover", "Café Crème Set"),
        ("Hearthly", "Casa Nova"),
        ("Sage", "Sand", "Queen", "King"),
    ),
    (
        "Beauty",
        ("Vitamin C Serum", "Matte Lipstick", "Crème Hydratante"),
        ("Lumière", "Glowlab"),
        ("30 ml", "50 ml", "Rouge 04"),
    ),
)
_CURRENCIES = ("USD",) * 12 + ("EUR",) * 4 + ("GBP", "GBP", "CAD", "JPY", "BRL", "AUD", "usd", "eur")
_BAD_CURRENCIES = ("EURO", "US$", "dollars", "€")
_QUERIES = ("blue hotpants", "running shoes", "wireless earbuds", "café", "rain jacket xl", "mug", "gift for dad")
_REVIEWS = (
    "Great fit, runs a bit small.",
    "Battery lasts forever!\nWould buy again.",
    "Arrived late but works fine.",
    "Très bon produit 👍",
    "Meh.",
)
_SONGS = (
    ("Midnight City", "M83"),
    ("Heat Waves", "Glass Animals"),
    ("Blinding Lights", "The Weeknd"),
    ("Dans la ville", "Zaz"),
    ("Levitating", "Dua Lipa"),
)
_SCREENS = ("Home", "Product Detail", "Cart", "Search", "Settings", "Level Select", "Player")


# --------------------------------------------------------------------------- helpers


def _weighted(pairs: Sequence[tuple[T, int]]) -> tuple[T, ...]:
    """Expand (value, weight) pairs into a flat table, so a weighted pick is one index."""
    return tuple(value for value, weight in pairs for _ in range(weight))


_FAMILIES = _weighted(_FAMILY_WEIGHTS)
_ECOMMERCE_NAMES = _weighted(_ECOMMERCE_WEIGHTS)
_BRANCH_API_NAMES = _weighted(_BRANCH_API_WEIGHTS)
_BRANCH_DISPLAY_NAMES = _weighted(_BRANCH_DISPLAY_WEIGHTS)
_CUSTOM_NAMES = _weighted(_CUSTOM_WEIGHTS)


def _to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:  # naive means UTC, as in the importer
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


class _Iso:
    """Epoch milliseconds -> Segment-style ISO-8601 text; caches the per-second prefix (hot path)."""

    def __init__(self) -> None:
        self._prefixes: dict[int, str] = {}

    def _prefix(self, sec: int) -> str:
        prefix = self._prefixes.get(sec)
        if prefix is None:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
            if len(self._prefixes) < 200_000:
                self._prefixes[sec] = prefix
        return prefix

    def utc(self, ms: int) -> str:
        sec, milli = divmod(ms, 1000)
        return f"{self._prefix(sec)}.{milli:03d}Z"

    def local(self, ms: int, offset_min: int) -> str:
        """The same instant written in local time with its UTC offset (``+02:00``)."""
        sec, milli = divmod(ms + offset_min * MINUTE_MS, 1000)
        hours, minutes = divmod(abs(offset_min), 60)
        sign = "+" if offset_min >= 0 else "-"
        return f"{self._prefix(sec)}.{milli:03d}{sign}{hours:02d}:{minutes:02d}"


class _Rand:
    """Thin, fast helpers over one ``random.Random``."""

    def __init__(self, seed: int) -> None:
        self.r = Random(seed)
        self.random = self.r.random
        self.randint = self.r.randint
        self.getrandbits = self.r.getrandbits

    def pick(self, seq: Sequence[T]) -> T:
        # Faster than Random.choice and just as uniform for these small tables.
        return seq[int(self.random() * len(seq))]

    def chance(self, p: float) -> bool:
        return self.random() < p

    def hex(self, digits: int) -> str:
        return f"{self.getrandbits(digits * 4):0{digits}x}"

    def uuid(self, upper: bool = False) -> str:
        """A version-4-shaped UUID drawn from the seeded RNG."""
        h = f"{self.getrandbits(128):032x}"
        text = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
        return text.upper() if upper else text

    def money(self, low: float, high: float) -> float:
        return round(low + (high - low) * self.random(), 2)

    def ip(self) -> str:
        if self.chance(0.1):
            return f"2a01:e0a:{self.hex(3)}:{self.hex(4)}::{self.hex(2)}"
        return f"{self.pick((24, 73, 81, 92, 98, 174, 185))}.{self.randint(0, 255)}.{self.randint(0, 255)}.{self.randint(1, 254)}"


@dataclass(frozen=True)
class _Profile:
    """One user on one device: its context is shared by all its events (never mutated)."""

    platform: str  # "ios" | "android" | "web" | "server"
    user_id: str | None
    anonymous_id: str | None
    context: dict[str, Any]
    fingerprint: str | None  # Branch browser fingerprint id (web only)
    tz_offset_min: int
    message_id: Callable[[], str]


# --------------------------------------------------------------------------- the factory


class _Factory:
    """Builds Segment payloads from one seeded RNG: profiles, track events and bad records."""

    def __init__(self, seed: int, now_ms: int, profile_count: int) -> None:
        self.rand = _Rand(seed)
        self.iso = _Iso()
        self.now_ms = now_ms
        self.catalog = self._catalog()
        self.pages = self._pages()
        self.profiles = [self._profile() for _ in range(profile_count)]
        self.properties: dict[str, Callable[[str], dict[str, Any]]] = {
            **dict.fromkeys(
                ("Product Viewed", "Product Added", "Product Added to Wishlist", "Product Shared"), self._single_product
            ),
            "Product List Viewed": self._product_list,
            "Products Searched": self._search,
            "Cart Viewed": self._cart,
            "Checkout Started": self._order,
            "Order Completed": self._order,
            "Payment Info Entered": self._payment_info,
            "Product Reviewed": self._review,
        }

    # ---- profiles

    def _profile(self) -> _Profile:
        # Traffic shares: apps dominate, then web, then server-side calls.
        roll = self.rand.random()
        if roll < 0.3:
            return self._ios_profile()
        if roll < 0.57:
            return self._android_profile()
        if roll < 0.85:
            return self._web_profile()
        return self._server_profile()

    def _user_id(self) -> str:
        rand = self.rand
        style = rand.random()
        if style < 0.5:
            return str(rand.randint(10_000, 9_999_999))
        if style < 0.8:
            return f"usr_{rand.hex(12)}"
        return rand.uuid()

    def _app_context(self) -> dict[str, Any]:
        name, namespace = self.rand.pick(_APPS)
        version, build = self.rand.pick(_APP_VERSIONS)
        return {"name": name, "version": version, "build": build, "namespace": namespace}

    def _network(self) -> dict[str, Any]:
        wifi = self.rand.chance(0.6)
        return {"wifi": wifi, "cellular": not wifi, "carrier": self.rand.pick(_CARRIERS), "bluetooth": False}

    def _ios_profile(self) -> _Profile:
        rand = self.rand
        model, name, width, height, _scale = rand.pick(_IOS_DEVICES)
        locale, tz, offset = rand.pick(_LOCALES)
        library, version = rand.pick(_IOS_LIBRARIES)
        device: dict[str, Any] = {
            "id": rand.uuid(upper=True),
            "manufacturer": "Apple",
            "model": model,
            "name": name,
            "type": "ios",
        }
        # Post-ATT reality: many iOS users deny tracking -> zeroed IDFA or none at all.
        att = rand.random()
        if att < 0.55:
            device.update(advertisingId=rand.uuid(upper=True), adTrackingEnabled=True)
        elif att < 0.7:
            device.update(advertisingId=ZERO_AD_ID, adTrackingEnabled=False)
        else:
            device["adTrackingEnabled"] = False
        context = {
            "app": self._app_context(),
            "device": device,
            "os": {"name": "iOS", "version": rand.pick(_IOS_VERSIONS)},
            "library": {"name": library, "version": version},
            "locale": locale,
            "timezone": tz,
            "screen": {"width": width, "height": height},
            "network": self._network(),
            "ip": rand.ip(),
        }
        return _Profile(
            "ios",
            self._user_id() if rand.chance(0.55) else None,
            rand.uuid(upper=True),
            context,
            None,
            offset,
            lambda: self.rand.uuid(upper=True),
        )

    def _android_profile(self) -> _Profile:
        rand = self.rand
        maker, model, name, width, height, density = rand.pick(_ANDROID_DEVICES)
        os_version, build = rand.pick(_ANDROID_VERSIONS)
        locale, tz, offset = rand.pick(_LOCALES)
        library, version = rand.pick(_ANDROID_LIBRARIES)
        device: dict[str, Any] = {
            "id": rand.hex(16),
            "manufacturer": maker,
            "model": model,
            "name": name,
            "type": "android",
        }
        if rand.chance(0.06):  # user opted out of personalised ads: Android zeroes the AAID
            device.update(advertisingId=ZERO_AD_ID, adTrackingEnabled=False)
        else:
            device.update(advertisingId=rand.uuid(), adTrackingEnabled=True)
        context = {
            "app": self._app_context(),
            "device": device,
            "os": {"name": "Android", "version": os_version},
            "library": {"name": library, "version": version},
            "locale": locale,
            "timezone": tz,
            "screen": {"width": width, "height": height, "density": density},
            "network": self._network(),
            "userAgent": f"Dalvik/2.1.0 (Linux; U; Android {os_version}; {model} Build/{build})",
            "ip": rand.ip(),
        }
        return _Profile(
            "android", self._user_id() if rand.chance(0.5) else None, rand.uuid(), context, None, offset, self.rand.uuid
        )

    def _web_profile(self) -> _Profile:
        rand = self.rand
        locale, tz, offset = rand.pick(_LOCALES)
        library, version = rand.pick(_WEB_LIBRARIES)
        agent = rand.pick(_MOBILE_AGENTS if rand.chance(0.35) else _DESKTOP_AGENTS)
        context = {
            "library": {"name": library, "version": version},
            "locale": locale,
            "timezone": tz,
            "userAgent": agent,
            "ip": rand.ip(),
        }
        fingerprint = str(rand.randint(10**17, 10**19 - 1)) if rand.chance(0.75) else None
        # Without a fingerprint the event is importable only for logged-in users.
        user_id = self._user_id() if fingerprint is None or rand.chance(0.3) else None
        classic = version[0].isdigit()

        def message_id() -> str:
            return f"ajs-{self.rand.hex(32)}" if classic else f"ajs-next-{self.rand.hex(32)}"

        return _Profile("web", user_id, rand.uuid(), context, fingerprint, offset, message_id)

    def _server_profile(self) -> _Profile:
        library, version = self.rand.pick(_SERVER_LIBRARIES)
        context = {"library": {"name": library, "version": version}}
        return _Profile("server", self._user_id(), None, context, None, 0, self.rand.uuid)

    def profile(self) -> _Profile:
        # Squaring skews picks towards the first profiles: a few heavy users, a long tail.
        return self.profiles[int(len(self.profiles) * self.rand.random() ** 2)]

    # ---- catalog and pages

    def _catalog(self) -> list[dict[str, Any]]:
        rand = self.rand
        products = []
        for category, names, brands, variants in _CATALOG_SPEC:
            for name in names:
                for brand in brands:
                    slug = "-".join(name.lower().replace(":", "").split())
                    product_id = rand.hex(24)
                    products.append(
                        {
                            "product_id": product_id,
                            "sku": f"{category[:2].upper()}-{rand.randint(100, 999)}",
                            "name": name,
                            "brand": brand,
                            "category": category,
                            "variant": rand.pick(variants),
                            "price": rand.money(4, 240),
                            "url": f"{_SITE}/p/{slug}",
                            "image_url": f"https://cdn.shopwise.com/img/{product_id[:12]}.jpg",
                        }
                    )
        return products

    def _pages(self) -> list[tuple[dict[str, Any], dict[str, str] | None]]:
        """``(context.page, context.campaign)`` pairs; UTM-tagged landings carry a campaign."""
        pages: list[tuple[dict[str, Any], dict[str, str] | None]] = []
        for path, title in _PAGES:
            for referrer in _REFERRERS:
                pages.append(
                    ({"path": path, "referrer": referrer, "search": "", "title": title, "url": f"{_SITE}{path}"}, None)
                )
            campaign, source, medium = self.rand.pick(_CAMPAIGNS)
            search = f"?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
            pages.append(
                (
                    {"path": path, "referrer": "", "search": search, "title": title, "url": f"{_SITE}{path}{search}"},
                    {"name": campaign, "source": source, "medium": medium},
                )
            )
        return pages

    # ---- envelope

    def envelope(self, profile: _Profile, call_type: str, t_ms: int) -> Event:
        """The common Segment fields of one call by ``profile`` that happened at ``t_ms``."""
        rand = self.rand
        # Clock model: the client clock may be off; libraries batch before sending; Segment
        # stamps receivedAt and corrects: timestamp = receivedAt - (sentAt - originalTimestamp).
        skew = rand.randint(-300_000, 300_000) if profile.platform != "server" and rand.chance(0.08) else 0
        delay = rand.randint(50, 30_000) if profile.platform in ("ios", "android") else rand.randint(5, 1_500)
        latency = rand.randint(20, 900)
        original = t_ms + skew
        sent = original + delay
        received = t_ms + delay + latency
        iso = self.iso
        original_text = iso.local(original, profile.tz_offset_min) if rand.chance(0.04) else iso.utc(original)
        event: Event = {"type": call_type, "messageId": profile.message_id()}
        if profile.anonymous_id is not None:
            event["anonymousId"] = profile.anonymous_id
        if profile.user_id is not None:
            event["userId"] = profile.user_id
        context = profile.context
        if profile.platform == "web":
            page, campaign = rand.pick(self.pages)
            context = {**context, "page": page}
            if campaign is not None:
                context["campaign"] = campaign
        event.update(
            context=context,
            originalTimestamp=original_text,
            sentAt=iso.utc(sent),
            receivedAt=iso.utc(received),
            timestamp=iso.utc(received - (sent - original)),
        )
        if rand.chance(0.45):
            event["integrations"] = rand.pick(_ENABLED_INTEGRATIONS)
        return event

    # ---- track events

    def track_name(self) -> str:
        rand = self.rand
        family = rand.pick(_FAMILIES)
        if family == "ecommerce":
            name = rand.pick(_ECOMMERCE_NAMES)
        elif family == "branch_api":
            name = rand.pick(_BRANCH_API_NAMES)
        elif family == "branch_display":
            name = rand.pick(_BRANCH_DISPLAY_NAMES)
        else:
            return rand.pick(_CUSTOM_NAMES)
        if rand.chance(0.04):  # hand-typed names: casing and stray spaces (matched after trim, any case)
            return rand.pick((name.lower(), name.upper(), f" {name} ", name.title()))
        return name

    def track(self, t_ms: int, profile: _Profile | None = None, name: str | None = None) -> Event:
        """A valid, importable ``track`` event at ``t_ms``."""
        profile = profile or self.profile()
        name = name or self.track_name()
        event = self.envelope(profile, "track", t_ms)
        event["event"] = name
        properties = self.track_properties(name)
        if profile.fingerprint is not None:
            properties["browser_fingerprint_id"] = profile.fingerprint
        event["properties"] = properties
        if self.rand.chance(0.03):  # exercise the receivedAt - (sentAt - originalTimestamp) fallback
            del event["timestamp"]
        return event

    def track_properties(self, name: str) -> dict[str, Any]:
        """Properties fitting the event ``name`` (as sent: any casing, stray spaces)."""
        key = name.strip()
        if key not in self.properties:
            key = key.title().replace(" To ", " to ")  # re-cased ecommerce names
        builder = self.properties.get(key)
        if builder is not None:
            return builder(key)
        standard = "_".join(key.split()).upper()
        if standard in _BRANCH_PROPERTIES:
            return _BRANCH_PROPERTIES[standard](self)
        return _CUSTOM_PROPERTIES.get(key, _generic_custom)(self)

    # ---- ecommerce properties (Segment Ecommerce Spec V2)

    def number(self, value: float) -> float | str:
        """Mostly a number; now and then the string some clients send ("12.50")."""
        return f"{value:.2f}" if self.rand.chance(0.03) else value

    def add_currency(self, props: dict[str, Any]) -> None:
        roll = self.rand.random()
        if roll < 0.06:
            return  # missing: the importer defaults it to USD with a warning
        props["currency"] = self.rand.pick(_BAD_CURRENCIES) if roll < 0.08 else self.rand.pick(_CURRENCIES)

    def _item(self, position: int) -> dict[str, Any]:
        item = dict(self.rand.pick(self.catalog))
        item["price"] = self.number(item["price"])
        item["quantity"] = 1 if self.rand.chance(0.7) else self.rand.randint(2, 4)
        item["position"] = position
        return item

    def _items(self, most: int) -> list[dict[str, Any]]:
        return [self._item(i + 1) for i in range(self.rand.randint(1, most))]

    def _single_product(self, name: str) -> dict[str, Any]:
        props = self._item(self.rand.randint(1, 24))
        if name == "Product Added":
            props["cart_id"] = self.rand.hex(24)
        elif name == "Product Added to Wishlist":
            props.update(wishlist_id=self.rand.hex(24), wishlist_name="Loved Items")
        elif name == "Product Shared":
            props.update(
                share_via=self.rand.pick(("email", "sms", "whatsapp", "copy_link")),
                share_message="Hey, check out this item",
            )
        if self.rand.chance(0.5):
            props["value"] = props["price"]
            self.add_currency(props)
        return props

    def _product_list(self, _name: str) -> dict[str, Any]:
        category = self.rand.pick(_CATALOG_SPEC)[0]
        return {"list_id": f"{category.lower()}_list", "category": category, "products": self._items(4)}

    def _search(self, _name: str) -> dict[str, Any]:
        if self.rand.chance(0.1):  # some apps send a structured query
            return {"query": {"text": self.rand.pick(_QUERIES), "filters": {"in_stock": True, "max_price": 100}}}
        return {"query": self.rand.pick(_QUERIES)}

    def _cart(self, _name: str) -> dict[str, Any]:
        return {"cart_id": self.rand.hex(24), "products": self._items(3)}

    def _order(self, name: str) -> dict[str, Any]:
        rand = self.rand
        products = self._items(5)
        subtotal = round(sum(float(p["price"]) * p["quantity"] for p in products), 2)
        discount = rand.money(1, 10) if rand.chance(0.25) else 0.0
        shipping = rand.pick((0.0, 4.99, 7.5, 12.0))
        tax = round(subtotal * 0.08, 2)
        revenue = round(subtotal - discount, 2)
        props: dict[str, Any] = {
            "order_id": f"{rand.randint(10_000_000, 99_999_999)}",
            "affiliation": rand.pick(("Shopwise Online", "Shopwise App", "Google Store")),
        }
        if name == "Order Completed":
            props["checkout_id"] = rand.hex(24)
            props["total"] = self.number(round(revenue + shipping + tax, 2))
            props["subtotal"] = subtotal
        else:
            props["value"] = revenue
        if not (name == "Order Completed" and rand.chance(0.2)):  # some send only total
            props["revenue"] = self.number(revenue)
        props.update(shipping=shipping, tax=tax, discount=discount)
        if discount:
            props["coupon"] = rand.pick(("SUMMER10", "WELCOME5", "hasbros"))
        self.add_currency(props)
        props["products"] = products
        return props

    def _payment_info(self, _name: str) -> dict[str, Any]:
        return {
            "checkout_id": self.rand.hex(24),
            "order_id": f"{self.rand.randint(10_000_000, 99_999_999)}",
            "step": 3,
            "shipping_method": self.rand.pick(("UPS Ground", "FedEx 2Day", "Pickup")),
            "payment_method": self.rand.pick(("Visa", "Apple Pay", "PayPal", "Mastercard")),
        }

    def _review(self, _name: str) -> dict[str, Any]:
        product = self.rand.pick(self.catalog)
        return {
            "product_id": product["product_id"],
            "review_id": self.rand.hex(12),
            "review_body": self.rand.pick(_REVIEWS),
            "rating": str(self.rand.randint(1, 5)),
        }

    # ---- other call types

    def call(self, call_type: str, t_ms: int) -> Event:
        """An identify/page/screen/group/alias call (the importer skips them)."""
        rand = self.rand
        profile = self.profile()
        event = self.envelope(profile, call_type, t_ms)
        if call_type == "identify":
            event["traits"] = {
                "email": f"user{rand.randint(1, 99_999)}@example.com",
                "plan": "premium",
                "createdAt": self.iso.utc(t_ms - rand.randint(1, 400) * DAY_MS),
            }
        elif call_type in ("page", "screen"):
            event["name"] = rand.pick(_SCREENS)
            event["properties"] = {"referrer": ""} if call_type == "page" else {"from": rand.pick(_SCREENS)}
        elif call_type == "group":
            event["groupId"] = f"grp_{rand.hex(8)}"
            event["traits"] = {"name": "Initech", "industry": "Technology", "employees": 329}
        else:  # alias
            event["previousId"] = profile.anonymous_id or rand.uuid()
            event.setdefault("userId", self._user_id())
        return event

    # ---- records that fail one check each

    def touch(self, t_ms: int, profile: _Profile | None = None) -> Event:
        """A Branch touch as Segment carries it: a deep link opened (the link's data in its
        URL) or an attributed install (its campaign), by one of the profiles (or ``profile``)."""
        rand = self.rand
        campaign, channel, feature = rand.pick(_TOUCH_CAMPAIGNS)
        opened = rand.chance(0.6)
        event = self.track(t_ms, profile, name="Deep Link Opened" if opened else "Install Attributed")
        if opened:
            link = (
                f"https://shop.app.link/{self.rand.hex(8)}?~campaign={campaign}&~channel={channel}&~feature={feature}"
            )
            properties: dict[str, Any] = {"url": link}
        else:
            properties = {"provider": "Branch", "campaign": {"name": campaign, "source": channel, "medium": feature}}
        fingerprint = event["properties"].get("browser_fingerprint_id")
        event["properties"] = (
            properties if fingerprint is None else {**properties, "browser_fingerprint_id": fingerprint}
        )
        return event

    def no_identifier(self, t_ms: int) -> Event:
        """A track event that cannot be tied to a user (no userId, device ids or fingerprint)."""
        profile = self.profile()
        event = self.track(t_ms, profile)
        event.pop("userId", None)
        event["properties"].pop("browser_fingerprint_id", None)
        if profile.platform == "server":
            event["anonymousId"] = self.rand.uuid()  # Segment needs one of userId / anonymousId
        context = event["context"]
        if "device" in context:
            device = {k: v for k, v in context["device"].items() if k not in ("id", "advertisingId")}
            if self.rand.chance(0.4):  # a zeroed advertising id is not an identifier either
                device.update(advertisingId=ZERO_AD_ID, adTrackingEnabled=False)
            event["context"] = {**context, "device": device}
        return event

    def bad_record(self, kind: str, t_ms: int) -> bytes:
        """The data of a record that fails the check named by ``kind``."""
        rand = self.rand
        event = self.track(t_ms)
        if kind == "malformed_json":
            data = orjson.dumps(event)
            return data[: int(len(data) * (0.2 + 0.75 * rand.random()))]  # truncated mid-document
        if kind == "invalid_utf8":
            # Latin-1 text in a UTF-8 payload (a classic proxy/encoder bug).
            event["properties"]["note"] = "\x00MARK"
            return orjson.dumps(event).replace(b"\\u0000MARK", b"caf\xe9 cr\xe8me")
        if kind == "json_array":
            return orjson.dumps([event])  # a batch-shaped body
        if kind == "json_string":
            return orjson.dumps(orjson.dumps(event).decode())  # double-encoded
        if kind == "missing_message_id":
            del event["messageId"]
        elif kind == "invalid_message_id":
            event["messageId"] = "ajs-" + rand.hex(97)  # 101 characters
        elif kind == "missing_event_name":
            if rand.chance(0.5):
                del event["event"]
            else:
                event["event"] = ""
        elif kind == "invalid_timestamp":
            event["timestamp"] = rand.pick(_INVALID_TIMESTAMPS)
        else:
            raise ValueError(f"not a bad-record kind: {kind}")
        return orjson.dumps(event)


# --------------------------------------------------------------------------- property builders


def _credits(f: _Factory) -> dict[str, Any]:
    return {"credits": f.rand.randint(10, 500), "description": "Unlock bonus level"}


def _money_props(f: _Factory, description: str) -> dict[str, Any]:
    props: dict[str, Any] = {"revenue": f.number(f.rand.pick((4.99, 9.99, 59.99, 119.0))), "description": description}
    f.add_currency(props)
    return props


def _stream(f: _Factory) -> dict[str, Any]:
    title, artist = f.rand.pick(_SONGS)
    return {"content_id": f.rand.hex(10), "title": title, "artist": artist, "quality": "hd"}


_BRANCH_PROPERTIES: dict[str, Callable[[_Factory], dict[str, Any]]] = {
    "SPEND_CREDITS": _credits,
    "COMPLETE_REGISTRATION": lambda f: {
        "method": f.rand.pick(("email", "google", "apple")),
        "referral_code": f.rand.hex(6) if f.rand.chance(0.3) else None,
    },
    "ACHIEVE_LEVEL": lambda f: {"level": f.rand.randint(2, 80), "description": "Reached a new level"},
    "LOGIN": lambda f: {"method": f.rand.pick(("password", "google", "apple", "magic_link"))},
    "SUBSCRIBE": lambda f: {**_money_props(f, "Premium monthly"), "plan": "premium_monthly"},
    "START_TRIAL": lambda f: {"plan": "premium_monthly", "trial_days": 7},
    "INITIATE_STREAM": _stream,
    "COMPLETE_STREAM": _stream,
    "RESERVE": lambda f: {**_money_props(f, "Table for 2"), "reservation_date": "2024-12-24"},
    "CLICK_AD": lambda f: {"ad_type": "BANNER", "placement": "home_footer"},
    "VIEW_AD": lambda f: {"ad_type": "REWARDED_VIDEO", "placement": "level_end"},
    "UNLOCK_ACHIEVEMENT": lambda f: {"achievement_id": f"ach_{f.rand.randint(1, 60)}", "description": "Speedrunner"},
    "COMPLETE_TUTORIAL": lambda f: {"tutorial_id": "onboarding_v3", "duration_seconds": f.rand.randint(20, 400)},
    "INVITE": lambda f: {"channel": f.rand.pick(("sms", "whatsapp", "email")), "invitee_count": f.rand.randint(1, 5)},
}


def _song_played(f: _Factory) -> dict[str, Any]:
    title, artist = f.rand.pick(_SONGS)
    return {
        "song_id": f.rand.hex(10),
        "title": title,
        "artist": artist,
        "duration_ms": f.rand.randint(120_000, 320_000),
        "shuffle": f.rand.chance(0.4),
        "source": {"type": "playlist", "id": f.rand.hex(8), "name": "Daily Mix 2"},
    }


def _level_started(f: _Factory) -> dict[str, Any]:
    return {
        "level": f.rand.randint(1, 80),
        "world": f.rand.pick(("Caverns", "Skyforge", "Mire")),
        "difficulty": f.rand.pick(("easy", "normal", "hard")),
        "boosters": ["shield", "x2"][: f.rand.randint(0, 2)],
        "lives": f.rand.randint(0, 5),
    }


def _coupon_applied(f: _Factory) -> dict[str, Any]:
    return {
        "cart_id": f.rand.hex(24),
        "coupon_id": f.rand.hex(8),
        "coupon_name": "SUMMER10",
        "discount": f.number(f.rand.money(2, 25)),
    }


def _generic_custom(f: _Factory) -> dict[str, Any]:
    """Small custom payloads with mixed value types, as product teams send them."""
    return {
        "screen": f.rand.pick(_SCREENS),
        "variant": f.rand.pick(("A", "B")),
        "count": f.rand.randint(1, 20),
        "ratio": round(f.rand.random(), 3),
        "first_time": f.rand.chance(0.2),
        "meta": {"source": f.rand.pick(("push", "home", "search")), "experiment": None},
    }


_CUSTOM_PROPERTIES: dict[str, Callable[[_Factory], dict[str, Any]]] = {
    "Song Played": _song_played,
    "Level Started": _level_started,
    "Coupon Applied": _coupon_applied,
    "Video Watched": lambda f: {
        "video_id": f.rand.hex(11),
        "position_s": f.rand.randint(0, 600),
        "total_length": 612,
        "livestream": False,
        "quality": "1080p",
    },
    "Article Read": lambda f: {
        "article_id": f.rand.randint(1000, 9999),
        "title": "How to pack light",
        "words": 1240,
        "paywalled": f.rand.chance(0.3),
    },
    "Signed Up": lambda f: {"plan": "free", "method": f.rand.pick(("email", "google"))},
    "Ride Booked": lambda f: {
        "ride_type": "pool",
        "fare": f.number(f.rand.money(6, 40)),
        "surge": 1.2,
        "pickup": {"lat": 48.8566, "lon": 2.3522},
    },
    "Button Tapped": lambda f: {"button": f.rand.pick(("buy_now", "share", "close"))},
}


# --------------------------------------------------------------------------- planning


def _sample_plan(count: int, rand: _Rand) -> list[str]:
    """The shuffled kind of each message; every kind appears once the sample is big enough."""
    kinds: list[str] = []
    for kind, share in _SAMPLE_MIX:
        quota = round(share * count)
        kinds += [kind] * (max(quota, 1) if count >= 100 else quota)
    kinds += ["future_event"] * (2 if count >= 200 else 1 if count >= 50 else 0)
    kinds += ["valid"] * (count - len(kinds))
    rand.r.shuffle(kinds)
    # A duplicate repeats an earlier valid message, so the first message must be valid.
    if kinds and "valid" in kinds:
        first_valid = kinds.index("valid")
        kinds[0], kinds[first_valid] = kinds[first_valid], kinds[0]
    return kinds


def _event_time(factory: _Factory, index: int, count: int) -> int:
    """Times rise through the 2 h window with the message order, minus mobile batching jitter."""
    rand = factory.rand
    end = factory.now_ms - 2 * MINUTE_MS  # room for batching delay + latency before now
    since_start = (SPREAD_MS * (index + 1)) // count
    return end - SPREAD_MS + since_start - rand.randint(0, min(since_start, 3 * MINUTE_MS))


# --------------------------------------------------------------------------- public API


def generate_sample(
    count: int = 1200,
    seed: int = 42,
    now: datetime | None = None,
    apps: Sequence[str] = ("key_live_local_default",),
    unknown_app_key: str = "key_live_unknown",
) -> list[SampleMessage]:
    """A mixed, deterministic sample of ``count`` Pub/Sub messages (see ``EXPECTED_OUTCOMES``).

    Same ``(count, seed, now)`` -> same messages. ``now`` defaults to the current time, so
    pass it when determinism matters. With several ``apps``, some valid messages carry a
    ``branch_key`` attribute naming one of them.
    """
    now_ms = _to_ms(now or datetime.now(UTC))
    factory = _Factory(seed, now_ms, profile_count=max(20, min(5000, count // 6)))
    rand = factory.rand
    recent: deque[SampleMessage] = deque(maxlen=_DUPLICATE_LOOKBACK)
    messages: list[SampleMessage] = []
    for index, kind in enumerate(_sample_plan(count, rand)):
        t_ms = _event_time(factory, index, count)
        if kind == "duplicate":
            original = rand.pick(recent)
            messages.append(SampleMessage(original.data, dict(original.attributes), kind))
            continue
        message = _sample_message(factory, kind, t_ms, apps, unknown_app_key)
        if kind == "valid":
            recent.append(message)
        messages.append(message)
    return messages


def _sample_message(
    factory: _Factory, kind: str, t_ms: int, apps: Sequence[str], unknown_app_key: str
) -> SampleMessage:
    """One message of ``kind`` (anything but a duplicate) at ``t_ms``."""
    rand = factory.rand
    attributes: dict[str, str] = {}
    if kind == "valid":
        event = factory.track(t_ms)
        if len(apps) > 1 and rand.chance(0.1):
            attributes["branch_key"] = rand.pick(apps)
    elif kind in ("identify", "page", "screen", "group", "alias"):
        event = factory.call(kind, t_ms)
    elif kind == "not_imported":
        event = factory.track(t_ms, name=rand.pick(NOT_IMPORTED_NAMES))
        if is_touch_source(event["event"]):
            # Touches are the attribution sample's (tools/attribution_sample.py), whose
            # ground truth is known by construction: the random ones carry no identity.
            _strip_identity(event)
    elif kind == "integration_disabled":
        event = factory.track(t_ms)
        event["integrations"] = rand.pick(_DISABLED_INTEGRATIONS)
    elif kind == "no_identifier":
        event = factory.no_identifier(t_ms)
    elif kind == "unknown_app":
        event = factory.track(t_ms)
        attributes["branch_key"] = unknown_app_key
    elif kind == "stale_event":
        event = factory.track(factory.now_ms - rand.randint(2 * DAY_MS + HOUR_MS, 9 * DAY_MS))
        _pin_timestamp(event)
    elif kind == "future_event":
        event = factory.track(factory.now_ms + HOUR_MS + rand.randint(0, 5 * MINUTE_MS))
        _pin_timestamp(event)
    else:
        return SampleMessage(factory.bad_record(kind, t_ms), attributes, kind)
    return SampleMessage(orjson.dumps(event), attributes, kind)


def _strip_identity(event: Event) -> None:
    """Drop the event's identity keys (copies: the profile's dicts are shared with its other events)."""
    event.pop("userId", None)
    context = event.get("context", {})
    if isinstance(context.get("device"), dict):
        device = {k: v for k, v in context["device"].items() if k not in ("id", "advertisingId")}
        event["context"] = {**context, "device": device}
    if isinstance(event.get("properties"), dict):
        event["properties"] = {k: v for k, v in event["properties"].items() if k != "browser_fingerprint_id"}


def _pin_timestamp(event: Event) -> None:
    """Make ``timestamp`` decide the event time (stale/future must not hinge on the fallback)."""
    if "timestamp" not in event:
        event["timestamp"] = event["originalTimestamp"]


def _corpus_records(count: int, seed: int, now: datetime | None) -> Iterator[tuple[str, bytes]]:
    """``(kind, data)`` of each corpus record, lazily."""
    now_ms = _to_ms(now or datetime.now(UTC))
    factory = _Factory(seed, now_ms, profile_count=max(20, min(5000, count // 6)))
    rand = factory.rand
    for index in range(count):
        t_ms = _event_time(factory, index, count)
        if rand.chance(_CORPUS_BAD_SHARE):
            kind = rand.pick(CORPUS_BAD_KINDS)
            yield kind, factory.bad_record(kind, t_ms)
        elif rand.chance(_CORPUS_TOUCH_SHARE):
            yield "touch", orjson.dumps(factory.touch(t_ms))
        else:
            yield "valid", orjson.dumps(factory.track(t_ms))


def generate_corpus(count: int, seed: int, now: datetime | None = None) -> Iterator[bytes]:
    """Stream ``count`` benchmark records: valid track events plus ~2% bad records and ~1%
    touches (Branch link opens and attributed installs, skipped as events, kept as touches).

    Sizes follow real traffic: ~400 B server-side custom events up to ~2.5 KB orders with
    five products, ~1 KB on average. Nothing is held in memory beyond a profile pool.
    """
    for _kind, data in _corpus_records(count, seed, now):
        yield data


def generate_hot_user(count: int, seed: int, now: datetime | None = None, *, touches: int = 20) -> Iterator[bytes]:
    """One very active user (rules §11's hot key), to add to a corpus: ``count`` track events over
    the corpus' time span from an iOS app (its device id, and its user id when logged in) and
    the web (its browser fingerprint, and the same user id when logged in), plus ``touches``
    touches spread among them: its keys hold touches, and its logged-in conversions teach links
    across its platforms. The same records for the same arguments, whatever the corpus."""
    now_ms = _to_ms(now or datetime.now(UTC))
    factory = _Factory(seed, now_ms, profile_count=1)
    user_id = f"hot_{factory.rand.hex(12)}"
    app = factory._ios_profile()
    web = factory._web_profile()
    while web.fingerprint is None:
        web = factory._web_profile()
    profiles = (
        (replace(app, user_id=user_id), 0.6),
        (replace(app, user_id=None), 0.15),
        (replace(web, user_id=user_id), 0.15),
        (replace(web, user_id=None), 0.1),
    )
    total = count + touches
    every = max(1, total // max(touches, 1))
    for index in range(total):
        t_ms = _event_time(factory, index, total)
        roll, profile = factory.rand.random(), profiles[-1][0]
        for candidate, share in profiles:
            if roll < share:
                profile = candidate
                break
            roll -= share
        if touches and index % every == 0 and index // every < touches:
            yield orjson.dumps(factory.touch(t_ms, profile))
        else:
            yield orjson.dumps(factory.track(t_ms, profile))


# --------------------------------------------------------------------------- CLI


def write_lines(records: Iterator[tuple[str, bytes]], out: BinaryIO) -> Counter[str]:
    """Write each record's data as one line; return the count of each kind."""
    kinds: Counter[str] = Counter()
    chunk: list[bytes] = []
    for kind, data in records:
        kinds[kind] += 1
        chunk.append(data)
        if len(chunk) >= 10_000:
            out.write(b"\n".join(chunk) + b"\n")
            chunk.clear()
    if chunk:
        out.write(b"\n".join(chunk) + b"\n")
    return kinds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.samples", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--now", type=datetime.fromisoformat, default=None, help="ISO-8601 reference time (default: the current time)"
    )
    parser.add_argument("--corpus", action="store_true", help="benchmark corpus instead of a mixed sample")
    parser.add_argument("--out", default="-", help="output file, '-' for stdout")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    if args.corpus:
        records = _corpus_records(args.count, args.seed, args.now)
    else:
        records = ((m.kind, m.data) for m in generate_sample(args.count, args.seed, args.now))
    if args.out == "-":
        kinds = write_lines(records, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        with open(args.out, "wb") as out:
            kinds = write_lines(records, out)
    elapsed = time.perf_counter() - started
    summary = " ".join(f"{kind}={n}" for kind, n in kinds.most_common())
    print(f"{sum(kinds.values())} messages to {args.out} in {elapsed:.2f}s: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

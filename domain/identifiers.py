"""Platform detection and user identifiers (rules §4).

Only events that can be tied to a user are imported: an app event (iOS/Android) with an
advertising id or device id, a web event with a Branch browser fingerprint, or any event
with a Segment ``userId`` (Branch's developer identity).
"""

from __future__ import annotations

import enum
from typing import Any

from domain.values import to_bool, to_int, to_text


class Platform(str, enum.Enum):
    IOS = "IOS"
    ANDROID = "ANDROID"
    WEB = "WEB"


# Their values as plain str: what detection returns and rows hold (and the compiled form's
# typed arguments take exact str, not the enum's members).
IOS, ANDROID, WEB = Platform.IOS.value, Platform.ANDROID.value, Platform.WEB.value

_DEVICE_TYPES = {"ios": IOS, "ipados": IOS, "tvos": IOS, "watchos": IOS, "android": ANDROID}
_OS_NAMES = {"ios": IOS, "iphone os": IOS, "ipados": IOS, "tvos": IOS, "android": ANDROID}
_APP_PLATFORM = {IOS: "IOS_APP", ANDROID: "ANDROID_APP"}

# Values SDKs and apps send when they have no real id (rules §4): never an identity. Compared
# trimmed and case-folded; an app adds its own with ``placeholder_ids`` in its config.
PLACEHOLDER_IDS = frozenset(
    {"0", "-1", "null", "nil", "none", "undefined", "nan", "unknown", "anonymous", "guest", "(null)", "n/a",
     "[object object]"}
)  # fmt: skip
PLACEHOLDER_WARNING = "placeholder_identity"


class Placeholders:
    """The placeholder ids of one app (:data:`PLACEHOLDER_IDS` plus its own), as one lookup.

    Real ids are mostly longer than any placeholder, so the length is checked before the
    case-folded text is built."""

    __slots__ = ("values", "longest")

    def __init__(self, extra: tuple[str, ...] = ()) -> None:
        self.values = PLACEHOLDER_IDS | {value.strip().casefold() for value in extra if value.strip()}
        self.longest = max(len(value) for value in self.values)

    def holds(self, text: str) -> bool:
        """Whether a trimmed identifier is a placeholder."""
        return len(text) <= self.longest and text.casefold() in self.values


DEFAULT_PLACEHOLDERS = Placeholders()

# Android reports a scale factor (2.625); dpi = scale * 160, Android's baseline density.
_BASELINE_DPI = 160
_MAX_SCALE_FACTOR = 10


def _identifier(value: Any) -> str | None:
    """An identifier string, trimmed; numbers are taken as their text (some SDKs send ints)."""
    text: str  # (typed for the compiled form: docs/compiled.md)
    if type(value) is str:  # the common cases, without the generic conversion's type checks
        text = value
    elif value is None:
        return None
    else:
        converted = to_text(value)
        if converted is None:
            return None
        text = converted
    return text.strip() or None


def detect_platform(context: dict, properties: dict) -> str | None:
    """IOS, ANDROID or WEB, or None for a server-side event with no client context."""
    name: str  # (typed for the compiled form)
    device = context.get("device")
    device_type = device.get("type") if type(device) is dict else None
    if type(device_type) is str:
        # The SDKs' own spelling ("ios", "android") is a key as it is: trimmed and case-folded
        # only when it is not.
        platform = _DEVICE_TYPES.get(device_type)
        if platform:
            return platform
        name = device_type
        platform = _DEVICE_TYPES.get(name.strip().casefold())
        if platform:
            return platform
    os_info = context.get("os")
    os_name = os_info.get("name") if type(os_info) is dict else None
    if type(os_name) is str:
        name = os_name
        platform = _OS_NAMES.get(name.strip().casefold())
        if platform:
            return platform
    if (
        _identifier(properties.get("browser_fingerprint_id"))
        or _identifier(context.get("userAgent"))
        or context.get("page")
    ):
        return WEB
    return None


def web_platform(user_agent: str | None) -> str:
    if user_agent:
        if "iPhone" in user_agent or "iPad" in user_agent or "iPod" in user_agent:
            return "IOS_WEB"
        if "Android" in user_agent:
            return "ANDROID_WEB"
    return "DESKTOP_WEB"


def is_zeroed(advertising_id: str) -> bool:
    """An all-zero advertising id (iOS/Android when the user limits ad tracking)."""
    # Only zeros and dashes, and a zero among them (without building a set of the characters).
    return not advertising_id.strip("-0") and "0" in advertising_id


# Locales repeat across events: each distinct text is parsed once (bounded, like any memo here).
_LOCALES: dict[str, tuple[str | None, str | None]] = {}
_MAX_MEMOISED_LOCALES = 10_000


def _locale(value: Any) -> tuple[str | None, str | None]:
    """``en-US`` / ``en_US`` -> (``en``, ``US``); anything unrecognisable -> (None, None)."""
    if type(value) is not str:
        return None, None
    known = _LOCALES.get(value)
    if known is None:
        known = _parse_locale(value)
        if len(_LOCALES) < _MAX_MEMOISED_LOCALES:
            _LOCALES[value] = known
    return known


def _parse_locale(value: str) -> tuple[str | None, str | None]:
    parts = value.strip().replace("_", "-").split("-")
    language = parts[0].lower()
    if not (2 <= len(language) <= 3 and language.isascii() and language.isalpha()):
        return None, None
    country = None
    for part in parts[1:]:
        if len(part) == 2 and part.isascii() and part.isalpha():
            country = part.upper()
            break
    return language, country


def _screen_dpi(density: Any) -> int | None:
    if isinstance(density, bool):
        return None
    if type(density) is float and 0 < density <= _MAX_SCALE_FACTOR:
        return round(density * _BASELINE_DPI)
    number = to_int(density)
    if number is None or number <= 0:
        return None
    return number * _BASELINE_DPI if number <= _MAX_SCALE_FACTOR else number


# The columns user_data sets, in the order of the events row.
USER_COLUMNS = (
    "user_data_os",
    "user_data_platform",
    "user_data_environment",
    "user_data_developer_identity",
    "user_data_idfa",
    "user_data_idfv",
    "user_data_aaid",
    "user_data_android_id",
    "user_data_limit_ad_tracking",
    "user_data_browser_fingerprint_id",
    "user_data_user_agent",
    "user_data_ip",
    "user_data_os_version",
    "user_data_model",
    "user_data_brand",
    "user_data_app_version",
    "user_data_language",
    "user_data_country",
    "user_data_screen_width",
    "user_data_screen_height",
    "user_data_screen_dpi",
)


def user_data(
    doc: dict,
    context: dict,
    properties: dict,
    platform: str | None,
    warnings: list[str],
    row: dict[str, Any] | None = None,
    placeholders: Placeholders = DEFAULT_PLACEHOLDERS,
) -> dict[str, Any]:
    """The ``user_data_*`` columns of one event; appends warnings for dropped values.

    They are set in ``row`` (default: a new dict), which must hold every column as None
    already: only columns with a value are written. Server-side events carry no device, os,
    app or screen object, and their whole blocks are skipped. A ``userId`` or device id that
    is one of ``placeholders`` is dropped with warning ``placeholder_identity`` (rules §4).
    """
    if row is None:
        row = dict.fromkeys(USER_COLUMNS)
    user_id = doc.get("userId")
    if user_id is not None:
        developer_identity = _identifier(user_id)
        if developer_identity is None:
            if user_id != "":
                warnings.append("invalid_value:userId")
        elif placeholders.holds(developer_identity):
            warnings.append(PLACEHOLDER_WARNING)
        else:
            row["user_data_developer_identity"] = developer_identity

    device = context.get("device")
    if type(device) is dict:
        device_info: dict = device  # (typed for the compiled form)
        advertising_id = _identifier(device_info.get("advertisingId"))
        device_id = _identifier(device_info.get("id"))
        if device_id is not None and placeholders.holds(device_id):
            device_id = None
            if PLACEHOLDER_WARNING not in warnings:
                warnings.append(PLACEHOLDER_WARNING)
        ad_tracking = device_info.get("adTrackingEnabled")
        if ad_tracking is not None:
            # A user's tracking choice: honoured as a boolean, "true"/"false" or 1/0 (SDKs and
            # server libraries send each); anything else is dropped with a warning.
            enabled = to_bool(ad_tracking)
            if enabled is None:
                warnings.append("invalid_value:adTrackingEnabled")
            else:
                row["user_data_limit_ad_tracking"] = not enabled
        if advertising_id is not None and is_zeroed(advertising_id):
            advertising_id = None
            row["user_data_limit_ad_tracking"] = True
            warnings.append("zeroed_advertising_id")
        if platform == IOS:
            row["user_data_idfa"], row["user_data_idfv"] = advertising_id, device_id
        elif platform == ANDROID:
            row["user_data_aaid"], row["user_data_android_id"] = advertising_id, device_id
        row["user_data_model"] = _identifier(device_info.get("model"))
        row["user_data_brand"] = _identifier(device_info.get("manufacturer"))

    # (Columns that are often absent are written only with a value: the row holds None.)
    user_agent = _identifier(context.get("userAgent"))
    if user_agent is not None:
        row["user_data_user_agent"] = user_agent
    fingerprint = _identifier(properties.get("browser_fingerprint_id"))
    if fingerprint is not None:
        row["user_data_browser_fingerprint_id"] = fingerprint
    locale = context.get("locale")
    if locale is not None:
        row["user_data_language"], row["user_data_country"] = _locale(locale)
    if platform is not None:
        row["user_data_os"] = platform
        if platform == WEB:
            row["user_data_platform"], row["user_data_environment"] = web_platform(user_agent), "FULL_WEB"
        else:
            row["user_data_platform"], row["user_data_environment"] = _APP_PLATFORM[platform], "FULL_APP"

    row["user_data_ip"] = _identifier(context.get("ip"))
    info: dict
    os_info = context.get("os")
    if type(os_info) is dict:
        info = os_info
        row["user_data_os_version"] = _identifier(info.get("version"))
    app = context.get("app")
    if type(app) is dict:
        info = app
        row["user_data_app_version"] = _identifier(info.get("version"))
    screen = context.get("screen")
    if type(screen) is dict:
        info = screen
        row["user_data_screen_width"] = to_int(info.get("width"))
        row["user_data_screen_height"] = to_int(info.get("height"))
        row["user_data_screen_dpi"] = _screen_dpi(info.get("density"))
    return row


def is_identifiable(user: dict[str, Any]) -> bool:
    """The seed's rules: app platform + advertising/device id, web + fingerprint, or a userId."""
    if user["user_data_developer_identity"] is not None:
        return True
    platform = user["user_data_os"]
    if platform == IOS:
        return user["user_data_idfa"] is not None or user["user_data_idfv"] is not None
    if platform == ANDROID:
        return user["user_data_aaid"] is not None or user["user_data_android_id"] is not None
    if platform == WEB:
        return user["user_data_browser_fingerprint_id"] is not None
    return False

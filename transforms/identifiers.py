"""Platform detection and user identifiers (SPEC section 4).

Only events that can be tied to a user are imported: an app event (iOS/Android) with an
advertising id or device id, a web event with a Branch browser fingerprint, or any event
with a Segment ``userId`` (Branch's developer identity).
"""
from __future__ import annotations

from typing import Any

from transforms.values import to_int, to_text

IOS = "IOS"
ANDROID = "ANDROID"
WEB = "WEB"

_DEVICE_TYPES = {"ios": IOS, "ipados": IOS, "tvos": IOS, "watchos": IOS, "android": ANDROID}
_OS_NAMES = {"ios": IOS, "iphone os": IOS, "ipados": IOS, "tvos": IOS, "android": ANDROID}
_APP_PLATFORM = {IOS: "IOS_APP", ANDROID: "ANDROID_APP"}

# Android reports a scale factor (2.625); dpi = scale * 160, Android's baseline density.
_BASELINE_DPI = 160
_MAX_SCALE_FACTOR = 10

_EMPTY: dict = {}


def _obj(value: Any) -> dict:
    return value if type(value) is dict else _EMPTY


def _identifier(value: Any) -> str | None:
    """An identifier string, trimmed; numbers are taken as their text (some SDKs send ints)."""
    if type(value) is str:  # the common case, without the generic conversion's type checks
        return value.strip() or None
    text = to_text(value)
    if text is None:
        return None
    text = text.strip()
    return text or None


def detect_platform(context: dict, properties: dict) -> str | None:
    """IOS, ANDROID or WEB, or None for a server-side event with no client context."""
    device_type = _obj(context.get("device")).get("type")
    if type(device_type) is str:
        platform = _DEVICE_TYPES.get(device_type.strip().casefold())
        if platform:
            return platform
    os_name = _obj(context.get("os")).get("name")
    if type(os_name) is str:
        platform = _OS_NAMES.get(os_name.strip().casefold())
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
    return set(advertising_id.replace("-", "")) == {"0"}


def _locale(value: Any) -> tuple[str | None, str | None]:
    """``en-US`` / ``en_US`` -> (``en``, ``US``); anything unrecognisable -> (None, None)."""
    if type(value) is not str:
        return None, None
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


def user_data(doc: dict, context: dict, properties: dict, platform: str | None, warnings: list[str]) -> dict[str, Any]:
    """The ``user_data_*`` columns of one event; appends warnings for dropped values."""
    device = _obj(context.get("device"))
    os_info = _obj(context.get("os"))
    app = _obj(context.get("app"))
    screen = _obj(context.get("screen"))

    developer_identity = _identifier(doc.get("userId"))
    if developer_identity is None and doc.get("userId") not in (None, ""):
        warnings.append("invalid_value:userId")

    advertising_id = _identifier(device.get("advertisingId"))
    device_id = _identifier(device.get("id"))
    limit_ad_tracking = None
    ad_tracking = device.get("adTrackingEnabled")
    if ad_tracking is False:
        limit_ad_tracking = True
    elif ad_tracking is True:
        limit_ad_tracking = False
    if advertising_id is not None and is_zeroed(advertising_id):
        advertising_id = None
        limit_ad_tracking = True
        warnings.append("zeroed_advertising_id")

    user_agent = _identifier(context.get("userAgent"))
    fingerprint = _identifier(properties.get("browser_fingerprint_id"))
    language, country = _locale(context.get("locale"))
    is_ios, is_android = platform == IOS, platform == ANDROID

    if platform == WEB:
        finer, environment = web_platform(user_agent), "FULL_WEB"
    elif platform is not None:
        finer, environment = _APP_PLATFORM[platform], "FULL_APP"
    else:
        finer = environment = None

    return {
        "user_data_os": platform,
        "user_data_platform": finer,
        "user_data_environment": environment,
        "user_data_developer_identity": developer_identity,
        "user_data_idfa": advertising_id if is_ios else None,
        "user_data_idfv": device_id if is_ios else None,
        "user_data_aaid": advertising_id if is_android else None,
        "user_data_android_id": device_id if is_android else None,
        "user_data_limit_ad_tracking": limit_ad_tracking,
        "user_data_browser_fingerprint_id": fingerprint,
        "user_data_user_agent": user_agent,
        "user_data_ip": _identifier(context.get("ip")),
        "user_data_os_version": _identifier(os_info.get("version")),
        "user_data_model": _identifier(device.get("model")),
        "user_data_brand": _identifier(device.get("manufacturer")),
        "user_data_app_version": _identifier(app.get("version")),
        "user_data_language": language,
        "user_data_country": country,
        "user_data_screen_width": to_int(screen.get("width")),
        "user_data_screen_height": to_int(screen.get("height")),
        "user_data_screen_dpi": _screen_dpi(screen.get("density")),
    }


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

"""The importer's domain core: one Segment message in, exactly one outcome out.

:func:`process_message` runs the checks in the order of rules §2 (size, decode, object, messageId,
call type, event name, app, integrations, not-imported name, timestamp, identifiers,
platform, row schema); the first that fails decides the outcome. It never raises: any
input gets ``imported`` (with its ``events`` row), ``skipped`` or ``rejected`` (with a
reason code and a human-readable detail). Duplicates are decided later, across messages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import traceback
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from domain import event_names
from domain.config import AppConfig, ImporterConfig
from domain.decoder import decode
from domain.identifiers import (
    PLACEHOLDER_WARNING,
    USER_COLUMNS,
    Placeholders,
    detect_platform,
    is_identifiable,
    user_data,
)
from domain.properties import PROPERTY_COLUMNS, map_properties
from domain.row_schema import RowValidator
from domain.timestamps import InvalidTimestamp, bq_timestamp_of, bq_timestamp_text, event_time, to_bq_timestamp
from domain.touches import (
    ATTRIBUTION_COLUMNS,
    INSTALL_ATTRIBUTED,
    Touch,
    Windows,
    carries_link_data,
    identity_keys,
    is_touch_source,
    link_data,
    touch_type,
)
from domain.values import to_text
from schemas.reasons import Outcome, Reason
from schemas.tables import EVENTS, schema_fields

DEFAULT_MAX_PAYLOAD_BYTES = 1 << 20
DEFAULT_MAX_EVENT_AGE = timedelta(hours=24)
DEFAULT_MAX_CLOCK_SKEW = timedelta(minutes=10)
MAX_MESSAGE_ID_LENGTH = 100
MAX_ERROR_TEXT = 500  # characters of an internal error's message kept in its dead letter
ORIGIN = "SEGMENT"
BRANCH_KEY_ATTRIBUTE = "branch_key"

_EMPTY: dict = {}
_IMPORTED = Outcome.IMPORTED  # (read per message: a module constant, not a class attribute)

# The columns the mapping writes, in the schema's order: every events column but the ones the
# attribution stage sets when it finds a conversion's touch (rules §9). Until then a row lacks
# them (NULL in BigQuery), so that the unattributed rows, most of them, are packed, shuffled
# and loaded without sixteen nulls each.
MAPPED_FIELDS = [
    field
    for field in schema_fields(EVENTS)
    if field["name"] == "attributed" or field["name"] not in ATTRIBUTION_COLUMNS
]
MAPPED_VALIDATOR = RowValidator(MAPPED_FIELDS)  # what a mapped row must fit
_MAPPED_ROW_FITS = MAPPED_VALIDATOR.fits

# A mapped row with every column None, in that order: process_message fills a copy (one
# C-level copy; then only the columns with a value are written), and the row validator reads
# it in that order (compiled, in one pass). The list columns (content_items, warnings) are
# always set to fresh lists, never shared from here. Names interned: the same objects as the
# mapping's and the validator's column names.
_ROW_TEMPLATE: dict[str, Any] = dict.fromkeys(sys.intern(field["name"]) for field in MAPPED_FIELDS)
_ROW_TEMPLATE["origin"] = ORIGIN
_ROW_TEMPLATE["attributed"] = False  # (the attribution stage sets the rest when it finds a touch)
assert _ROW_TEMPLATE.keys() == {
    "id",
    "app_id",
    "name",
    "customer_event_alias",
    "category",
    "topic",
    "origin",
    "timestamp",
    "received_at",
    "ingested_at",
    "segment_message_id",
    "segment_anonymous_id",
    *USER_COLUMNS,
    *PROPERTY_COLUMNS,
    "warnings",
    "attributed",
}, "events columns changed"


class _EventName(NamedTuple):
    """What the mapping derives from a Segment event name, for one app."""

    name: str
    category: str
    topic: str
    not_imported: bool
    single_product: bool
    double_tracking: bool


# Distinct event names memoised per app: real traffic has a few hundred; past the bound
# (a flood of unique names) the rest are worked out each time instead.
_MAX_MEMOISED_NAMES = 10_000


@dataclasses.dataclass(frozen=True)
class _App:
    """An app's config, pre-digested for the hot path."""

    config: AppConfig
    overrides: dict[str, tuple[str, str]]
    native_keys: frozenset[str]
    _names: dict[str, _EventName] = dataclasses.field(default_factory=dict, compare=False, repr=False)
    # The config's values read per message, as plain attributes rather than the pydantic model's.
    app_id: str = dataclasses.field(init=False)
    enabled_platforms: frozenset = dataclasses.field(init=False)
    windows: Windows = dataclasses.field(init=False)
    placeholders: Placeholders = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "app_id", self.config.app_id)  # (frozen: set once, here)
        object.__setattr__(self, "enabled_platforms", self.config.enabled_platforms)
        object.__setattr__(self, "windows", self.config.attribution.windows())
        object.__setattr__(self, "placeholders", Placeholders(self.config.placeholder_ids))

    def event_name(self, segment_name: str) -> _EventName:
        """The Branch name, category and flags of a (non-blank) Segment event name."""
        known = self._names.get(segment_name)
        if known is not None:
            return known
        name, category = event_names.resolve_event(segment_name, self.overrides)
        segment_key = event_names.name_key(segment_name)
        known = _EventName(
            name,
            category,
            event_names.TOPIC_BY_CATEGORY[category],
            not_imported=event_names.is_not_imported(segment_name, name),
            single_product=segment_key in event_names.SINGLE_PRODUCT_EVENTS,
            double_tracking=segment_key in self.native_keys or event_names.name_key(name) in self.native_keys,
        )
        if len(self._names) < _MAX_MEMOISED_NAMES:
            self._names[segment_name] = known
        return known


class ImportSettings:
    """Everything :func:`process_message` needs besides the message: apps and limits."""

    def __init__(
        self,
        config: ImporterConfig,
        *,
        default_app_id: str | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        max_event_age: timedelta | None = DEFAULT_MAX_EVENT_AGE,
        max_clock_skew: timedelta | None = DEFAULT_MAX_CLOCK_SKEW,
    ) -> None:
        self.config = config
        self.max_payload_bytes = max_payload_bytes
        self.max_event_age = max_event_age
        self.max_clock_skew = max_clock_skew
        self._apps_by_key = {
            app.branch_key: _App(app, app.override_lookup(), app.native_event_keys()) for app in config.apps
        }
        default_id = default_app_id or config.default_app_id
        if default_id is None and len(config.apps) == 1:
            default_id = config.apps[0].app_id
        self.default_app = next((a for a in self._apps_by_key.values() if a.config.app_id == default_id), None)
        # Each app's attribution windows, by app id (rules §9).
        self.windows: dict[str, Windows] = {a.app_id: a.windows for a in self._apps_by_key.values()}
        if default_id is not None and self.default_app is None:
            raise ValueError(f"default app {default_id!r} is not in the app config")

    def app_for(self, attributes: Mapping[str, str] | None) -> _App | None:
        key = attributes.get(BRANCH_KEY_ATTRIBUTE) if attributes else None
        if key is None:
            return self.default_app
        return self._apps_by_key.get(key)


@dataclasses.dataclass(slots=True)
class MappingOutcome:
    """The fate of one message, with what the pipeline needs to route, dedup and count it."""

    outcome: Outcome
    reason: Reason | None = None
    detail: str | None = None
    row: dict[str, Any] | None = None
    app_id: str | None = None
    message_id: str | None = None
    event_name: str | None = None  # the Branch name, once the message got that far
    platform: str | None = None
    event_time: datetime | None = None
    # A touch source (rules §9): its touch, or why none was recorded.
    touch: Touch | None = None
    touch_dropped: str | None = None
    # The event name as Segment sent it (``event_name`` is the Branch name, where known).
    segment_event: str | None = None
    # A placeholder userId or device id was dropped (rules §4): counted by the pipeline.
    placeholder_identity: bool = False

    def to_json(self, *, explain: bool = False) -> dict[str, Any]:
        result = {
            "outcome": self.outcome.value,
            "reason": self.reason.value if self.reason else None,
            "row": self.row,
        }
        if explain:
            result["detail"] = self.detail
        return result


def event_id(app_id: str, message_id: str) -> str:
    """Deterministic event id: the same Segment message always gets the same id.

    BLAKE2b-128 of ``app_id``, U+001F and ``message_id``: a copy of the app's hash state
    after the prefix, fed the message id.
    """
    prefix = _ID_PREFIXES.get(app_id)
    if prefix is None:
        prefix = hashlib.blake2b(f"{app_id}\x1f".encode(), digest_size=16)
        if len(_ID_PREFIXES) < _MAX_MEMOISED_NAMES:
            _ID_PREFIXES[app_id] = prefix
    digest = prefix.copy()
    digest.update(message_id.encode())
    return digest.hexdigest()


_ID_PREFIXES: dict[str, Any] = {}  # app id -> hash state after the prefix (apps are few)


def _rejected(
    reason: Reason,
    detail: str,
    app_id: str | None = None,
    message_id: str | None = None,
    segment_event: str | None = None,
    platform: str | None = None,
    branch_event: str | None = None,
) -> MappingOutcome:
    """A skipped or rejected outcome: ``segment_event`` as Segment sent it, ``branch_event``
    the Branch name when the mapping got that far (one name per column, whatever the reason)."""
    return MappingOutcome(
        reason.outcome, reason, detail, None, app_id, message_id, branch_event, platform, segment_event=segment_event
    )


def integrations_disabled(integrations: Any) -> bool:
    """Segment's per-destination opt-out: ``Branch Metrics``/``Branch`` false, or ``All`` false."""
    if type(integrations) is not dict or not integrations:
        return False
    switches: dict = integrations  # (typed for the compiled form)
    branch_metrics, branch = switches.get("Branch Metrics"), switches.get("Branch")
    if branch_metrics is False or branch is False:
        return True
    if switches.get("All") is False:  # unless Branch is switched back on by name
        return branch_metrics is None and branch is None
    return False


def process_message(
    data: bytes,
    attributes: Mapping[str, str] | None,
    publish_time: datetime | None,
    settings: ImportSettings,
    now: datetime,
) -> MappingOutcome:
    """Decide the outcome of one Segment message (see the module docstring).

    Failsafe (rules §10): an unexpected exception, which can only be a bug, becomes the
    outcome ``internal_error`` with the error's text, so that the pipeline dead-letters the
    message (raw payload kept, for a replay after the fix) instead of retrying it forever.
    """
    try:
        return _decide(data, attributes, publish_time, settings, now)
    except Exception as error:  # noqa: BLE001 - any bug, by design
        return _rejected(Reason.INTERNAL_ERROR, error_text(error))


def _touch(
    doc: dict,
    ctx: dict,
    properties: dict | None,
    platform: str | None,
    publish_time: datetime | None,
    now: datetime,
    app: _App,
    message_id: str,
    segment_name: str,
) -> tuple[Touch | None, str | None, bool]:
    """The touch a touch-source message carries (rules §9), or None and why none is recorded;
    and whether a placeholder id was dropped from its identity (rules §4)."""
    props: dict = properties if properties is not None else _EMPTY
    try:
        when = event_time(doc, publish_time, now)
    except InvalidTimestamp:
        return None, "invalid_timestamp", False
    warnings: list[str] = []
    keys = identity_keys(user_data(doc, ctx, props, platform, warnings, None, app.placeholders))
    placeholder = PLACEHOLDER_WARNING in warnings
    if not keys:
        return None, "no_identity", placeholder
    if event_names.is_branch_event(segment_name) and not carries_link_data(props):
        return None, "no_link_data", placeholder
    link = link_data(segment_name, props, warnings)
    provider = props.get("provider") if event_names.name_key(segment_name) == INSTALL_ATTRIBUTED else None
    return (
        Touch(
            id=event_id(app.app_id, message_id),
            app_id=app.app_id,
            type=touch_type(props),
            timestamp=when,
            source=segment_name.strip(),
            keys=keys,
            link=tuple(link.items()),
            segment_message_id=message_id,
            provider=provider if type(provider) is str else None,
            warnings=tuple(warnings),
        ),
        None,
        placeholder,
    )


def error_text(error: BaseException) -> str:
    """An exception as one bounded line: its type, message and where it was raised."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return f"{type(error).__name__}: {error}"[:MAX_ERROR_TEXT] + where


def _decide(
    data: bytes,
    attributes: Mapping[str, str] | None,
    publish_time: datetime | None,
    settings: ImportSettings,
    now: datetime,
) -> MappingOutcome:
    """The checks in the order of rules §2, phase by phase: each phase returns the outcome that ends
    the message there, or what the next phase needs."""
    app = settings.app_for(attributes)
    app_id = app.app_id if app else None
    envelope = _envelope(data, settings, app_id)
    if isinstance(envelope, MappingOutcome):
        return envelope
    # (Locals annotated dict or str are typed for the compiled form: docs/compiled.md.)
    doc: dict = envelope
    message_id: str = doc["messageId"]  # (checked by _envelope)
    context = doc.get("context")
    ctx: dict = context if type(context) is dict else _EMPTY
    properties = doc.get("properties")
    properties = properties if type(properties) is dict else None
    platform = detect_platform(ctx, properties or _EMPTY)
    event = doc.get("event")
    segment_name: str | None = event if type(event) is str else None

    routed = _route(doc, attributes, app, message_id, segment_name, platform)
    if routed is not None:
        return routed
    assert app is not None and segment_name is not None  # (_route rejected a message without them)
    names: dict = app._names  # (the memo, read here first: a method call only for a new name)
    known = names.get(segment_name) or app.event_name(segment_name)
    name = known.name
    if known.not_imported:
        return _not_imported(doc, ctx, properties, platform, publish_time, now, app, message_id, segment_name, name)
    timed = _timed(doc, publish_time, now, settings, app.app_id, message_id, segment_name, platform)
    if isinstance(timed, MappingOutcome):
        return timed
    when = timed

    warnings: list[str] = []
    if properties is None:
        if doc.get("properties") is not None:
            warnings.append("invalid_value:properties")
        properties = _EMPTY
    row: dict = _ROW_TEMPLATE.copy()
    unidentified = _identity(doc, ctx, properties, platform, warnings, row, app, message_id, segment_name, name)
    if unidentified is not None:
        return unidentified
    return _row(
        doc, properties, row, warnings, publish_time, now, app.app_id, message_id, segment_name, platform, known, when
    )


def _envelope(data: bytes, settings: ImportSettings, app_id: str | None) -> dict | MappingOutcome:
    """Size, JSON, object, messageId: the document, or the outcome that ends the message."""
    if len(data) > settings.max_payload_bytes:
        return _rejected(Reason.PAYLOAD_TOO_LARGE, f"{len(data)} bytes > limit {settings.max_payload_bytes}", app_id)
    try:
        decoded = decode(data)
    except ValueError as error:
        return _rejected(Reason.MALFORMED_JSON, str(error), app_id)
    if type(decoded) is not dict:
        return _rejected(Reason.NOT_AN_OBJECT, f"JSON {type(decoded).__name__}, expected an object", app_id)
    doc: dict = decoded
    sent_id = doc.get("messageId")
    if sent_id is None or sent_id == "":
        return _rejected(Reason.MISSING_MESSAGE_ID, "messageId is missing", app_id)
    if type(sent_id) is not str:
        return _rejected(
            Reason.INVALID_MESSAGE_ID, f"messageId must be 1-100 characters: {type(sent_id).__name__!r}", app_id
        )
    message_id: str = sent_id
    if len(message_id) > MAX_MESSAGE_ID_LENGTH or not message_id.strip():
        return _rejected(Reason.INVALID_MESSAGE_ID, f"messageId must be 1-100 characters: {message_id[:40]!r}", app_id)
    return doc


def _route(
    doc: dict,
    attributes: Mapping[str, str] | None,
    app: _App | None,
    message_id: str,
    segment_name: str | None,
    platform: str | None,
) -> MappingOutcome | None:
    """Call type, event name, app and integrations: the outcome that ends the message, or None."""
    app_id = app.app_id if app else None
    call_type = doc.get("type")
    if call_type != "track" and not (type(call_type) is str and call_type.strip().casefold() == "track"):
        shown = (
            repr(call_type[:40])
            if type(call_type) is str
            else "missing"
            if call_type is None
            else type(call_type).__name__
        )
        return _rejected(Reason.UNSUPPORTED_CALL_TYPE, f"call type {shown}", app_id, message_id, segment_name, platform)
    if segment_name is None or not segment_name.strip():
        return _rejected(
            Reason.MISSING_EVENT_NAME, "track call without an event name", app_id, message_id, segment_name, platform
        )
    if app is None:
        key = attributes.get(BRANCH_KEY_ATTRIBUTE) if attributes else None
        detail = "no branch_key attribute and no default app" if key is None else "branch_key matches no app"
        return _rejected(Reason.UNKNOWN_APP, detail, app_id, message_id, segment_name, platform)
    if integrations_disabled(doc.get("integrations")):
        return _rejected(
            Reason.INTEGRATION_DISABLED, "integrations opt out of Branch", app_id, message_id, segment_name, platform
        )
    return None


def _not_imported(
    doc: dict,
    ctx: dict,
    properties: dict | None,
    platform: str | None,
    publish_time: datetime | None,
    now: datetime,
    app: _App,
    message_id: str,
    segment_name: str,
    name: str,
) -> MappingOutcome:
    """An event Branch tracks itself: skipped, with its touch when it is a touch source."""
    skipped = _rejected(
        Reason.NOT_IMPORTED_EVENT,
        f"{segment_name.strip()!r} is tracked by Branch itself",
        app.app_id,
        message_id,
        segment_name,
        platform,
        name,
    )
    if is_touch_source(segment_name):
        skipped.touch, skipped.touch_dropped, skipped.placeholder_identity = _touch(
            doc, ctx, properties, platform, publish_time, now, app, message_id, segment_name
        )
    return skipped


def _timed(
    doc: dict,
    publish_time: datetime | None,
    now: datetime,
    settings: ImportSettings,
    app_id: str,
    message_id: str,
    segment_name: str,
    platform: str | None,
) -> datetime | MappingOutcome:
    """The event time, or the outcome of one invalid, stale or from the future."""
    try:
        when = event_time(doc, publish_time, now)
    except InvalidTimestamp as error:
        return _rejected(Reason.INVALID_TIMESTAMP, str(error), app_id, message_id, segment_name, platform)
    # Measured against when Pub/Sub got the message, not when the pipeline reads it (rules §10):
    # a backlog after an outage must not turn on-time events into stale ones.
    reference = publish_time if publish_time is not None else now
    basis = "its publish time" if publish_time is not None else "now"
    if settings.max_event_age is not None and when < reference - settings.max_event_age:
        return _rejected(
            Reason.STALE_EVENT,
            f"event time {to_bq_timestamp(when)} older than {settings.max_event_age} before {basis}",
            app_id,
            message_id,
            segment_name,
            platform,
        )
    if settings.max_clock_skew is not None and when > reference + settings.max_clock_skew:
        return _rejected(
            Reason.FUTURE_EVENT,
            f"event time {to_bq_timestamp(when)} ahead of {basis} by more than {settings.max_clock_skew}",
            app_id,
            message_id,
            segment_name,
            platform,
        )
    return when


def _identity(
    doc: dict,
    ctx: dict,
    properties: dict,
    platform: str | None,
    warnings: list,
    row: dict,
    app: _App,
    message_id: str,
    segment_name: str,
    name: str,
) -> MappingOutcome | None:
    """Writes the user columns into ``row``; the outcome of a message without an identity or
    from a platform the app does not enable, else None."""
    user_data(doc, ctx, properties, platform, warnings, row, app.placeholders)
    if not is_identifiable(row):
        placeholder = PLACEHOLDER_WARNING in warnings
        rejected = _rejected(
            Reason.NO_IDENTIFIER,
            "no userId, device id, advertising id or browser fingerprint"
            + (" (a placeholder id is not an identity)" if placeholder else ""),
            app.app_id,
            message_id,
            segment_name,
            platform,
            name,
        )
        rejected.placeholder_identity = placeholder
        return rejected
    if platform is not None and platform not in app.enabled_platforms:
        return _rejected(
            Reason.PLATFORM_NOT_ENABLED,
            f"platform {platform} is not enabled for {app.app_id}",
            app.app_id,
            message_id,
            segment_name,
            platform,
            name,
        )
    return None


def _row(
    doc: dict,
    properties: dict,
    row: dict,
    warnings: list,
    publish_time: datetime | None,
    now: datetime,
    app_id: str,
    message_id: str,
    segment_name: str,
    platform: str | None,
    known: _EventName,
    when: datetime,
) -> MappingOutcome:
    """Fills ``row`` (its user columns already written): the imported outcome, or the
    rejection of a row that does not fit the table."""
    name, category, topic, _, single_product, double_tracking = known
    map_properties(properties, category, single_product, warnings, row)
    if double_tracking:
        warnings.append("double_tracking")
    received = doc.get("receivedAt")
    if received is not None:
        try:
            row["received_at"] = bq_timestamp_text(received, "receivedAt")
        except InvalidTimestamp:
            warnings.append("invalid_value:receivedAt")
    if row["received_at"] is None and publish_time:
        row["received_at"] = to_bq_timestamp(publish_time)
    anonymous_id = doc.get("anonymousId")
    if anonymous_id is not None:
        row["segment_anonymous_id"] = to_text(anonymous_id) or None
    row["id"] = event_id(app_id, message_id)
    row["app_id"] = app_id
    row["name"] = name
    row["customer_event_alias"] = segment_name
    row["category"] = category
    row["topic"] = topic
    timestamp = doc.get("timestamp")
    # The timestamp field decided the event time when present (see event_time): its text.
    row["timestamp"] = bq_timestamp_of(timestamp, when) if timestamp is not None else to_bq_timestamp(when)
    row["ingested_at"] = to_bq_timestamp(now)
    row["segment_message_id"] = message_id
    row["warnings"] = warnings
    if not _MAPPED_ROW_FITS(row):  # (the validator's predicate, called directly: the walk names a misfit)
        violation = MAPPED_VALIDATOR.validate(row)
        if violation:
            return _rejected(Reason.SCHEMA_VIOLATION, violation, app_id, message_id, segment_name, platform, name)
    return MappingOutcome(
        _IMPORTED,
        None,
        None,
        row,
        app_id,
        message_id,
        name,
        platform,
        when,
        segment_event=segment_name,
        placeholder_identity=bool(warnings) and PLACEHOLDER_WARNING in warnings,
    )

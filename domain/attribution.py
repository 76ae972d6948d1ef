"""Attribution (rules §9): touches, and which touch a conversion is attributed to.

A *touch* is a Branch link click or ad impression known for a user: from Segment's
``Install Attributed``, ``Deep Link Opened`` / ``Deep Link Clicked`` and Branch's own exported
events (``branch_<NAME>``) in the stream, or from Branch's export files. A *conversion* is an
imported event. Both carry identity keys (developer identity, advertising id, device id,
browser fingerprint; never the anonymousId).

The rule, per app: a conversion at event time ``t`` is attributed to a touch sharing an
identity key with it, with ``touch time <= t`` and ``t - touch time`` within the window of the
touch's type. Precedence: deterministic click (a shared developer identity, advertising id or
device id) > probabilistic click (only the browser fingerprint shared) > deterministic
impression; within a class the latest touch, ties by touch id; an impression sharing only
the fingerprint never attributes. Cross-platform, one hop: the touch a conversion is
attributed to through its own keys (the best of its *direct* touches) becomes known under the
conversion's other keys (*linked*), where later conversions can claim it; a linked touch is
never passed on again. So what a conversion teaches depends on direct touches only, which
lets a Beam graph (acyclic) decide exactly as the in-memory state does (docs/attribution.md).

:func:`choose` decides and :func:`links_of` says what a conversion teaches; both are used by
the in-memory :class:`AttributionState` (``segment-branch map --attribute``) and by the
pipeline's stateful stages, so both decide alike.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import orjson

from domain.event_names import is_branch_event, name_key
from domain.timestamps import micros_of, moment_of, parse_timestamp, to_bq_timestamp
from domain.values import to_text

CLICK = "CLICK"
IMPRESSION = "IMPRESSION"

# Identity key kinds, strongest first (the order of ``attribution_match``).
DEVELOPER_IDENTITY = "developer_identity"
ADVERTISING_ID = "advertising_id"
DEVICE_ID = "device_id"
BROWSER_FINGERPRINT = "browser_fingerprint"
KEY_KINDS = (DEVELOPER_IDENTITY, ADVERTISING_ID, DEVICE_ID, BROWSER_FINGERPRINT)
_KEY_RANK = {kind: rank for rank, kind in enumerate(KEY_KINDS)}

# Branch's link data, as ``last_attributed_touch_data_tilde_<key>`` columns.
LINK_KEYS = (
    "id", "campaign", "campaign_id", "channel", "feature", "stage", "tags", "advertising_partner_name",
    "ad_set_name", "ad_name", "creative_name", "keyword",
)  # fmt: skip
LINK_COLUMN_PREFIX = "last_attributed_touch_data_tilde_"
# The attribution columns of ``events``, in the schema's order.
ATTRIBUTION_COLUMNS = (
    "attributed",
    "last_attributed_touch_type",
    "last_attributed_touch_timestamp",
    *(LINK_COLUMN_PREFIX + key for key in LINK_KEYS),
    "days_from_last_attributed_touch_to_event",
    "attribution_match",
)

# Segment's mobile spec: Install Attributed's campaign object -> Branch link keys.
_CAMPAIGN_FIELDS = {
    "name": "campaign", "source": "channel", "medium": "feature", "ad_group": "ad_set_name",
    "ad_creative": "creative_name", "term": "keyword",
}  # fmt: skip
# UTM parameters of a deep link URL -> Branch link keys (a "~" key of the same link wins).
_UTM_FIELDS = {"utm_campaign": "campaign", "utm_source": "channel", "utm_medium": "feature", "utm_term": "keyword"}
MAX_LINK_VALUE = 1024  # characters: a longer value is dropped with a warning

LINK_SOURCE = "link"  # the ``source`` of a link's ``touches`` row (KeyTouches: a touch with a teacher)
INSTALL_ATTRIBUTED = "install attributed"
DEEP_LINK_EVENTS = frozenset({"deep link opened", "deep link clicked"})

DEFAULT_CLICK_WINDOW_DAYS = 7.0
DEFAULT_IMPRESSION_WINDOW_DAYS = 1.0


def is_touch_source(segment_name: str) -> bool:
    """Whether a (not imported) Segment event may carry a touch."""
    key = name_key(segment_name)
    return key == INSTALL_ATTRIBUTED or key in DEEP_LINK_EVENTS or is_branch_event(segment_name)


@dataclasses.dataclass(frozen=True)
class Windows:
    """An app's attribution windows; ``None`` turns a touch type off."""

    click: timedelta | None = timedelta(days=DEFAULT_CLICK_WINDOW_DAYS)
    impression: timedelta | None = timedelta(days=DEFAULT_IMPRESSION_WINDOW_DAYS)

    @classmethod
    def of_days(cls, click_days: float, impression_days: float) -> Windows:
        return cls(timedelta(days=click_days) if click_days else None,
                   timedelta(days=impression_days) if impression_days else None)  # fmt: skip

    def of(self, touch_type: str) -> timedelta | None:
        return self.click if touch_type == CLICK else self.impression

    @property
    def longest(self) -> timedelta:
        return max((w for w in (self.click, self.impression) if w is not None), default=_NO_TIME)


@dataclasses.dataclass(frozen=True)
class Touch:
    """One touch: a link click or impression, when, for whom, with which link data."""

    id: str
    app_id: str
    type: str  # CLICK or IMPRESSION
    timestamp: datetime
    source: str  # the Segment event name as sent, or the Branch export topic
    keys: tuple[tuple[str, str], ...]  # identity keys (kind, value)
    link: tuple[tuple[str, Any], ...]  # (link key, value) for the keys present; tags as a tuple
    segment_message_id: str | None = None
    provider: str | None = None
    warnings: tuple[str, ...] = ()

    def link_data(self) -> dict[str, Any]:
        return dict(self.link)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Touch:
        """The touch a ``touches`` row holds (the inverse of :meth:`row`)."""
        link = []
        for key in LINK_KEYS:
            value = row.get(LINK_COLUMN_PREFIX + key)
            if value is not None and value != []:
                link.append((key, tuple(value) if isinstance(value, list) else value))
        return cls(
            id=row["id"],
            app_id=row["app_id"],
            type=row["type"],
            timestamp=parse_timestamp(row["timestamp"], "timestamp"),
            source=row.get("source") or "",
            keys=tuple((kind, row[kind]) for kind in KEY_KINDS if row.get(kind) is not None),
            link=tuple(link),
            segment_message_id=row.get("segment_message_id"),
            provider=row.get("provider"),
            warnings=tuple(row.get("warnings") or ()),
        )

    def row(self, ingested_at: datetime) -> dict[str, Any]:
        """The touch as a ``touches`` row."""
        return self._row(self.keys, self.source, None, ingested_at)

    def link_row(self, key: tuple[str, str], taught_by: str, ingested_at: datetime) -> dict[str, Any]:
        """The touch as a link: a ``touches`` row of source ``link`` under the one identity key
        it was taught under, by the conversion ``taught_by`` (so a restarted job knows it)."""
        return self._row((key,), LINK_SOURCE, taught_by, ingested_at)

    def _row(
        self, keys: tuple[tuple[str, str], ...], source: str, taught_by: str | None, ingested_at: datetime
    ) -> dict[str, Any]:
        identity = dict(keys)
        columns = self.columns()
        return {
            "id": self.id,
            "app_id": self.app_id,
            "type": self.type,
            "timestamp": columns.pop("last_attributed_touch_timestamp"),
            "source": source,
            **{kind: identity.get(kind) for kind in KEY_KINDS},
            **{name: value for name, value in columns.items() if name.startswith(LINK_COLUMN_PREFIX)},
            "provider": self.provider,
            "segment_message_id": self.segment_message_id,
            "warnings": list(self.warnings),
            "taught_by": taught_by,
            "ingested_at": to_bq_timestamp(ingested_at),
        }

    def columns(self) -> dict[str, Any]:
        """The touch under the ``events`` attribution column names (type, time, link data)."""
        link = self.link_data()
        columns: dict[str, Any] = {
            "last_attributed_touch_type": self.type,
            "last_attributed_touch_timestamp": to_bq_timestamp(self.timestamp),
        }
        for key in LINK_KEYS:
            value = link.get(key)
            columns[LINK_COLUMN_PREFIX + key] = list(value) if isinstance(value, tuple) else value
        return columns


_DAYS_COLUMN = "days_from_last_attributed_touch_to_event"
_NO_TIME = timedelta(0)
_ONE_DAY = timedelta(days=1)


class Attribution(NamedTuple):
    """A conversion's decided touch, and the strongest identity key it shares with it. (A named
    tuple: made for every conversion decided, so cheap to make.)"""

    touch: Touch
    match: str  # a KEY_KINDS member
    linked: bool  # claimed through a key the touch is only linked to (not passed on again)

    def columns(self, when: datetime) -> dict[str, Any]:
        """The ``events`` attribution columns of a conversion at event time ``when``."""
        return {
            "attributed": True,
            **self.touch.columns(),
            _DAYS_COLUMN: (when - self.touch.timestamp) // _ONE_DAY,
            "attribution_match": self.match,
        }


# As BigQuery shows an unattributed row (the jobs write only ``attributed``; the rest is NULL).
UNATTRIBUTED: dict[str, Any] = dict.fromkeys(ATTRIBUTION_COLUMNS) | {"attributed": False}


# The ``user_data_*`` columns that hold an identity key, strongest kind first.
IDENTITY_COLUMNS = (
    (DEVELOPER_IDENTITY, "user_data_developer_identity"),
    (ADVERTISING_ID, "user_data_idfa"),
    (ADVERTISING_ID, "user_data_aaid"),
    (DEVICE_ID, "user_data_idfv"),
    (DEVICE_ID, "user_data_android_id"),
    (BROWSER_FINGERPRINT, "user_data_browser_fingerprint_id"),
)


def identity_keys(user: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The identity keys of a row's ``user_data_*`` columns (a zeroed advertising id was already
    dropped by the mapping; anonymousId is never one)."""
    keys = []
    for kind, column in IDENTITY_COLUMNS:
        value = user.get(column)
        if value is not None:
            keys.append((kind, value))
    return tuple(keys)


def touch_type(properties: Mapping[str, Any]) -> str:
    """IMPRESSION when ``touch_type`` (or ``last_attributed_touch_type``) says so, else CLICK."""
    for key in ("touch_type", "last_attributed_touch_type"):
        value = properties.get(key)
        if type(value) is str and value.strip().casefold() == "impression":
            return IMPRESSION
    return CLICK


def _link_value(key: str, value: Any, where: str, warnings: list[str]) -> Any:
    """A link value as stored: text (numbers as their text), tags a tuple of text; else None."""
    if key == "tags":
        items = value if type(value) is list else None
        texts = None if items is None else [to_text(item) for item in items]
        if texts is None or any(text is None or len(text) > MAX_LINK_VALUE for text in texts):
            warnings.append(f"invalid_value:{where}")
            return None
        return tuple(texts)
    text = to_text(value)
    if text is None or len(text) > MAX_LINK_VALUE:
        warnings.append(f"invalid_value:{where}")
        return None
    return text or None


def carries_link_data(properties: Mapping[str, Any]) -> bool:
    """Whether a Branch-exported event's flat properties carry link data (valid or not)."""
    return any(properties.get(name) is not None for key in LINK_KEYS for name in ("~" + key, key))


def link_data(segment_name: str, properties: Mapping[str, Any], warnings: list[str]) -> dict[str, Any]:
    """The Branch link data a touch source carries (rules §9), by link key."""
    key = name_key(segment_name)
    link: dict[str, Any] = {}
    if key == INSTALL_ATTRIBUTED:
        campaign = properties.get("campaign")
        if isinstance(campaign, dict):
            for field, link_key in _CAMPAIGN_FIELDS.items():
                if campaign.get(field) is not None:
                    link[link_key] = _link_value(link_key, campaign[field], f"campaign.{field}", warnings)
        elif campaign is not None:
            warnings.append("invalid_value:campaign")
    elif key in DEEP_LINK_EVENTS:
        link = _url_link_data(properties.get("url"), warnings)
    else:  # branch_<NAME>: flat properties, every link key with or without "~"
        for link_key in LINK_KEYS:
            for name in ("~" + link_key, link_key):
                if properties.get(name) is not None:
                    link[link_key] = _link_value(link_key, properties[name], name, warnings)
                    break
    return {k: v for k, v in link.items() if v is not None}


def _url_link_data(url: Any, warnings: list[str]) -> dict[str, Any]:
    if url is None:
        return {}
    if type(url) is not str or len(url) > 8 * MAX_LINK_VALUE:
        warnings.append("invalid_value:url")
        return {}
    try:
        query = parse_qs(urlsplit(url.strip()).query)
    except ValueError:
        warnings.append("invalid_value:url")
        return {}
    link: dict[str, Any] = {}
    for name, link_key in _UTM_FIELDS.items():
        if name in query:
            link[link_key] = _link_value(link_key, query[name][-1], f"url.{name}", warnings)
    for link_key in LINK_KEYS:  # "~" keys win over UTM parameters
        values = query.get("~" + link_key)
        if values:
            value = values if link_key == "tags" else values[-1]
            link[link_key] = _link_value(link_key, value, f"url.~{link_key}", warnings)
    return link


# --------------------------------------------------------------------------- the decision


class Candidate(NamedTuple):
    """A touch a conversion shares ``kind`` with: directly, or through a link (``linked``).
    (A named tuple: made for every touch of every conversion decided, so cheap to make.)"""

    touch: Touch
    kind: str
    linked: bool = False


def _precedence(touch_type_: str, kind: str) -> int | None:
    """0 deterministic click, 1 probabilistic click, 2 deterministic impression; None: never."""
    probabilistic = kind == BROWSER_FINGERPRINT
    if touch_type_ == CLICK:
        return 1 if probabilistic else 0
    return None if probabilistic else 2


def choose(candidates: Iterable[Candidate], when: datetime, windows: Windows) -> Attribution | None:
    """The touch a conversion at ``when`` is attributed to, among the touches it shares a key
    with (each may come several times, through several keys), or None."""
    strongest: dict[str, Candidate] = {}
    for candidate in candidates:  # per touch: its strongest shared key, direct before linked
        touch_id = candidate.touch.id
        known = strongest.get(touch_id)
        if known is None or (_KEY_RANK[candidate.kind], candidate.linked) < (_KEY_RANK[known.kind], known.linked):
            strongest[touch_id] = candidate
    best: tuple[Any, ...] | None = None
    chosen: Candidate | None = None
    for candidate in strongest.values():
        touch = candidate.touch
        rank = _precedence(touch.type, candidate.kind)
        if rank is None:
            continue
        window = windows.of(touch.type)
        if window is None:
            continue
        age = when - touch.timestamp
        if age < _NO_TIME or age > window:
            continue
        order = (-rank, touch.timestamp, touch.id)  # the best class, then the latest, then by id
        if best is None or order > best:
            best, chosen = order, candidate
    return None if chosen is None else Attribution(chosen.touch, chosen.kind, chosen.linked)


def links_of(first_hop: Attribution | None, keys: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The keys a conversion's first-hop touch (``choose`` over its direct touches only)
    becomes known under: the conversion's keys the touch does not carry itself."""
    if first_hop is None:
        return []
    assert not first_hop.linked, "only a direct touch is passed on (one hop)"
    direct = set(first_hop.touch.keys)
    return [key for key in keys if key not in direct]


DEFAULT_MAX_TOUCHES_PER_KEY = 64  # per identity key and touch type (rules §11; --max_touches_per_key)


class KeyTouches:
    """The touches one identity key holds for attribution, bounded (rules §11): one entry per
    touch id, at most ``max_per_type`` per touch type (the latest kept; :meth:`add` says how
    many it cut), and whatever :meth:`prune` drops once no conversion can use it.

    A direct touch has no teacher; a link (a touch known under this key through a conversion's
    first hop) remembers the conversion that first taught it, so that this conversion never
    claims it back. The same store backs the in-memory reference and the pipeline's keyed
    state (:meth:`entries` and the constructor are its stored form), so both decide alike.
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[tuple[Touch, str | None]] = ()) -> None:
        self._entries: dict[str, tuple[Touch, str | None]] = {touch.id: (touch, by) for touch, by in entries}

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> tuple[tuple[Touch, str | None], ...]:
        return tuple(self._entries.values())

    def add(self, touch: Touch, taught_by: str | None = None, *, max_per_type: int) -> int:
        """Hold ``touch`` (a touch already held stays as it is: the same touch, and for a link its
        first teacher); returns how many of this type were cut to stay within ``max_per_type``."""
        if touch.id in self._entries:
            return 0
        self._entries[touch.id] = (touch, taught_by)
        same_type = [entry for entry in self._entries.values() if entry[0].type == touch.type]
        over = len(same_type) - max_per_type
        if over <= 0:
            return 0
        same_type.sort(key=_latest_last)
        for cut, _ in same_type[:over]:
            del self._entries[cut.id]
        return over

    def prune(self, before: datetime) -> int:
        """Drop the touches older than ``before`` (no conversion can use them any more); returns
        how many."""
        old = [touch_id for touch_id, (touch, _) in self._entries.items() if touch.timestamp < before]
        for touch_id in old:
            del self._entries[touch_id]
        return len(old)

    def oldest(self) -> datetime | None:
        return min((touch.timestamp for touch, _ in self._entries.values()), default=None)

    def touches(self, *, not_taught_by: str | None = None) -> list[Touch]:
        """The touches held (for a lookup by a conversion: those it did not teach itself)."""
        return [touch for touch, by in self._entries.values() if by is None or by != not_taught_by]


def _latest_last(entry: tuple[Touch, str | None]) -> tuple[datetime, str]:
    return entry[0].timestamp, entry[0].id


class AttributionState:
    """Touches and links per app and identity key, in memory, in processing order: the
    reference the pipeline's stateful stages are tested against (``map --attribute``). Each
    key's store is bounded as the pipeline's is (:class:`KeyTouches`); ``cuts`` counts what
    the bounds cut."""

    def __init__(self, max_touches_per_key: int = DEFAULT_MAX_TOUCHES_PER_KEY) -> None:
        self._direct: dict[tuple[str, tuple[str, str]], KeyTouches] = {}
        self._linked: dict[tuple[str, tuple[str, str]], KeyTouches] = {}
        self._max = max_touches_per_key
        self.cuts = 0

    def add_touch(self, touch: Touch) -> None:
        for key in touch.keys:
            self.cuts += self._direct.setdefault((touch.app_id, key), KeyTouches()).add(touch, max_per_type=self._max)

    def attribute(self, app_id: str, keys: Iterable[tuple[str, str]], when: datetime,
                  windows: Windows) -> Attribution | None:  # fmt: skip
        """Decide a conversion (once, with the touches received so far) and learn its links."""
        keys = list(keys)
        direct = [Candidate(touch, key[0]) for key in keys
                  for touch in self._held(self._direct, app_id, key)]  # fmt: skip
        linked = [Candidate(touch, key[0], True) for key in keys
                  for touch in self._held(self._linked, app_id, key)]  # fmt: skip
        first_hop = choose(direct, when, windows) if direct else None
        for key in links_of(first_hop, keys):
            assert first_hop is not None
            store = self._linked.setdefault((app_id, key), KeyTouches())
            self.cuts += store.add(first_hop.touch, "", max_per_type=self._max)
        return choose(direct + linked, when, windows) if linked else first_hop

    @staticmethod
    def _held(stores: dict[tuple[str, tuple[str, str]], KeyTouches], app_id: str, key: tuple[str, str]) -> list[Touch]:
        store = stores.get((app_id, key))
        return store.touches() if store is not None else []


_timeline_order = operator.itemgetter(0, 1, 2)  # time, touches first, id


def attribute_in_event_time_order(
    app_id: str,
    touches: Iterable[Touch],
    conversions: Iterable[tuple[str, datetime, tuple[tuple[str, str], ...]]],
    windows: Windows,
) -> Iterator[tuple[str, datetime, Attribution | None]]:
    """One app's ``(event id, event time, keys)`` conversions decided as if touches and
    conversions had arrived in event-time order (a touch before a conversion of the same
    time; then by id): the backfill's order, so a replay decides as the stream did when the
    stream arrived in that order. Yields ``(event id, event time, decision)``."""
    timeline: list[tuple[datetime, int, str, Any]] = [(touch.timestamp, 0, touch.id, touch) for touch in touches]
    timeline += [(when, 1, event_id, keys) for event_id, when, keys in conversions]
    timeline.sort(key=_timeline_order)
    state = AttributionState()
    for when, kind, identifier, payload in timeline:
        if kind == 0:
            state.add_touch(payload)
        else:
            yield identifier, when, state.attribute(app_id, payload, when, windows)


# --------------------------------------------------------------------------- replay input
# The backfill ships each app's conversions compactly, per chunk of archive lines: JSON
# ``[[event id, event time in microseconds since the epoch, key texts]]`` (``replay_entry``),
# a key as one string (``key_text``), so that a pass over every conversion looks keys up as
# they come out of the JSON, building nothing.

_KEY_SEPARATOR = "\x1f"
_NEVER = 1 << 62  # microseconds: later than any event
_KEY_TEXT_PREFIXES = tuple((kind + _KEY_SEPARATOR, column) for kind, column in IDENTITY_COLUMNS)


def key_text(key: tuple[str, str]) -> str:
    """An identity key as one string (the value last: it may hold anything)."""
    return f"{key[0]}{_KEY_SEPARATOR}{key[1]}"


def _key_of_text(text: str) -> tuple[str, str]:
    kind, value = text.split(_KEY_SEPARATOR, 1)
    return kind, value


def replay_entry(row: dict[str, Any], micros: int) -> list[Any] | None:
    """An events row's replay entry, ``[event id, micros, key texts]`` (the texts of
    ``identity_keys(row)``, in order), or None when it has no identity key (it cannot be
    attributed). Made for every imported copy of a backfill, so written for speed."""
    keys = []
    for prefix, column in _KEY_TEXT_PREFIXES:
        value = row.get(column)
        if value is not None:
            keys.append(prefix + value)
    return [row["id"], micros, keys] if keys else None


def replay_candidates(touches: Iterable[Touch], packs: Sequence[bytes]) -> list[tuple[str, datetime, tuple]]:
    """An app's conversions that its in-order replay must decide, from its packs, as
    ``(event id, event time, identity keys)``, in no order. One copy per event id, the earliest
    (the others are its duplicates).

    Those are the conversions that, when the replay reaches them, may find a touch: a touch
    under one of their keys at or before their time (direct), or a conversion at or before
    their time that shares a key with them and may itself have had a direct touch (a link).
    Any other conversion is unattributed whatever the order, and teaches nothing (it has no
    first-hop touch), so leaving it out changes no decision."""
    touch_since: dict[str, int] = {}  # key text -> the earliest touch under it (microseconds)
    for touch in touches:
        at = micros_of(touch.timestamp)
        for key in touch.keys:
            text = key_text(key)
            if at < touch_since.get(text, _NEVER):
                touch_since[text] = at
    if not touch_since:
        return []
    # Two passes over the packs (each parsed twice), so that memory holds keys, not every
    # conversion of the app. First: under which keys, from when, a link may be taught.
    teach_since: dict[str, int] = {}
    for pack in packs:
        for _, micros, keys in orjson.loads(pack):
            if not touch_since.keys().isdisjoint(keys) and _found_by(keys, micros, touch_since):
                for key in keys:
                    if micros < teach_since.get(key, _NEVER):
                        teach_since[key] = micros
    earliest: dict[str, tuple[int, list[str]]] = {}
    for pack in packs:  # (a key shared with a touch in time is one of those)
        for event_id, micros, keys in orjson.loads(pack):
            if not teach_since.keys().isdisjoint(keys):
                known = earliest.get(event_id)
                if known is None or micros < known[0]:
                    earliest[event_id] = (micros, keys)
    return [
        (event_id, moment_of(micros), tuple([_key_of_text(key) for key in keys]))
        for event_id, (micros, keys) in earliest.items()
        if _found_by(keys, micros, teach_since)  # (the earliest copy is the one decided)
    ]


def _found_by(keys: list[str], micros: int, since: dict[str, int]) -> bool:
    """Whether one of ``keys`` is in ``since`` at or before ``micros``. (A loop, not ``any()``
    over a generator: called for most conversions of a backfill.)"""
    for key in keys:  # noqa: SIM110
        if since.get(key, _NEVER) <= micros:
            return True
    return False


def replay_decisions(
    app_id: str, touches: Sequence[Touch], packs: Sequence[bytes], windows: Windows, *, per_blob: int = 100_000
) -> Iterator[tuple[bytes, int]]:
    """The backfill's attribution of one app: its touches and conversion packs -> its attributed
    conversions, decided in event-time order (``attribute_in_event_time_order``) over
    ``replay_candidates``, as ``(blob, number of conversions in it)`` for :class:`DecisionTable`.

    A blob is JSON ``{"app_id", "heads", "events"}``: ``heads`` the columns that depend on the
    touch only (many conversions share a touch), written once per touch and match;
    ``events`` maps each event id to ``[head index, days from the touch]``. At most
    ``per_blob`` conversions per blob, so that no element grows without bound."""
    index_of: dict[tuple[str, str, bool], int] = {}
    heads: list[dict[str, Any]] = []
    events: dict[str, list[int]] = {}
    conversions = replay_candidates(touches, packs)
    for event_id, when, decided in attribute_in_event_time_order(app_id, touches, conversions, windows):
        if decided is None:
            continue
        key = (decided.touch.id, decided.match, decided.linked)
        index = index_of.get(key)
        if index is None:
            columns = decided.columns(when)
            del columns[_DAYS_COLUMN]
            index = index_of[key] = len(heads)
            heads.append(columns)
        events[event_id] = [index, (when - decided.touch.timestamp) // _ONE_DAY]
        if len(events) >= per_blob:
            yield orjson.dumps({"app_id": app_id, "heads": heads, "events": events}), len(events)
            events = {}
    if events:
        yield orjson.dumps({"app_id": app_id, "heads": heads, "events": events}), len(events)


class DecisionTable:
    """The backfill's decisions (:func:`replay_decisions`' blobs), looked up per events row.

    Built once per worker from every app's blobs; a row's lookup is one or two dict reads, and
    the columns shared by the conversions of one touch are one dict."""

    def __init__(self, blobs: Iterable[bytes]) -> None:
        self._parts: dict[str, list[tuple[list[dict[str, Any]], dict[str, list[int]]]]] = {}
        for blob in blobs:
            part = orjson.loads(blob)
            self._parts.setdefault(part["app_id"], []).append((part["heads"], part["events"]))

    def __len__(self) -> int:
        return sum(len(events) for parts in self._parts.values() for _, events in parts)

    def _decided(self, app_id: str, event_id: str) -> tuple[dict[str, Any], int] | None:
        """The columns shared with the event's touch and the days from it, or None."""
        for heads, events in self._parts.get(app_id, ()):
            found = events.get(event_id)
            if found is not None:
                return heads[found[0]], found[1]
        return None

    def columns(self, app_id: str, event_id: str) -> dict[str, Any] | None:
        """The attribution columns decided for an event, or None (unattributed)."""
        decided = self._decided(app_id, event_id)
        return None if decided is None else {**decided[0], _DAYS_COLUMN: decided[1]}

    def apply(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with its decided attribution columns, **updated in place** (the caller's own
        row, just decoded); an undecided row is returned as it is (unattributed)."""
        decided = self._decided(row["app_id"], row["id"])
        if decided is not None:
            row.update(decided[0])
            row[_DAYS_COLUMN] = decided[1]
        return row

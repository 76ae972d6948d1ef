"""Attribution (rules §9): which touch (``domain.touches``) a conversion is attributed to.

A conversion is an imported event; it and its candidate touches share identity keys.

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

import operator
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson

from domain.touches import ATTRIBUTION_COLUMNS, BROWSER_FINGERPRINT, CLICK, KEY_KINDS, Touch, Windows

DAYS_COLUMN = "days_from_last_attributed_touch_to_event"
_NO_TIME = timedelta(0)
_KEY_RANK = {kind: rank for rank, kind in enumerate(KEY_KINDS)}
ONE_DAY = timedelta(days=1)


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
            DAYS_COLUMN: (when - self.touch.timestamp) // ONE_DAY,
            "attribution_match": self.match,
        }


# As BigQuery shows an unattributed row (the jobs write only ``attributed``; the rest is NULL).
UNATTRIBUTED: dict[str, Any] = dict.fromkeys(ATTRIBUTION_COLUMNS) | {"attributed": False}


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
    state (:meth:`to_bytes` and :meth:`from_bytes` are its stored form), so both decide alike.
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[tuple[Touch, str | None]] = ()) -> None:
        self._entries: dict[str, tuple[Touch, str | None]] = {touch.id: (touch, by) for touch, by in entries}

    def __len__(self) -> int:
        return len(self._entries)

    def to_bytes(self) -> bytes:
        """The stored form as compact JSON bytes (:meth:`from_bytes` inverts it): what keyed
        state holds, so a worker's pending writes stay a few hundred bytes per key."""
        packed = orjson.dumps([[*touch.packed(), by] for touch, by in self._entries.values()])
        # A copy of exact size: orjson's result keeps its 4 KiB buffer, and a worker holds one
        # store per key it wrote until its bundle commits.
        return bytes(memoryview(packed))

    @classmethod
    def from_bytes(cls, data: bytes | None) -> KeyTouches:
        """The store :meth:`to_bytes` gave (None or empty: an empty store)."""
        if not data:
            return cls()
        return cls((Touch.unpacked(values[:-1]), values[-1]) for values in orjson.loads(data))

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

"""The backfill's keyed plan (rules §9, §11), decided per identity key in event-time order:
the pure steps of the keyed graph (``transforms/backfill_attribution.py``, docs/attribution.md),
which a large archive takes (an app's in-memory replay, ``domain.replay``, would not fit).

    conversions and touches, per (app, key shard, time bucket)
        lookup_direct: each key's touches and conversions in event-time order -> a key's best
    first_hop (per event id): the best of its keys' -> the links it teaches (links_of)
        lookup_linked: each key's links and conversions in event-time order -> a key's best
    decide (per event id): the first hop and the keys' linked bests

Each step decides as ``domain.attribution.attribute_in_event_time_order`` does (the in-memory
replay, ``map --attribute`` in event-time order): a key's store is the same bounded
:class:`KeyTouches`, fed in the same order; a key sends on only its best touch, which is all
that ``choose`` over every key's touches needs (the best over a union is the best of the
bests, matched through its strongest key); a conversion looks links up before it teaches its
own. A group holds one bucket of time (``bucket`` microseconds); the touches and links a
bucket's conversions could use are copied into it (:func:`buckets_served`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any, NamedTuple

import orjson

from domain.attribution import Attribution, Candidate, KeyTouches, choose, links_of
from domain.replay import key_of_text, key_text
from domain.timestamps import micros_of, moment_of
from domain.touches import Touch, Windows

# --------------------------------------------------------------------------- the groups
# The backfill ships what attribution needs of each conversion compactly (``replay_entry``:
# ``[event id, event time in microseconds since the epoch, key texts]``), packed per chunk of
# archive lines and group (``ConversionPacker``).

DEFAULT_BUCKET = timedelta(days=1)  # --attribution_bucket_hours: a busy user's group is one day of it


class KeyedPlan(NamedTuple):
    """The keyed plan's groups: ``shards`` key shards, ``bucket`` of event time each."""

    shards: int = 1
    bucket: timedelta = DEFAULT_BUCKET


# A conversion's entry (``domain.replay.replay_entry``): [event id, micros, key texts].
Entry = list[Any]


def _kind_of_text(text: str) -> str:
    return key_of_text(text)[0]


def key_shard(text: str, shards: int) -> int:
    """The shard of an identity key's groups (a key's entries all go to one)."""
    return zlib.crc32(text.encode()) % shards


def buckets_served(since_micros: int, until_micros: int, bucket: int) -> range:
    """The time buckets from the one holding ``since_micros`` to the one holding ``until_micros``."""
    return range(since_micros // bucket, until_micros // bucket + 1)


# A group's pack, from one chunk of archive lines: ``(index, body)``, two JSON byte strings.
# The index is ``[[key text, conversions, start, end], ...]``; ``body[start:end]`` holds that
# key's entries. So a lookup decodes only the keys it needs (those with a touch or a link), a
# group counts its keys from the index alone, and a pack is two bytes objects to encode and
# hold wherever it is shuffled.
GroupPack = tuple[bytes, bytes]


class ConversionPacker:
    """A chunk's conversions (``replay_entry``'s) packed per group, ``(key shard, time bucket)``:
    each conversion once under each of its keys, in its own bucket (``bucket`` microseconds)."""

    def __init__(self, bucket: int, shards: int) -> None:
        self._bucket = bucket
        self._shards = shards
        self._groups: dict[tuple[int, int], dict[str, list[Entry]]] = {}

    def add(self, entry: Entry) -> None:
        index = entry[1] // self._bucket
        for text in entry[2]:
            group = (key_shard(text, self._shards), index)
            by_key = self._groups.get(group)
            if by_key is None:
                by_key = self._groups[group] = {}
            listed = by_key.get(text)
            if listed is None:
                by_key[text] = [entry]
            else:
                listed.append(entry)

    def packs(self) -> Iterator[tuple[tuple[int, int], GroupPack]]:
        """``((key shard, time bucket), pack)`` per group with conversions; then starts over."""
        groups, self._groups = self._groups, {}
        for group, by_key in groups.items():
            index: list[list[Any]] = []
            parts: list[bytes] = []
            start = 0
            for text, listed in by_key.items():
                part = orjson.dumps(listed)
                parts.append(part)
                index.append([text, len(listed), start, start + len(part)])
                start += len(part)
            yield group, (orjson.dumps(index), b"".join(parts))


def most_per_key(packs: Iterable[GroupPack], others: Iterable[str] = ()) -> int:
    """The most entries (conversions, and ``others``: the key texts of touches or links) any one
    key has in a group."""
    counts: dict[str, int] = {}
    for text in others:
        counts[text] = counts.get(text, 0) + 1
    for index, _ in packs:
        for text, count, _, _ in orjson.loads(index):
            counts[text] = counts.get(text, 0) + count
    return max(counts.values(), default=0)


def entries_by_key(packs: Iterable[GroupPack], keys: Iterable[str]) -> dict[str, dict[str, Entry]]:
    """A group's packs -> per key text of ``keys``, its conversions by event id (one copy per
    event id, the earliest: the others are its duplicates)."""
    wanted = set(keys)
    found: dict[str, dict[str, Entry]] = {}
    for index, body in packs:
        for text, _, start, end in orjson.loads(index):
            if text not in wanted:
                continue
            by_event = found.get(text)
            if by_event is None:
                by_event = found[text] = {}
            for entry in orjson.loads(body[start:end]):
                known = by_event.get(entry[0])
                if known is None or entry[1] < known[1]:
                    by_event[entry[0]] = entry
    return found


# --------------------------------------------------------------------------- the steps


class Found(NamedTuple):
    """The best touch one key held for a conversion (at ``micros``, with ``keys``)."""

    micros: int
    keys: list[str]
    attribution: Attribution


def _replay(
    timeline: list[tuple[Any, ...]], kind: str, linked: bool, windows: Windows, max_per_type: int
) -> Iterator[tuple[str, Found]]:
    """One key's timeline, in order: ``(..., id, payload)`` items whose payload is a touch to
    hold or a conversion's entry to look up."""
    held = KeyTouches()
    for item in timeline:
        identifier, payload = item[-2], item[-1]
        if type(payload) is Touch:
            held.add(payload, max_per_type=max_per_type)
            continue
        touches = held.touches()
        if not touches:
            continue
        micros = payload[1]
        best = choose([Candidate(touch, kind, linked) for touch in touches], moment_of(micros), windows)
        if best is not None:
            yield identifier, Found(micros, payload[2], best)


def _by_key(pairs: Iterable[tuple[str, Any]]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for text, value in pairs:
        grouped.setdefault(text, []).append(value)
    return grouped


def lookup_direct(
    touches: Iterable[tuple[str, Touch]], packs: Iterable[GroupPack], windows: Windows, max_per_type: int
) -> Iterator[tuple[str, Found]]:
    """One group's direct lookups: per key, its touches and conversions in event-time order (a
    touch before a conversion of the same time, then by id) -> ``(event id, Found)`` for each
    conversion the key holds a usable touch for."""
    by_key = _by_key(touches)
    if not by_key:
        return
    for text, conversions in entries_by_key(packs, by_key).items():
        timeline: list[tuple[Any, ...]] = [(micros_of(t.timestamp), 0, t.id, t) for t in by_key[text]]
        timeline += [(entry[1], 1, event_id, entry) for event_id, entry in conversions.items()]
        timeline.sort(key=_first_three)
        yield from _replay(timeline, _kind_of_text(text), False, windows, max_per_type)


def _first_three(item: tuple[Any, ...]) -> tuple[Any, ...]:
    return item[:3]


def first_hop(found: Iterable[Found], windows: Windows) -> Found | None:
    """A conversion's first hop: the best of its keys' direct bests (at its earliest copy)."""
    found = list(found)
    if not found:
        return None
    earliest = min(f.micros for f in found)
    at_earliest = [f for f in found if f.micros == earliest]
    best = choose([Candidate(f.attribution.touch, f.attribution.match) for f in at_earliest], moment_of(earliest),
                  windows)  # fmt: skip
    return None if best is None else Found(earliest, at_earliest[0].keys, best)


def links_taught(hop: Found) -> list[str]:
    """The key texts a conversion's first hop becomes known under (``links_of``)."""
    return [key_text(key) for key in links_of(hop.attribution, [key_of_text(text) for text in hop.keys])]


class Link(NamedTuple):
    """A first-hop touch known under a key from ``micros`` on, taught by ``taught_by``."""

    micros: int
    taught_by: str
    touch: Touch


def lookup_linked(
    links: Iterable[tuple[str, Link]], packs: Iterable[GroupPack], windows: Windows, max_per_type: int
) -> Iterator[tuple[str, Found]]:
    """One group's linked lookups: per key, its links and conversions in conversion order, each
    conversion looking up before it teaches -> ``(event id, Found)`` for each conversion the
    key holds a usable link for (never one it taught itself: it teaches after its lookup)."""
    by_key = _by_key(links)
    if not by_key:
        return
    for text, conversions in entries_by_key(packs, by_key).items():
        timeline: list[tuple[Any, ...]] = [(link.micros, link.taught_by, 1, link.taught_by, link.touch)
                                           for link in by_key[text]]  # fmt: skip
        timeline += [(entry[1], event_id, 0, event_id, entry) for event_id, entry in conversions.items()]
        timeline.sort(key=_first_three)
        yield from _replay(timeline, _kind_of_text(text), True, windows, max_per_type)


def decide(hop: Found | None, linked: Iterable[Found], windows: Windows) -> tuple[int, Attribution] | None:
    """A conversion's decision from its first hop and its keys' linked bests (``choose`` over
    both, as the in-memory state decides over direct and linked touches), at its earliest
    copy's time: ``(micros, attribution)`` or None."""
    linked = list(linked)
    if not linked:
        return None if hop is None else (hop.micros, hop.attribution)
    micros = min([f.micros for f in linked] + ([hop.micros] if hop is not None else []))
    candidates = [Candidate(f.attribution.touch, f.attribution.match, True) for f in linked if f.micros == micros]
    if hop is not None and hop.micros == micros:
        candidates.append(Candidate(hop.attribution.touch, hop.attribution.match))
    best = choose(candidates, moment_of(micros), windows)
    return None if best is None else (micros, best)

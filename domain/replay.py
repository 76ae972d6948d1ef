"""The backfill's in-memory plan (rules §9, "decided once"): each app's conversions and touches
in event-time order, decided with ``domain.attribution``'s rules, and the compact forms the
backfill ships them in (``replay_entry``, ``DecisionTable``). A large archive takes the keyed
plan instead (``domain.keyed_replay``): both decide alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson

from domain.attribution import DAYS_COLUMN, ONE_DAY, attribute_in_event_time_order
from domain.timestamps import micros_of, moment_of
from domain.touches import IDENTITY_COLUMNS, Touch, Windows

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


def key_of_text(text: str) -> tuple[str, str]:
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
        (event_id, moment_of(micros), tuple([key_of_text(key) for key in keys]))
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
            del columns[DAYS_COLUMN]
            index = index_of[key] = len(heads)
            heads.append(columns)
        events[event_id] = [index, (when - decided.touch.timestamp) // ONE_DAY]
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
        return None if decided is None else {**decided[0], DAYS_COLUMN: decided[1]}

    def apply(self, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with its decided attribution columns, **updated in place** (the caller's own
        row, just decoded); an undecided row is returned as it is (unattributed)."""
        decided = self._decided(row["app_id"], row["id"])
        if decided is not None:
            row.update(decided[0])
            row[DAYS_COLUMN] = decided[1]
        return row

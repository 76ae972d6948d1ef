"""The backfill's attribution (rules §9, §11): an app's replay in memory, or, for a large
archive, the streaming stages' shape in batch, keyed by identity key, never by app
(:class:`AttributeBackfill`, docs/attribution.md). The keyed plan:

    conversion packs (per chunk and (app, key shard, time bucket)) --------.
    touches (archive, table) --copied into the buckets they serve----------+--> DirectTouches
                                                                                 |  a key's best
    FirstHop (per event id): the best of its keys' --> links, into the buckets   v  per conversion
        they serve --+--> LinkedTouches (with the same packs) --> a key's linked best
                     '--> (event id, message) --> the dedup's own shard groups: Decide
                          (first hop + linked bests) sets the columns of its kept rows

A group is (app, key shard, time bucket): it holds one bucket of its keys' conversions, with
the touches and links they could use copied in, so a key's share of a group grows with that
user's activity in a bucket, never with the app or the archive. The steps and why they decide
as ``map --attribute`` in event-time order are ``domain.keyed_replay``'s. The streaming job's
stages are ``transforms.streaming_attribution``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from domain.attribution import DEFAULT_MAX_TOUCHES_PER_KEY, Attribution
from domain.keyed_replay import (
    Found,
    GroupPack,
    KeyedPlan,
    Link,
    buckets_served,
    decide,
    first_hop,
    key_shard,
    links_taught,
    lookup_direct,
    lookup_linked,
    most_per_key,
)
from domain.replay import DecisionTable, key_text, replay_decisions
from domain.timestamps import micros_in, micros_of, moment_of
from domain.touches import LINK_SOURCE, Touch, Windows
from schemas.reasons import METRICS_NAMESPACE
from transforms import packing
from transforms.collector import collector_paused
from transforms.dedup import DropDuplicateCopies, StatKeyFn, dedup_shard
from transforms.touches_table import TouchesToRead

# The most entries one identity key had in one group (its conversions, touches and links in a
# bucket): a distribution, so that bench/scale_batch.py reads what a group holds per user.
GROUP_VALUES = "attribution_group_values"
LINKS = "links"

# (app id, key shard, time bucket): the key of the identity groups (Beam's tuple, string and
# integer coders, deterministic). The event stages are keyed by event id.
GroupKey = tuple[str, int, int]


# --------------------------------------------------------------------------- the messages
# A message is made of Python primitives (tuples, lists, str, int, bytes): a NamedTuple or a
# Touch would be pickled as an object, which was measured at a third of this graph's cost. Each
# message has one layout:
#
#   identity groups, keyed (app id, key shard, time bucket):
#     a conversion pack:  (index, body), two JSON byte strings            (``ConversionPacker``)
#     a touch:            (key text, packed touch)                         (``Touch.packed``)
#     a link:             (key text, taught at micros, taught by, packed touch)
#   event groups, keyed by the dedup's shard of the event id (``transforms.dedup.dedup_shard``):
#     a key's best:       (event id, app id, stage, micros, key texts, packed touch, match)
#
# Each step outputs one batch per destination group (``_Batches``), not an element per message
# (Beam's cost is per element, as the dedup's ``CopyPacker``), and a batch crosses its shuffle as
# one bytes object (``transforms.packing``): a group's batches decode as a few bytes objects,
# not as the millions of tuples that made Python's full collections grow with the archive. A
# group key is a tuple of str and int, which Beam encodes deterministically.

DIRECT, FIRST_HOP, LINKED = 0, 1, 2  # the stage of an event message


def _found_message(event_id: str, app_id: str, stage: int, found: Found) -> tuple[Any, ...]:
    attribution = found.attribution
    return event_id, app_id, stage, found.micros, found.keys, attribution.touch.packed(), attribution.match


class _Touches:
    """Touches decoded from their packed form, once per touch id (many conversions find the same
    touch), at most ``limit`` held."""

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._known: dict[str, Touch] = {}

    def __call__(self, packed: list[Any]) -> Touch:
        touch = self._known.get(packed[0])
        if touch is None:
            if len(self._known) >= self._limit:
                self._known.clear()
            touch = self._known[packed[0]] = Touch.unpacked(packed)
        return touch


def _found_of(message: tuple[Any, ...], touches: _Touches) -> Found:
    _, _, stage, micros, keys, packed, match = message
    return Found(micros, keys, Attribution(touches(packed), match, stage == LINKED))


class _Batches:
    """Messages gathered per destination group, output as one ``(group, pack([messages]))``
    element each: from one call (:meth:`drain`) or one bundle (:meth:`windowed`)."""

    def __init__(self) -> None:
        self._lists: dict[Any, list[Any]] = {}
        self._window: Any = None
        self._timestamp: Any = None

    def add(self, group: Any, message: Any, timestamp: Any = None, window: Any = None) -> None:
        listed = self._lists.get(group)
        if listed is None:
            self._lists[group] = [message]
        else:
            listed.append(message)
        if window is not None:
            self._window = window
            if self._timestamp is None or timestamp > self._timestamp:
                self._timestamp = timestamp

    def drain(self, tag: str | None = None) -> Iterator[Any]:
        lists, self._lists = self._lists, {}
        for group, listed in lists.items():
            batch = (group, packing.pack(listed))
            yield batch if tag is None else beam.pvalue.TaggedOutput(tag, batch)

    def windowed(self) -> Iterator[WindowedValue]:
        for element in self.drain():
            yield WindowedValue(element, self._timestamp, (self._window,))


# --------------------------------------------------------------------------- the stages


class _KeyGroupFn(beam.DoFn):
    """Base of the two lookups per (app, key shard, time bucket): what a group's keys found,
    as messages batched per dedup shard of their event id."""

    def __init__(self, windows: dict[str, Windows], max_per_type: int, event_shards: int) -> None:
        self._windows = windows
        self._max = max_per_type
        self._event_shards = event_shards
        self._touches = _Touches()
        self._group_values = Metrics.distribution(METRICS_NAMESPACE, GROUP_VALUES)

    def _messages(self, app_id: str, stage: int, found: Iterator[tuple[str, Found]]) -> Iterator[tuple[int, bytes]]:
        batches = _Batches()
        with collector_paused():
            for event_id, one in found:
                batches.add(dedup_shard(event_id, self._event_shards), _found_message(event_id, app_id, stage, one))
        yield from batches.drain()

    @staticmethod
    def _packs_and_lists(values: Iterable[Any]) -> tuple[list[GroupPack], list[list[Any]]]:
        """A group's values apart: its conversion packs (tuples) and its batches' lists (of touch
        copies, or of links)."""
        packs: list[GroupPack] = []
        lists: list[list[Any]] = []
        for value in values:
            if type(value) is tuple:
                packs.append(value)
            else:
                lists.append(packing.unpack(value))
        return packs, lists


class _DirectTouchesFn(_KeyGroupFn):
    """A group's touches and packs -> each conversion's best touch under each key (most groups
    have no touch: their packs are only counted)."""

    def process(self, element) -> Iterator[tuple[int, bytes]]:
        (app_id, _, _), values = element
        packs, lists = self._packs_and_lists(values)
        touches: list[tuple[str, Touch]] = [
            (text, self._touches(packed)) for copies in lists for text, packed in copies
        ]
        self._group_values.update(most_per_key(packs, (text for text, _ in touches)))
        if packs and touches:
            yield from self._messages(app_id, DIRECT, lookup_direct(touches, packs, self._windows[app_id], self._max))


class _FirstHopFn(beam.DoFn):
    """A conversion's keys' bests -> its first hop (on to its decision), and the links it
    teaches, copied into the buckets they serve."""

    def __init__(self, windows: dict[str, Windows], bucket: int, shards: int) -> None:
        self._windows = windows
        self._bucket = bucket
        self._shards = shards
        self._touches = _Touches()

    def process(self, element) -> list[Any]:
        event_shard, batches = element
        with collector_paused():  # (its messages by event id: many containers, no cycles)
            return list(self._first_hops(event_shard, batches))

    def _first_hops(self, event_shard: int, batches: Iterable[bytes]) -> Iterator[Any]:
        by_event: dict[str, list[tuple[Any, ...]]] = {}
        for batch in batches:
            for message in packing.unpack(batch):
                by_event.setdefault(message[0], []).append(message)
        hops: list[tuple[Any, ...]] = []
        links = _Batches()
        for event_id, messages in by_event.items():
            app_id = messages[0][1]
            windows = self._windows[app_id]
            hop = first_hop((_found_of(message, self._touches) for message in messages), windows)
            if hop is None:
                continue
            hops.append(_found_message(event_id, app_id, FIRST_HOP, hop))
            touch = hop.attribution.touch
            until = micros_of(touch.timestamp) + micros_in(windows.longest)
            served = buckets_served(hop.micros, until, self._bucket)
            packed = touch.packed()
            for text in links_taught(hop):
                shard = key_shard(text, self._shards)
                link = (text, hop.micros, event_id, packed)
                for index in served:
                    links.add((app_id, shard, index), link)
        if hops:
            yield event_shard, packing.pack(hops)
        yield from links.drain(LINKS)


class _LinkedTouchesFn(_KeyGroupFn):
    """A group's links and packs (the same as its direct lookups') -> each conversion's best
    link under each key (most groups have no link: their packs are not even read)."""

    def process(self, element) -> Iterator[tuple[int, bytes]]:
        (app_id, _, _), values = element
        packs, lists = self._packs_and_lists(values)
        links: list[tuple[str, Link]] = [
            (text, Link(micros, taught_by, self._touches(packed)))
            for taught in lists
            for text, micros, taught_by, packed in taught
        ]
        if links and packs:
            yield from self._messages(app_id, LINKED, lookup_linked(links, packs, self._windows[app_id], self._max))


class Decide:
    """A conversion's first hop and linked bests -> its decided columns (or None): the join
    the backfill's dedup applies to each event id's messages where its rows are kept
    (:class:`transforms.dedup.DropDuplicateCopies`), so that no group per event id is needed
    after the first hops."""

    def __init__(self, windows: dict[str, Windows]) -> None:
        self._windows = windows
        self._attributed = Metrics.counter(METRICS_NAMESPACE, "attributed")
        self._touches = _Touches()

    def __call__(self, messages: list[tuple[Any, ...]]) -> dict[str, Any] | None:
        hop = None
        linked = []
        for message in messages:
            if message[2] == FIRST_HOP:
                hop = _found_of(message, self._touches)
            else:
                linked.append(_found_of(message, self._touches))
        decided = decide(hop, linked, self._windows[messages[0][1]])
        if decided is None:
            return None
        micros, attribution = decided
        self._attributed.inc()
        return attribution.columns(moment_of(micros))


# --------------------------------------------------------------------------- keying


class _TouchCopiesFn(beam.DoFn):
    """Touches rows -> each touch under each of its keys, in every bucket whose conversions could
    use it: one list per group and bundle."""

    def __init__(self, windows: dict[str, Windows], bucket: int, shards: int) -> None:
        self._windows = windows
        self._bucket = bucket
        self._shards = shards

    def start_bundle(self) -> None:
        self._batches = _Batches()

    def process(self, row, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam) -> None:
        touch = Touch.from_row(row)
        app_windows = self._windows.get(touch.app_id)
        if app_windows is None:
            return
        since = micros_of(touch.timestamp)
        served = buckets_served(since, since + micros_in(app_windows.longest), self._bucket)
        packed = touch.packed()
        for key in touch.keys:
            text = key_text(key)
            shard = key_shard(text, self._shards)
            for index in served:
                self._batches.add((touch.app_id, shard, index), (text, packed), timestamp, window)

    def finish_bundle(self) -> Iterator[WindowedValue]:
        yield from self._batches.windowed()


def touches_usable_by(conversions: TouchesToRead, windows: dict[str, Windows]) -> TouchesToRead:
    """The touches an app's conversions of a time span could use: its longest window before them."""
    app_id, (first, last) = conversions
    return app_id, (first - micros_in(windows[app_id].longest), last)


def _widest(spans: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """The span covering every (first, last) time span given."""
    spans = list(spans)
    return min(first for first, _ in spans), max(last for _, last in spans)


# --------------------------------------------------------------------------- the in-memory plan


class ConversionPack(NamedTuple):
    """A chunk's conversions of one app, packed (``domain.replay.replay_entry``), for its replay."""

    pack: bytes


class _ReplayAppFn(beam.DoFn):
    """One app's touches and conversion packs -> its decisions (``replay_decisions``' blobs:
    few, compact elements, so that the side input that carries them costs little to cache)."""

    def __init__(self, windows: dict[str, Windows]) -> None:
        self._windows = windows
        self._attributed = Metrics.counter(METRICS_NAMESPACE, "attributed")
        self._group_values = Metrics.distribution(METRICS_NAMESPACE, GROUP_VALUES)

    def process(self, element) -> Iterator[bytes]:
        app_id, items = element
        items = list(items)
        self._group_values.update(len(items))
        # By id: a touch read from the table may also be one of the archive's (the same touch).
        touches = list({item.id: item for item in items if type(item) is Touch}.values())
        packs = [item.pack for item in items if type(item) is ConversionPack]
        with collector_paused():
            decided = list(replay_decisions(app_id, touches, packs, self._windows[app_id]))
        for blob, count in decided:
            self._attributed.inc(count)
            yield blob


class WithDecisions:
    """The in-memory plan's kept-row step of the dedup (``DropDuplicateCopies(kept=WithDecisions(),
    ...)``): given :class:`_ReplayAppFn`'s blobs (a list side input), the function that sets a
    row's attribution columns (:meth:`DecisionTable.apply`). The table is built once per worker
    and side input value (each shard hands the same blobs again), not per shard or bundle."""

    def __init__(self) -> None:
        self._blobs: list[bytes] | None = None
        self._table: DecisionTable | None = None

    def __call__(self, blobs: list[bytes]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        if self._table is None or (blobs is not self._blobs and blobs != self._blobs):
            self._table = DecisionTable(blobs)  # (equal blobs: the same decisions)
        self._blobs = blobs
        return self._table.apply

    def __getstate__(self) -> dict[str, Any]:  # shipped to workers without a table
        return {"_blobs": None, "_table": None}


# --------------------------------------------------------------------------- the composite


def _conversion_span(element: tuple[Any, ...], bucket: int) -> tuple[str, tuple[int, int]]:
    """An app's conversions' time span in a mapping element: a per-app pack's own, or a keyed
    group's bucket."""
    if len(element) == 4:  # (app id, pack, first, last)
        app_id, _, first, last = element
        return app_id, (first, last)
    (app_id, _, index), _ = element
    return app_id, (index * bucket, (index + 1) * bucket - 1)


class AttributeBackfill(beam.PTransform):
    """The backfill's attribution: ``{"touches": rows, "conversions": packs}`` -> what
    :meth:`dedup` sets on the kept rows as it emits them. The rows (the bulk) never meet this
    graph.

    Two plans, which decide alike (``domain.attribution``'s rules, in event-time order):

    - in memory (``keyed`` None): one group per app, replayed by one worker
      (``domain.replay``), its decisions a side input of the dedup: fast, and bounded by the
      archives it is chosen for (``beam_jobs.backfill``: ``--attribution_plan``);
    - ``keyed`` (:class:`domain.keyed_replay.KeyedPlan`): groups per (app, key shard, time
      bucket), each key's values in event-time order, then per event id, the messages grouped
      with their rows' dedup shards: no group grows with the app or the archive, only with one
      user's activity in a bucket, and no side input.

    ``conversions``: the mapping step's packs, per app or per keyed group (its ``keyed``, the
    same as here). ``read_touches`` (the backfill's ``--read_touches_table``): a step from
    :data:`transforms.touches_table.TouchesToRead` to touches rows: each app's touches are then
    also those of the table from its longest window before its earliest conversion to its
    latest (a touch both there and in the archive counts once). ``event_shards``: the dedup's.
    """

    def __init__(
        self,
        windows: dict[str, Windows],
        event_shards: int,
        *,
        keyed: KeyedPlan | None = None,
        read_touches: beam.PTransform | None = None,
        max_touches_per_key: int = DEFAULT_MAX_TOUCHES_PER_KEY,
    ) -> None:
        super().__init__()
        self._windows = windows
        self._event_shards = event_shards
        self._keyed = keyed
        self._read_touches = read_touches
        self._max = max_touches_per_key

    def dedup(self, found, window: timedelta, stat_key: StatKeyFn) -> DropDuplicateCopies:
        """The dedup that sets what this step ``found`` on the kept rows: the in-memory plan's
        decisions as a side input (one app's at most: bounded by the plan's choice), the keyed
        plan's messages grouped with their rows' shards."""
        if self._keyed is None:
            return DropDuplicateCopies(
                window, stat_key=stat_key, kept=WithDecisions(), side_input=beam.pvalue.AsList(found)
            )
        return DropDuplicateCopies(window, stat_key=stat_key, joined=found, join=Decide(self._windows))

    def expand(self, inputs):
        touches, packs = inputs["touches"], inputs["conversions"]
        bucket = micros_in(self._keyed.bucket) if self._keyed is not None else 1
        if self._read_touches is not None:  # and those of the table the archive's conversions could use
            table = (
                packs
                | "ConversionTimes" >> beam.Map(_conversion_span, bucket)
                | "TimesPerApp" >> beam.CombinePerKey(_widest)
                | "TouchesToRead" >> beam.Map(touches_usable_by, self._windows)
                | "ReadTouchesTable" >> self._read_touches
            )
            # (The table's links are the streaming job's; a backfill learns its own.)
            touches = (touches, table | "NoLinks" >> beam.Filter(lambda row: row.get("source") != LINK_SOURCE)) | (
                "WithTableTouches" >> beam.Flatten()
            )
        if self._keyed is None:
            return self._in_memory(touches, packs)
        return self._per_key(touches, packs, bucket, self._keyed.shards)

    def _in_memory(self, touches, packs):
        app_touches = touches | "TouchesByApp" >> beam.Map(lambda row: (row["app_id"], Touch.from_row(row)))
        app_packs = packs | "PacksByApp" >> beam.MapTuple(lambda app_id, pack, *_: (app_id, ConversionPack(pack)))
        return (
            (app_touches, app_packs)
            | "ToReplay" >> beam.Flatten()
            | "GroupByApp" >> beam.GroupByKey()
            | "ReplayInOrder" >> beam.ParDo(_ReplayAppFn(self._windows))
        )

    def _per_key(self, touches, packs, bucket: int, shards: int):
        touch_copies = touches | "TouchesIntoBuckets" >> beam.ParDo(_TouchCopiesFn(self._windows, bucket, shards))
        direct = (
            (touch_copies, packs)
            | "DirectInputs" >> beam.Flatten()
            | "GroupByKeyAndBucket" >> beam.GroupByKey()
            | "DirectTouches" >> beam.ParDo(_DirectTouchesFn(self._windows, self._max, self._event_shards))
        )
        hops = (
            direct
            | "FoundByEventShard" >> beam.GroupByKey()
            | "FirstHop" >> beam.ParDo(_FirstHopFn(self._windows, bucket, shards)).with_outputs(LINKS, main="hops")
        )
        linked = (
            (packs, hops[LINKS])
            | "LinkedInputs" >> beam.Flatten()
            | "GroupLinksByKeyAndBucket" >> beam.GroupByKey()
            | "LinkedTouches" >> beam.ParDo(_LinkedTouchesFn(self._windows, self._max, self._event_shards))
        )
        return (hops.hops, linked) | "DecideInputs" >> beam.Flatten()

"""Drop repeats of a Segment message: key (app_id, messageId) = the event id.

A copy is a duplicate when an earlier copy of the same key was kept less than ``window``
before (in element time: the publish time when streaming, the event time in backfills).
State lives in the global window, so a repeat is caught across any window boundary, and a
key's state is cleared by an event-time timer once the watermark passes ``window`` after
its kept copy: the state holds only the keys seen within the horizon.

Streaming uses a stateful DoFn (one state cell and one timer per key). Batch groups copies
by shard of the key and decides each key's copies at once, so a replayed backfill decides
identically. The rule itself is ``domain.dedup`` (Beam's ``DeduplicatePerKey`` drops repeats silently;
we must count them as outcomes).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Hashable, Iterable, Iterator
from datetime import timedelta
from typing import Any

import apache_beam as beam
import orjson
from apache_beam.coders import VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration

from domain.dedup import is_repeat, split_copies
from domain.timestamps import micros_in
from schemas.reasons import METRICS_NAMESPACE
from transforms import packing
from transforms.counting import BundleCounts
from transforms.state_cache import StatefulDoFn
from transforms.tags import COUNTS, DUPLICATE

# ``stat_key(value, duplicate)``: the group a kept (False) or repeated (True) copy counts in.
StatKeyFn = Callable[[Any, bool], Hashable]

# Batch: what a key's kept rows are joined with, where its shard's copies are deduplicated (the
# dedup's own group is the join, no other shuffle): ``(shard, pack([parts]))`` elements
# (``transforms.packing``), a part being a tuple whose first item is its key, and a function
# from a key's parts to the columns its kept rows get (or None). E.g. attribution's messages and
# the decision over them.
JoinFn = Callable[[list[Any]], dict[str, Any] | None]
# ``kept(side input)``: the function a kept copy is output through, asked once per shard with
# the side input's value.
KeptFn = Callable[[Any], Callable[[Any], Any]]


def dedup_shard(key: str, shards: int) -> int:
    """The shard of the batch dedup a key's copies (and its joined parts) go to."""
    return zlib.crc32(key.encode()) % shards


class _DedupFn(beam.DoFn):
    """Shared by both dedup DoFns: metrics and, with ``stat_key``, per-bundle outcome counts."""

    def __init__(self, window: timedelta, stat_key: StatKeyFn | None) -> None:
        self._window_micros = micros_in(window)
        self._stat_key = stat_key
        self._imported = Metrics.counter(METRICS_NAMESPACE, "imported")
        self._duplicates = Metrics.counter(METRICS_NAMESPACE, "duplicate")

    def start_bundle(self) -> None:
        self._kept = self._repeated = 0
        self._counts = BundleCounts()

    def _count(self, value: Any, duplicate: bool, timestamp: Any, window: Any) -> None:
        if self._stat_key is not None:
            self._counts.add(self._stat_key(value, duplicate), 1, timestamp, window)

    def finish_bundle(self):
        # Beam counters are costly per call: one increment per bundle.
        self._imported.inc(self._kept)
        self._duplicates.inc(self._repeated)
        yield from self._counts.windowed(COUNTS)


@beam.typehints.with_output_types(Any)
class _DedupStreamingFn(_DedupFn, StatefulDoFn):
    """Keyed by event id; outputs the first copy, tags later copies within the window."""

    KEPT_AT = ReadModifyWriteStateSpec("kept_at_micros", VarIntCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def process(
        self,
        element,
        timestamp=beam.DoFn.TimestampParam,
        window=beam.DoFn.WindowParam,
        kept_at=beam.DoFn.StateParam(KEPT_AT),
        expiry=beam.DoFn.TimerParam(EXPIRY),
    ):
        _, (micros, value) = element
        if is_repeat(micros, kept_at.read(), self._window_micros):
            self._repeated += 1
            self._count(value, True, timestamp, window)
            yield beam.pvalue.TaggedOutput(DUPLICATE, value)
            return
        kept_at.write(micros)
        # Cleared once the watermark passes the window after this copy's element time.
        expiry.set(timestamp + Duration(micros=self._window_micros))
        self._kept += 1
        self._count(value, False, timestamp, window)
        yield value

    @on_timer(EXPIRY)
    def expire(self, kept_at=beam.DoFn.StateParam(KEPT_AT)):
        kept_at.clear()


# A shard's copies from one mapping call: ``(pack((keys, times)), pack(values, compress=True))``
# (``transforms.packing``).
Pack = tuple[bytes, bytes]


class CopyPacker:
    """Batch input of :class:`DropDuplicates`: copies packed per dedup shard, for one element each.

    A GroupByKey element per copy costs the runner far more than deduplicating it (encode,
    shuffle write and read, decode, and a DoFn call on each side). A mapping step that
    produces many copies per element (a chunk of archive lines) adds them here and outputs
    :meth:`packs`: per shard, one ``(shard, pack)`` element holding its keys, times and
    values (values as orjson bytes: they must be JSON-native, as events rows are). A pack is
    two packed lists (``transforms.packing``), ``(keys and times, values)``, so that the
    dedup's first pass (which counts copies per key) reads the keys without copying the
    values. The values are compressed: they are most of the bytes a backfill shuffles, and rows
    of one app repeat their column names and most of their values (a pack of 10k generated rows:
    17.5 MB, 1.7 MB compressed).
    """

    def __init__(self, shards: int) -> None:
        self._shards = shards
        self._packs: dict[int, tuple[list[str], list[int], list[bytes]]] = {}

    def add(self, key: str, micros: int, value: Any) -> None:
        shard = dedup_shard(key, self._shards)
        pack = self._packs.get(shard)
        if pack is None:
            pack = self._packs[shard] = ([], [], [])
        pack[0].append(key)
        pack[1].append(micros)
        pack[2].append(orjson.dumps(value))

    def packs(self) -> Iterator[tuple[int, Pack]]:
        """``(shard, pack)`` per shard with copies; then starts over."""
        packs, self._packs = self._packs, {}
        for shard, (keys, times, values) in packs.items():
            yield shard, (packing.pack((keys, times)), packing.pack(values, compress=True))


def _unpack_keys(copies: Pack) -> list[str]:
    return packing.unpack(copies[0])[0]


def _unpack(copies: Pack) -> tuple[list[str], list[int], list[bytes]]:
    keys, times = packing.unpack(copies[0])
    return keys, times, packing.unpack(copies[1])


class _ShardDedupBase(_DedupFn):  # (the two DoFns below differ only in what a kept value becomes)
    """One shard's packs -> the :func:`split_copies` rule per key, holding little in memory.

    Two passes over the grouped packs (a GroupByKey result can be iterated again): the first
    counts copies per key; the second outputs each single copy at once and keeps only the
    copies of repeated keys until the end. So a shard costs its key set plus its repeats,
    not its rows.
    """

    def _split(self, packs: Iterable[Pack], kept_fn: Callable[[str, Any], Any] | None, timestamp, window):
        copies_per_key: dict[str, int] = {}
        for pack in packs:
            for key in _unpack_keys(pack):
                copies_per_key[key] = copies_per_key.get(key, 0) + 1
        # Outcome counts summed per shard first (one timestamp and window for all its copies).
        stat_key = self._stat_key
        counts: dict[Hashable, int] = {}

        def tally(value: Any, duplicate: bool) -> None:
            if stat_key is not None:
                group = stat_key(value, duplicate)
                counts[group] = counts.get(group, 0) + 1

        repeated: dict[str, list[tuple[int, Any]]] = {}
        for pack in packs:
            keys, times, values = _unpack(pack)
            for key, micros, value in zip(keys, times, values, strict=True):
                if copies_per_key[key] == 1:
                    value = orjson.loads(value)
                    self._kept += 1
                    tally(value, False)
                    yield value if kept_fn is None else kept_fn(key, value)
                else:
                    repeated.setdefault(key, []).append((micros, orjson.loads(value)))
        for key, copies in repeated.items():
            kept, duplicates = split_copies(copies, self._window_micros)
            self._kept += len(kept)
            self._repeated += len(duplicates)
            for value in kept:
                tally(value, False)
                yield value if kept_fn is None else kept_fn(key, value)
            for value in duplicates:
                tally(value, True)
                yield beam.pvalue.TaggedOutput(DUPLICATE, value)
        for group, count in counts.items():
            self._counts.add(group, count, timestamp, window)


@beam.typehints.with_output_types(Any)
class _DedupShardFn(_ShardDedupBase):
    """Kept values are output as they are, or with ``join``: with the columns their key's
    joined parts give (the parts grouped with the shard's packs)."""

    def __init__(self, window: timedelta, stat_key: StatKeyFn | None, join: JoinFn | None = None) -> None:
        super().__init__(window, stat_key)
        self._join = join

    def process(self, element, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        _, values = element
        if self._join is None:
            return self._split(values, None, timestamp, window)
        parts: dict[str, list[Any]] = {}
        for value in values:
            if type(value) is bytes:  # a batch of joined parts
                for part in packing.unpack(value):
                    parts.setdefault(part[0], []).append(part)
        decided: dict[str, dict[str, Any]] = {}
        for key, listed in parts.items():
            columns = self._join(listed)
            if columns is not None:
                decided[key] = columns
        packs = _Packs(values)
        return self._split(packs, lambda key, row: _with_columns(row, decided.get(key)), timestamp, window)


@beam.typehints.with_output_types(Any)
class _DedupShardWithSideInputFn(_ShardDedupBase):
    """Kept values are output as ``kept(side input)(value)``."""

    def __init__(self, window: timedelta, stat_key: StatKeyFn | None, kept: KeptFn) -> None:
        super().__init__(window, stat_key)
        self._kept_fn = kept

    def process(self, element, side, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        apply = self._kept_fn(side)
        return self._split(element[1], lambda _, row: apply(row), timestamp, window)


class _Packs:
    """The packs among a shard's grouped values, iterable again as the values are (so that
    they are read twice, never held)."""

    def __init__(self, values: Iterable[Any]) -> None:
        self._values = values

    def __iter__(self) -> Iterator[Pack]:
        for value in self._values:
            if type(value) is not bytes:
                yield value


def _with_columns(row: dict[str, Any], columns: dict[str, Any] | None) -> dict[str, Any]:
    """A kept row with its decided columns (set in place: the row was just decoded)."""
    if columns is not None:
        row.update(columns)
    return row


def _outputs(stat_key: StatKeyFn | None) -> tuple[str, ...]:
    return (DUPLICATE, COUNTS) if stat_key is not None else (DUPLICATE,)


class DropDuplicates(beam.PTransform):
    """The streaming dedup: ``(key, (time_micros, value))`` -> values (main, ``unique``); a
    repeat within ``window`` of its key's kept copy goes to ``duplicate``. A stateful DoFn: one
    state cell and one timer per key. With ``stat_key``, a ``counts`` output has
    ``(stat_key(value, duplicate), n)`` per key and bundle (see :class:`BundleCounts`), so that
    callers need no element per copy to count.
    """

    def __init__(self, window: timedelta, *, stat_key: StatKeyFn | None = None) -> None:
        super().__init__()
        self._window = window
        self._stat_key = stat_key

    def expand(self, keyed):
        keep = beam.ParDo(_DedupStreamingFn(self._window, self._stat_key))
        keep.label = "KeepFirstCopy"  # (the stateful step's name: no class name in it, see dataflow/README.md)
        return keyed | "FirstCopyPerKey" >> keep.with_outputs(*_outputs(self._stat_key), main="unique")


class DropDuplicateCopies(beam.PTransform):
    """The backfill's dedup, as :class:`DropDuplicates` decides but grouped: elements are
    ``(shard, pack)`` from :class:`CopyPacker`; each shard's packs are grouped and every key's
    copies decided by :func:`split_copies`, so a replayed backfill decides identically.

    What a kept row becomes, if anything, comes one of two ways: ``joined`` (a PCollection of
    ``(shard, pack([parts]))``, ``transforms.packing``, by :func:`dedup_shard` with the packer's
    number of shards) and ``join``: each key's parts meet its copies in their shard's group, and
    its kept rows get the columns ``join(parts)`` gives; or ``kept`` and ``side_input``: each
    kept row is output as ``kept(side input's value)(row)``, for a side input small enough for
    every worker.
    """

    def __init__(
        self,
        window: timedelta,
        *,
        stat_key: StatKeyFn | None = None,
        joined: Any = None,
        join: JoinFn | None = None,
        kept: KeptFn | None = None,
        side_input: Any = None,
    ) -> None:
        super().__init__()
        if (joined is None) != (join is None) or (kept is None) != (side_input is None):
            raise ValueError("joined goes with join, and kept with side_input")
        if join is not None and kept is not None:
            raise ValueError("a join or a side input, not both")
        self._window = window
        self._stat_key = stat_key
        self._joined = joined
        self._join = join
        self._kept = kept
        self._side_input = side_input

    def expand(self, keyed):
        if self._joined is not None:
            keyed = (keyed, self._joined) | "CopiesAndJoined" >> beam.Flatten()
        if self._kept is not None:
            split = beam.ParDo(_DedupShardWithSideInputFn(self._window, self._stat_key, self._kept), self._side_input)
        else:
            split = beam.ParDo(_DedupShardFn(self._window, self._stat_key, self._join))
        return (
            keyed
            | "GroupShards" >> beam.GroupByKey()
            | "FirstCopyPerKey" >> split.with_outputs(*_outputs(self._stat_key), main="unique")
        )

"""The backfill's attribution (rules §9): decided in event-time order, applied in dedup.

    touches (the archive's, and the table's) + the mapping's conversion packs
        --GroupByApp--> ReplayInOrder: one app's decisions, as a few compact blobs
    dedup: each kept row's columns set from the blobs (WithDecisions, a side input)

The streaming job's stages are ``transforms.streaming_attribution``; both decide with
``domain.attribution``'s rules.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from domain.replay import DecisionTable, replay_decisions
from domain.timestamps import micros_in
from domain.touches import LINK_SOURCE, Touch, Windows
from schemas.reasons import METRICS_NAMESPACE
from transforms.touches_table import TouchesToRead

# --------------------------------------------------------------------------- the backfill


class ConversionPack(NamedTuple):
    """A chunk's conversions of one app, packed (``domain.replay.replay_entry``), for its replay."""

    pack: bytes


# What the replay of an app receives: its touches and its conversions' packs.
# The values one group receives (a distribution): here an app's whole replay, its touches and
# its conversions' packs (one per archive chunk), so it grows with the app's archive (rules §11
# asks for groups that grow only with one user's activity: docs/attribution.md).
GROUP_VALUES = "attribution_group_values"


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
        with _collector_paused():
            for blob, count in replay_decisions(app_id, touches, packs, self._windows[app_id]):
                self._attributed.inc(count)
                yield blob


def touches_usable_by(conversions: TouchesToRead, windows: dict[str, Windows]) -> TouchesToRead:
    """The touches an app's conversions of a time span could use: its longest window before them."""
    app_id, (first, last) = conversions
    return app_id, (first - micros_in(windows[app_id].longest), last)


def _widest(spans: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """The span covering every (first, last) time span given."""
    spans = list(spans)
    return min(first for first, _ in spans), max(last for _, last in spans)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused: the replay builds an app's key sets and conversions
    (many containers, no cycles), and the collections that many allocations trigger walked
    them again and again: measured, the replay took 1.6x as long with the collector on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class DecideInEventTimeOrder(beam.PTransform):
    """The backfill's attribution decisions: ``{"touches": rows, "conversions": packs}`` ->
    the blobs of a :class:`domain.replay.DecisionTable`, decided in event-time order
    (``attribute_in_event_time_order``). ``conversions``: the mapping step's ``(app id, pack,
    first, last)`` of each chunk (``domain.attribution``'s replay input, what attribution needs
    of each copy, and the copies' earliest and latest event time in microseconds).

    ``read_touches`` (the backfill's ``--read_touches_table``): a step from
    :data:`transforms.touches_table.TouchesToRead` to touches rows. Each app's touches are then
    also those of the table from its longest window before its earliest conversion to its
    latest one (loaded from Branch's export files, or written by the stream or an earlier run:
    a touch both there and in the archive counts once).

    Each app's touches and packs are read by one worker (``replay_candidates``, then the
    replay of those in event-time order): memory holds the app's touch keys, the keys it may
    learn and the conversions replayed. The rows (the bulk) never meet this graph: dedup reads
    the blobs as a side input and applies them as it emits each kept row
    (:class:`WithDecisions`).
    """

    def __init__(self, windows: dict[str, Windows], read_touches: beam.PTransform | None = None) -> None:
        super().__init__()
        self._windows = windows
        self._read_touches = read_touches

    def expand(self, inputs):
        touches, packs = inputs["touches"], inputs["conversions"]
        if self._read_touches is not None:  # and those of the table the archive's conversions could use
            table = (
                packs
                | "ConversionTimes" >> beam.MapTuple(lambda app_id, _, first, last: (app_id, (first, last)))
                | "TimesPerApp" >> beam.CombinePerKey(_widest)
                | "TouchesToRead" >> beam.Map(touches_usable_by, self._windows)
                | "ReadTouchesTable" >> self._read_touches
            )
            # (The table's links are the streaming job's; a backfill learns its own.)
            touches = (touches, table | "NoLinks" >> beam.Filter(lambda row: row.get("source") != LINK_SOURCE)) | (
                "WithTableTouches" >> beam.Flatten()
            )
        app_touches = touches | "TouchesByApp" >> beam.Map(lambda row: (row["app_id"], Touch.from_row(row)))
        app_packs = packs | "PacksByApp" >> beam.MapTuple(lambda app_id, pack, *_: (app_id, ConversionPack(pack)))
        return (
            (app_touches, app_packs)
            | "ToReplay" >> beam.Flatten()
            | "GroupByApp" >> beam.GroupByKey()
            | "ReplayInOrder" >> beam.ParDo(_ReplayAppFn(self._windows))
        )


class WithDecisions:
    """The kept-row step of the batch dedup (``DropDuplicates(kept=WithDecisions(), ...)``):
    given :class:`DecideInEventTimeOrder`'s blobs (a list side input), the function that sets a
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

"""The whole import without I/O, messages -> the rows of each table: two composites that
share their parts, one per job.

    messages -> MapSegmentMessages -> imported copies -> DeduplicateEvents -> AttributeEvents -> events rows
                     |  rejected rows ----------------------------------------> rejected_events rows
                     |  touches (rules §9) --------------------------------------> touches rows
                     '- counts ------- + dedup's imported/duplicate counts ---> import_stats rows

:class:`RouteSegmentMessages` (the streaming job): Pub/Sub messages, deduplicated by a
stateful step on their publish time, then attributed in arrival order (``AttributeEvents``).
:class:`RouteArchiveChunks` (the backfill): chunks of archive lines (``MapArchiveChunks``),
deduplicated in shard groups on their event time (``DropDuplicateCopies``); attribution is
decided in event-time order from the touches and the mapping's compact conversion packs
(``AttributionDecisions``: per app in memory, or per identity key for a large archive), and
the dedup sets each kept row's columns as it emits it (from a side input, or from the
decisions joined in its shard groups). Both count outcomes per minute and return the same
tables (``_Route._tables``).

The jobs, the benchmark and the tests run these composites; sinks are attached at the edge
(``beam_jobs/import_graph.py``, which also holds the one switch between them), and the one
read, of the ``touches`` table for attribution, is a step the jobs hand in (``read_touches``),
so the composites themselves do no I/O.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import apache_beam as beam

from domain.attribution import DEFAULT_MAX_TOUCHES_PER_KEY
from domain.import_stats import StatKey, row_key
from domain.keyed_replay import KeyedPlan
from domain.mapping import ImportSettings
from schemas.reasons import Outcome
from schemas.tables import EVENTS, IMPORT_STATS, REJECTED_EVENTS
from schemas.tables import TOUCHES as TOUCHES_TABLE
from transforms.backfill_attribution import AttributeBackfill
from transforms.counting import DEFAULT_STATS_FLUSH_SECONDS, CountOutcomesPerMinute
from transforms.dedup import DropDuplicates
from transforms.map_messages import MapArchiveChunks, MapSegmentMessages
from transforms.streaming_attribution import AttributeEvents
from transforms.tags import CONVERSIONS, COUNTS, RAW, REJECTED, TOUCHES


def _dedup_stat(row: dict[str, Any], duplicate: bool) -> StatKey:
    """The group a kept (imported) or repeated (duplicate) events row counts in."""
    return row_key(row, Outcome.DUPLICATE if duplicate else Outcome.IMPORTED)


class _Route(beam.PTransform):
    """What both routes share: the outcome counts per minute and the tables they return."""

    def _tables(self, mapped, deduped, events, touches, flush_seconds: int | None) -> dict[str, Any]:
        import_stats = (
            (mapped[COUNTS], deduped[COUNTS])
            | "FlattenOutcomes" >> beam.Flatten()
            | "CountOutcomesPerMinute" >> CountOutcomesPerMinute(flush_seconds)
        )
        return {
            EVENTS: events,
            REJECTED_EVENTS: mapped[REJECTED],
            IMPORT_STATS: import_stats,
            TOUCHES_TABLE: touches,
        }


class RouteSegmentMessages(_Route):
    """The streaming job's route: Pub/Sub messages -> ``{"events": rows, "rejected_events":
    rows, "import_stats": rows, "touches": rows}``.

    Deduplicated by a stateful step on their publish time, attributed in arrival order.
    ``keep_raw``: raw messages kept apart for a sink that refuses single rows (see
    :func:`transforms.sinks.rows_carry_raw_message`). ``read_touches``: the step that reads the
    ``touches`` table back for attribution (:class:`transforms.touches_table.ReadTouchesTable`;
    None: attribution starts from the input's touches alone); ``tail_touches`` the step that
    reads the rows loaded since (:class:`transforms.touches_table.TailTouchesTable`).
    ``stats_flush_seconds``: how often a minute's counts are written early.
    """

    def __init__(
        self,
        settings: ImportSettings,
        dedup_window: timedelta,
        *,
        keep_raw: bool = True,
        read_touches: beam.PTransform | None = None,
        stats_flush_seconds: int = DEFAULT_STATS_FLUSH_SECONDS,
        max_touches_per_key: int = DEFAULT_MAX_TOUCHES_PER_KEY,
        tail_touches: beam.PTransform | None = None,
    ) -> None:
        super().__init__()
        self._settings = settings
        self._dedup_window = dedup_window
        self._keep_raw = keep_raw
        self._read_touches = read_touches
        self._stats_flush_seconds = stats_flush_seconds
        self._max_touches_per_key = max_touches_per_key
        self._tail_touches = tail_touches

    def expand(self, messages):
        mapped = messages | "MapSegmentMessages" >> MapSegmentMessages(self._settings, keep_raw=self._keep_raw)
        deduped = mapped.mapped | "DeduplicateEvents" >> DropDuplicates(self._dedup_window, stat_key=_dedup_stat)
        inputs = {"events": deduped.unique, "touches": mapped[TOUCHES]}
        if self._keep_raw:  # (the raw messages skip dedup: they join their rows where they are decided)
            inputs["raw"] = mapped[RAW]
        attributed = inputs | "AttributeEvents" >> AttributeEvents(
            self._settings.windows,
            self._settings.max_event_age,
            read_touches=self._read_touches,
            max_touches_per_key=self._max_touches_per_key,
            tail_touches=self._tail_touches,
            raw_ttl=self._dedup_window + timedelta(hours=1),
        )
        # The links conversions teach are written to touches too: a restarted job reads them back.
        touches = (mapped[TOUCHES], attributed["links"]) | "WithLinks" >> beam.Flatten()
        return self._tables(mapped, deduped, attributed["events"], touches, self._stats_flush_seconds)


class RouteArchiveChunks(_Route):
    """The backfill's route: chunks of archive lines -> the same tables as
    :class:`RouteSegmentMessages`.

    Copies are grouped by ``dedup_shards`` shards of the event id and deduplicated on their
    event time; attribution is decided in event-time order (in memory per app, or with
    ``keyed`` per identity key: :class:`transforms.backfill_attribution.AttributeBackfill`) and
    joined to the kept rows in the dedup's groups; the counts are written once, at the end.
    ``keep_raw``: imported rows carry their raw message (for a sink that refuses single rows).
    ``read_touches`` as for the streaming route.
    """

    def __init__(
        self,
        settings: ImportSettings,
        dedup_window: timedelta,
        dedup_shards: int,
        *,
        keep_raw: bool = True,
        read_touches: beam.PTransform | None = None,
        keyed: KeyedPlan | None = None,
    ) -> None:
        super().__init__()
        self._settings = settings
        self._dedup_window = dedup_window
        self._dedup_shards = dedup_shards
        self._keep_raw = keep_raw
        self._read_touches = read_touches
        self._keyed = keyed

    def expand(self, chunks):
        mapped = chunks | "MapSegmentMessages" >> MapArchiveChunks(
            self._settings, self._dedup_shards, keep_raw=self._keep_raw, keyed=self._keyed
        )
        attribution = AttributeBackfill(
            self._settings.windows, self._dedup_shards, keyed=self._keyed, read_touches=self._read_touches
        )
        found = {"touches": mapped[TOUCHES], "conversions": mapped[CONVERSIONS]} | "AttributionDecisions" >> attribution
        deduped = mapped.mapped | "DeduplicateEvents" >> attribution.dedup(found, self._dedup_window, _dedup_stat)
        return self._tables(mapped, deduped, deduped.unique, mapped[TOUCHES], None)

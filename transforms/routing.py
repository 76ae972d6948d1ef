"""RouteSegmentMessages: the whole import without I/O, messages -> the rows of each table.

    messages -> MapSegmentMessages -> imported copies -> DeduplicateEvents -> AttributeEvents -> events rows
                     |  rejected rows ----------------------------------------> rejected_events rows
                     |  touches (rules §9) --------------------------------------> touches rows
                     '- counts ------- + dedup's imported/duplicate counts ---> import_stats rows

Streaming attributes after dedup, in arrival order (``AttributeEvents``). The backfill decides
in event-time order from the touches and the mapping's compact conversion packs
(``AttributionDecisions``), and its dedup sets each kept row's columns as it emits it.

The streaming job, the backfill, the benchmark and the tests all run this one composite;
sinks are attached at the edge (``beam_jobs/import_graph.py``), and the one read, of the
``touches`` table for attribution, is a step the jobs hand in (``read_touches``), so the
composite itself does no I/O.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import apache_beam as beam

from domain.attribution import DEFAULT_MAX_TOUCHES_PER_KEY
from domain.import_stats import StatKey, row_key
from domain.mapping import ImportSettings
from schemas.reasons import Outcome
from schemas.tables import EVENTS, IMPORT_STATS, REJECTED_EVENTS
from schemas.tables import TOUCHES as TOUCHES_TABLE
from transforms.backfill_attribution import DecideInEventTimeOrder, WithDecisions
from transforms.counting import DEFAULT_STATS_FLUSH_SECONDS, CountOutcomesPerMinute
from transforms.dedup import DropDuplicates
from transforms.map_messages import MapSegmentMessages
from transforms.streaming_attribution import AttributeEvents
from transforms.tags import CONVERSIONS, COUNTS, RAW, REJECTED, TOUCHES


def _dedup_stat(row: dict[str, Any], duplicate: bool) -> StatKey:
    """The group a kept (imported) or repeated (duplicate) events row counts in."""
    return row_key(row, Outcome.DUPLICATE if duplicate else Outcome.IMPORTED)


class RouteSegmentMessages(beam.PTransform):
    """Messages -> ``{"events": rows, "rejected_events": rows, "import_stats": rows, "touches": rows}``.

    Streaming (``dedup_shards`` None): Pub/Sub messages, deduplicated by a stateful step on
    their publish time. Batch: chunks of archive lines, whose copies are grouped by
    ``dedup_shards`` shards of the event id and deduplicated on their event time.
    ``keep_raw``: imported rows carry their raw message, for a sink that refuses single rows
    (see :func:`transforms.sinks.rows_carry_raw_message`). ``read_touches``: the step that reads
    the ``touches`` table back for attribution (:class:`transforms.touches_table.ReadTouchesTable`;
    None: attribution starts from the input's touches alone).
    """

    def __init__(
        self,
        settings: ImportSettings,
        dedup_window: timedelta,
        *,
        dedup_shards: int | None = None,
        keep_raw: bool = True,
        read_touches: beam.PTransform | None = None,
        stats_flush_seconds: int | None = DEFAULT_STATS_FLUSH_SECONDS,
        max_touches_per_key: int = DEFAULT_MAX_TOUCHES_PER_KEY,
        tail_touches: beam.PTransform | None = None,
    ) -> None:
        super().__init__()
        self._tail_touches = tail_touches
        self._stats_flush_seconds = stats_flush_seconds
        self._max_touches_per_key = max_touches_per_key
        self._settings = settings
        self._dedup_window = dedup_window
        self._dedup_shards = dedup_shards
        self._keep_raw = keep_raw
        self._read_touches = read_touches

    def expand(self, messages):
        mapped = messages | "MapSegmentMessages" >> MapSegmentMessages(
            self._settings, dedup_shards=self._dedup_shards, keep_raw=self._keep_raw
        )
        if self._dedup_shards is None:  # streaming: attributed in arrival order, after dedup
            deduped = mapped.mapped | "DeduplicateEvents" >> DropDuplicates(
                self._dedup_window, streaming=True, stat_key=_dedup_stat
            )
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
            events = attributed["events"]
            # The links conversions teach are written to touches too: a restarted job reads them back.
            touches = (mapped[TOUCHES], attributed["links"]) | "WithLinks" >> beam.Flatten()
        else:  # the backfill: decided in event-time order, applied as dedup emits each kept row
            decisions = {
                "touches": mapped[TOUCHES],
                "conversions": mapped[CONVERSIONS],
            } | "AttributionDecisions" >> DecideInEventTimeOrder(
                self._settings.windows, read_touches=self._read_touches
            )
            deduped = mapped.mapped | "DeduplicateEvents" >> DropDuplicates(
                self._dedup_window,
                streaming=False,
                stat_key=_dedup_stat,
                kept=WithDecisions(),
                side_input=beam.pvalue.AsList(decisions),
            )
            events = deduped.unique
            touches = mapped[TOUCHES]
        import_stats = (
            (mapped[COUNTS], deduped[COUNTS])
            | "FlattenOutcomes" >> beam.Flatten()
            | "CountOutcomesPerMinute"
            >> CountOutcomesPerMinute(self._stats_flush_seconds if self._dedup_shards is None else None)
        )
        return {
            EVENTS: events,
            REJECTED_EVENTS: mapped[REJECTED],
            IMPORT_STATS: import_stats,
            TOUCHES_TABLE: touches,
        }

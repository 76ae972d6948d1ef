"""MapSegmentMessages, MapArchiveChunks: each message's outcome by the domain's ``process_message``, routed.

    messages -> mapped copies (main, "mapped", for dedup) / rejected rows (REJECTED) / counts (COUNTS)
                / touches rows (TOUCHES)

Streaming takes Pub/Sub messages; the backfill takes chunks of archive lines and packs its
copies per dedup shard. Failsafe: ``process_message`` never raises (a bug becomes the
outcome ``internal_error``), and every rejected message is dead-lettered with its raw payload.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import orjson
from apache_beam.metrics import Metrics

from domain.dead_letters import attach_raw, raw_fields, rejected_row
from domain.import_stats import StatKey, minute_of
from domain.keyed_replay import ConversionPacker, KeyedPlan
from domain.mapping import ImportSettings, MappingOutcome, process_message
from domain.replay import replay_entry
from domain.speedups import without_nulls
from domain.timestamps import micros_in, micros_of, to_bq_timestamp
from schemas.reasons import METRICS_NAMESPACE, Outcome
from transforms.collector import collector_paused
from transforms.counting import BundleCounts
from transforms.dedup import CopyPacker
from transforms.tags import CONVERSIONS, COUNTS, RAW, REJECTED, TOUCHES


def _stat(minute: str, outcome: MappingOutcome) -> StatKey:
    reason = outcome.reason.value if outcome.reason else None
    return StatKey(
        minute,
        outcome.app_id,
        outcome.platform,
        outcome.outcome.value,
        reason,
        outcome.segment_event,
        outcome.event_name,
    )


class _MapMessagesFn(beam.DoFn):
    """Runs :func:`process_message` and routes the outcome to a tagged output.

    Metrics and the counts are summed per bundle and output in ``finish_bundle``: a Beam
    counter increment and an output element each cost more than mapping a small message,
    and outcomes repeat (same minute, app, reason) within a bundle.
    """

    def __init__(self, settings: ImportSettings, keep_raw: bool = True) -> None:
        self._settings = settings
        self._keep_raw = keep_raw
        self._counters: dict[str, Any] = {}

    def start_bundle(self) -> None:
        self._metric_counts: dict[str, int] = {}
        self._counts = BundleCounts()
        self._touches: list[dict[str, Any]] = []

    def _touch_rows(self) -> Iterator[beam.pvalue.TaggedOutput]:
        """The touches the last message(s) carried, as ``touches`` rows (rare: a list, drained)."""
        touches, self._touches = self._touches, []
        for row in touches:
            yield beam.pvalue.TaggedOutput(TOUCHES, row)

    def finish_bundle(self):
        for name, count in self._metric_counts.items():
            counter = self._counters.get(name)
            if counter is None:
                counter = self._counters[name] = Metrics.counter(METRICS_NAMESPACE, name)
            counter.inc(count)
        self._metric_counts = {}
        yield from self._counts.windowed(COUNTS)

    def _map(self, data: bytes, attributes, publish_time, dedup_micros: int | None, timestamp, window):
        """One message -> ``(event id, dedup time, row)`` if imported, else its dead-letter row
        (rejected) or None (skipped); counted either way.

        The dedup time is ``dedup_micros`` (the publish time when streaming) or, when None
        (backfills), the event time.
        """
        now = datetime.now(UTC)
        outcome = process_message(data, attributes, publish_time, self._settings, now)
        reason = outcome.reason.value if outcome.reason else None
        # Imported here means "mapped": dedup decides imported or duplicate.
        metric = "mapped" if reason is None else f"{outcome.outcome.value}.{reason}"
        self._metric_counts[metric] = self._metric_counts.get(metric, 0) + 1
        if outcome.placeholder_identity:  # a placeholder userId or device id dropped (rules §4)
            self._metric_counts["placeholder_identity"] = self._metric_counts.get("placeholder_identity", 0) + 1

        row, event_time = outcome.row, outcome.event_time
        if row is not None and event_time is not None:  # imported
            if "double_tracking" in row["warnings"]:  # also tracked with the Branch SDK (rules §4)
                self._metric_counts["double_tracking"] = self._metric_counts.get("double_tracking", 0) + 1
            if self._keep_raw:
                row = attach_raw(row, data, attributes, publish_time)
            micros = micros_of(event_time) if dedup_micros is None else dedup_micros
            return row["id"], micros, row
        self._counts.add(_stat(minute_of(to_bq_timestamp(now)), outcome), 1, timestamp, window)
        if outcome.touch is not None:
            self._touches.append(outcome.touch.row(now))
            self._metric_counts["touches"] = self._metric_counts.get("touches", 0) + 1
        elif outcome.touch_dropped is not None:  # a touch source with no identity (or no link data)
            metric = f"touch_dropped.{outcome.touch_dropped}"
            self._metric_counts[metric] = self._metric_counts.get(metric, 0) + 1
        if outcome.outcome is Outcome.REJECTED and outcome.reason is not None:
            return rejected_row(
                data,
                attributes,
                publish_time,
                outcome.reason,
                outcome.detail,
                now,
                max_stored_bytes=self._settings.max_payload_bytes,
                app_id=outcome.app_id,
                message_id=outcome.message_id,
                segment_event=outcome.segment_event,
                branch_event=outcome.event_name,
            )
        return None


@beam.typehints.with_output_types(tuple[str, tuple[int, dict]])
class _MapPubSubMessagesFn(_MapMessagesFn):
    """Streaming: a Pub/Sub message -> ``(event id, (publish time, row))`` or a dead letter. The
    raw message of an imported copy goes apart, to ``RAW`` as ``(event id, raw fields)``: it is
    joined to its row where the row is decided (``AttributeEvents``), so that dedup's shuffle
    does not carry it."""

    def __init__(self, settings: ImportSettings, keep_raw: bool = True) -> None:
        super().__init__(settings, keep_raw=False)  # (rows leave without it: see RAW)
        self._raw_apart = keep_raw

    def process(self, message, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        mapped = self._map(message.data, message.attributes, message.publish_time, timestamp.micros, timestamp, window)
        if isinstance(mapped, tuple):
            event_id, micros, row = mapped
            yield event_id, (micros, row)
            if self._raw_apart:
                yield beam.pvalue.TaggedOutput(
                    RAW, (event_id, raw_fields(message.data, message.attributes, message.publish_time))
                )
        elif mapped is not None:
            yield beam.pvalue.TaggedOutput(REJECTED, mapped)
        elif self._touches:
            yield from self._touch_rows()


@beam.typehints.with_output_types(tuple[int, tuple[bytes, bytes]])
class _MapArchiveChunksFn(_MapMessagesFn):
    """Batch: a chunk of archive lines -> imported copies packed per dedup shard
    (:class:`CopyPacker`, dedup time = event time), dead letters, and on ``CONVERSIONS`` what
    attribution needs of each copy (``replay_entry``), packed for the attribution plan: per app,
    ``(app id, pack, first, last)`` (JSON, and the copies' earliest and latest event time in
    microseconds); or with ``keyed`` (time bucket in microseconds, key shards), per group,
    ``((app id, key shard, time bucket), pack)`` (:class:`ConversionPacker`)."""

    def __init__(self, settings: ImportSettings, shards: int, keep_raw: bool, keyed: tuple[int, int] | None) -> None:
        super().__init__(settings, keep_raw)
        self._shards = shards
        self._keyed = keyed

    def process(self, lines, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam) -> list[Any]:
        with collector_paused():  # (a chunk's rows and packs: many containers, no cycles)
            return list(self._chunk(lines, timestamp, window))

    def _chunk(self, lines: list[bytes], timestamp: Any, window: Any) -> Iterator[Any]:
        packer = CopyPacker(self._shards)
        conversions: dict[str, list] = {}  # per app
        for line in lines:  # archive lines: no attributes, no publish time
            mapped = self._map(line, None, None, None, timestamp, window)
            if isinstance(mapped, tuple):
                event_id, micros, row = mapped
                packer.add(event_id, micros, without_nulls(row))  # (half its JSON is nulls)
                entry = replay_entry(row, micros)
                if entry is not None:
                    conversions.setdefault(row["app_id"], []).append(entry)
            elif mapped is not None:
                yield beam.pvalue.TaggedOutput(REJECTED, mapped)
        yield from self._touch_rows()
        yield from self._conversions(conversions)
        yield from packer.packs()

    def _conversions(self, conversions: dict[str, list]) -> Iterator[beam.pvalue.TaggedOutput]:
        for app_id, entries in conversions.items():
            if self._keyed is None:  # JSON bytes: a cheap coder; and the copies' time span
                times = [entry[1] for entry in entries]
                yield beam.pvalue.TaggedOutput(CONVERSIONS, (app_id, orjson.dumps(entries), min(times), max(times)))
                continue
            groups = ConversionPacker(*self._keyed)
            for entry in entries:
                groups.add(entry)
            for (shard, index), pack in groups.packs():
                yield beam.pvalue.TaggedOutput(CONVERSIONS, ((app_id, shard, index), pack))


class _MapMessages(beam.PTransform):
    """The mapping step of both jobs: their DoFn differs by input, their outputs do not.

    Outputs: mapped copies (main, ``mapped``) for the dedup, ``REJECTED`` dead-letter rows,
    ``COUNTS`` of skipped and rejected messages, ``TOUCHES`` rows, and (by job) ``CONVERSIONS``
    or ``RAW``. Imported rows keep their raw message for the dead letter of a row the
    streaming-insert sink refuses; ``keep_raw=False`` leaves it out, for a sink that has no
    per-row refusals (a load job is all or nothing): less to encode, pack and shuffle.
    """

    def _fn(self) -> _MapMessagesFn:
        raise NotImplementedError

    def expand(self, messages):
        return messages | "MapToBranchEvents" >> beam.ParDo(self._fn()).with_outputs(
            REJECTED, COUNTS, TOUCHES, CONVERSIONS, RAW, main="mapped"
        )


class MapSegmentMessages(_MapMessages):
    """The streaming job's mapping: Pub/Sub messages in; the main output holds
    ``(event id, (publish time, row))``, the raw messages go apart on ``RAW``."""

    def __init__(self, settings: ImportSettings, *, keep_raw: bool = True) -> None:
        super().__init__()
        self._settings = settings
        self._keep_raw = keep_raw

    def _fn(self) -> _MapMessagesFn:
        return _MapPubSubMessagesFn(self._settings, self._keep_raw)


class MapArchiveChunks(_MapMessages):
    """The backfill's mapping: chunks of archive lines in (lists of bytes,
    :class:`transforms.archives.ReadArchiveChunks`); the main output holds ``(shard, pack)``
    elements (:class:`CopyPacker`, ``dedup_shards`` shards of the event id), the copies' dedup
    time being their event time; a raw message rides on its row (``attach_raw``); the
    conversions go to ``CONVERSIONS``, packed per app, or per group of the ``keyed`` plan."""

    def __init__(
        self,
        settings: ImportSettings,
        dedup_shards: int,
        *,
        keep_raw: bool = True,
        keyed: KeyedPlan | None = None,
    ) -> None:
        super().__init__()
        self._settings = settings
        self._dedup_shards = dedup_shards
        self._keep_raw = keep_raw
        self._keyed = None if keyed is None else (micros_in(keyed.bucket), keyed.shards)

    def _fn(self) -> _MapMessagesFn:
        return _MapArchiveChunksFn(self._settings, self._dedup_shards, self._keep_raw, self._keyed)

"""The importer's Beam stages, each a small composite transform over the pure domain code.

    messages -> MapSegmentMessages -> imported copies / rejected rows / outcome counts
    imported copies -> DeduplicateEvents -> unique rows (+ imported and duplicate counts)
    unique rows -> WriteEventRows (BigQuery) -> sink errors (dead letters + count corrections)
    rejected rows -> rejected_events; counts -> CountOutcomesPerMinute -> import_stats

Failsafe pattern: each imported row carries its raw message until the sink has taken it,
so every failure, at any stage, is dead-lettered exactly as it arrived.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.io.gcp import bigquery as beam_bq
from apache_beam.io.gcp.bigquery_tools import RetryStrategy
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from schemas.reasons import METRICS_NAMESPACE, Outcome, Reason
from schemas.tables import EVENTS, TABLES
from transforms.dead_letter import attach_raw, rejected_row, sink_error_row, strip_raw
from transforms.dedup import COUNTS, BundleCounts, CopyPacker, DropDuplicates
from transforms.mapping import ImportSettings, MappingOutcome, process_message
from transforms.timestamps import UTC, minute_of, to_bq_timestamp

IMPORTED = "imported"
REJECTED = "rejected"
STATS = "stats"

_LOG = logging.getLogger(__name__)


class StatKey(NamedTuple):
    """One ``import_stats`` group: what happened, where, in which processing minute."""

    minute: str
    app_id: str | None
    platform: str | None
    outcome: str
    reason: str | None
    event_name: str | None


def _stat(minute: str, outcome: MappingOutcome) -> StatKey:
    reason = outcome.reason.value if outcome.reason else None
    return StatKey(minute, outcome.app_id, outcome.platform, outcome.outcome.value, reason, outcome.event_name)


def _row_stat_key(row: dict[str, Any], result: str, reason: str | None = None) -> StatKey:
    return StatKey(minute_of(row["ingested_at"]), row["app_id"], row["user_data_os"], result, reason, row["name"])


def _row_stat(row: dict[str, Any], result: str, reason: str | None = None, delta: int = 1) -> tuple[StatKey, int]:
    return _row_stat_key(row, result, reason), delta


def _dedup_stat(row: dict[str, Any], duplicate: bool) -> StatKey:
    """The group a kept (imported) or repeated (duplicate) events row counts in."""
    return _row_stat_key(row, Outcome.DUPLICATE.value if duplicate else Outcome.IMPORTED.value)


class _MapMessagesFn(beam.DoFn):
    """Runs :func:`process_message` and routes the outcome to a tagged output.

    Metrics and the ``stats`` counts are summed per bundle and output in ``finish_bundle``:
    a Beam counter increment and an output element each cost more than mapping a small
    message's outcome, and outcomes repeat (same minute, app, reason) within a bundle.
    """

    def __init__(self, settings: ImportSettings, keep_raw: bool = True) -> None:
        self._settings = settings
        self._keep_raw = keep_raw
        self._counters: dict[str, Any] = {}

    def start_bundle(self) -> None:
        self._metric_counts: dict[str, int] = {}
        self._stats = BundleCounts()

    def finish_bundle(self):
        for name, count in self._metric_counts.items():
            counter = self._counters.get(name)
            if counter is None:
                counter = self._counters[name] = Metrics.counter(METRICS_NAMESPACE, name)
            counter.inc(count)
        self._metric_counts = {}
        yield from self._stats.windowed(STATS)

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

        if outcome.outcome is Outcome.IMPORTED:
            row = attach_raw(outcome.row, data, attributes, publish_time) if self._keep_raw else outcome.row
            micros = _micros(outcome.event_time) if dedup_micros is None else dedup_micros
            return row["id"], micros, row
        self._stats.add(_stat(minute_of(to_bq_timestamp(now)), outcome), 1, timestamp, window)
        if outcome.outcome is Outcome.REJECTED:
            return rejected_row(
                data, attributes, publish_time, outcome.reason, outcome.detail, now,
                max_stored_bytes=self._settings.max_payload_bytes, app_id=outcome.app_id,
                message_id=outcome.message_id, event_name=outcome.event_name,
            )
        return None


@beam.typehints.with_output_types(tuple[str, tuple[int, dict]])
class _MapPubSubMessagesFn(_MapMessagesFn):
    """Streaming: a Pub/Sub message -> ``(event id, (publish time, row))`` or a dead letter."""

    def process(self, message, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        mapped = self._map(message.data, message.attributes, message.publish_time, timestamp.micros,
                           timestamp, window)
        if isinstance(mapped, tuple):
            event_id, micros, row = mapped
            yield event_id, (micros, row)
        elif mapped is not None:
            yield beam.pvalue.TaggedOutput(REJECTED, mapped)


@beam.typehints.with_output_types(tuple[int, bytes])
class _MapArchiveChunksFn(_MapMessagesFn):
    """Batch: a chunk of archive lines -> imported copies packed per dedup shard
    (:class:`CopyPacker`, dedup time = event time) and dead letters."""

    def __init__(self, settings: ImportSettings, shards: int, keep_raw: bool) -> None:
        super().__init__(settings, keep_raw)
        self._shards = shards

    def process(self, lines, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        packer = CopyPacker(self._shards)
        for line in lines:  # archive lines: no attributes, no publish time
            mapped = self._map(line, None, None, None, timestamp, window)
            if isinstance(mapped, tuple):
                packer.add(*mapped)
            elif mapped is not None:
                yield beam.pvalue.TaggedOutput(REJECTED, mapped)
        yield from packer.packs()


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // _MICROSECOND


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def rows_carry_raw_message(write_method: str) -> bool:
    """Whether imported rows need their raw message (``MapSegmentMessages(keep_raw=...)``):
    only the streaming-insert sink refuses single rows, whose dead letters hold it."""
    return write_method == "STREAMING_INSERTS"


class MapSegmentMessages(beam.PTransform):
    """Messages -> ``imported`` copies for :class:`DeduplicateEvents`, ``rejected`` dead-letter
    rows and ``stats`` counts ``(StatKey, n)`` of skipped/rejected messages.

    Streaming (``dedup_shards`` None): Pub/Sub messages in; ``imported`` holds
    ``(event id, (publish time, row))``. Batch: chunks of archive lines in (lists of bytes,
    :class:`transforms.archives.ReadArchiveChunks`); ``imported`` holds ``(shard, pack)``
    elements (:class:`CopyPacker`), the copies' dedup time being their event time.

    Imported rows carry their raw message (``attach_raw``) for the dead letter of a row the
    streaming-insert sink refuses; ``keep_raw=False`` leaves it out, for a sink that has no
    per-row refusals (a load job is all or nothing): less to encode, pack and shuffle.
    """

    def __init__(self, settings: ImportSettings, *, dedup_shards: int | None = None, keep_raw: bool = True) -> None:
        super().__init__()
        self._settings = settings
        self._dedup_shards = dedup_shards
        self._keep_raw = keep_raw

    def expand(self, messages):
        if self._dedup_shards is None:
            fn = _MapPubSubMessagesFn(self._settings, self._keep_raw)
        else:
            fn = _MapArchiveChunksFn(self._settings, self._dedup_shards, self._keep_raw)
        return messages | "MapToBranchEvents" >> beam.ParDo(fn).with_outputs(REJECTED, STATS, main=IMPORTED)


class DeduplicateEvents(beam.PTransform):
    """Imported copies (as :class:`MapSegmentMessages` outputs them) -> unique rows (main) and
    ``stats`` counts of imported and duplicate."""

    def __init__(self, window: timedelta, *, streaming: bool) -> None:
        super().__init__()
        self._window = window
        self._streaming = streaming

    def expand(self, imported):
        # The dedup step counts what it decides (per bundle), instead of one element per row.
        deduped = imported | "DropRepeatedMessageIds" >> DropDuplicates(
            self._window, streaming=self._streaming, stat_key=_dedup_stat)
        return {"unique": deduped.unique, STATS: deduped[COUNTS]}


@beam.typehints.with_output_types(tuple[str, tuple[dict, str]])
class _InsertIdIsEventIdFn(beam.DoFn):
    """Keys rows for Beam's streaming-insert DoFn with insert id = event id.

    (``WriteToBigQuery`` draws random insert ids; the event id makes BigQuery's best-effort
    insert dedup catch a row re-sent after a worker retry, too.)
    """

    def __init__(self, destination: str) -> None:
        self._destination = destination

    def process(self, row):
        yield self._destination, (row, row["id"])


def table_ref(project: str, dataset: str, table: str) -> str:
    return f"{project}:{dataset}.{table}"


class WriteEventRows(beam.PTransform):
    """Unique rows -> BigQuery ``events``; returns dead letters and count corrections of the
    rows BigQuery refused permanently (transient errors are retried by Beam's sink)."""

    def __init__(self, project: str, dataset: str, *, method: str, max_stored_bytes: int,
                 test_client=None, batch_size: int = 500) -> None:
        super().__init__()
        self._destination = table_ref(project, dataset, "events")
        self._method = method
        self._max_stored_bytes = max_stored_bytes
        self._test_client = test_client
        self._batch_size = batch_size

    def expand(self, rows):
        if self._method == "STREAMING_INSERTS":
            failed = (
                rows
                | "KeyByDestination" >> beam.ParDo(_InsertIdIsEventIdFn(self._destination))
                | "StreamingInsert" >> beam.ParDo(beam_bq.BigQueryWriteFn(
                    batch_size=self._batch_size,
                    create_disposition=beam.io.BigQueryDisposition.CREATE_NEVER,
                    write_disposition=beam.io.BigQueryDisposition.WRITE_APPEND,
                    retry_strategy=RetryStrategy.RETRY_ON_TRANSIENT_ERROR,
                    test_client=self._test_client,
                    # The raw message rides along for dead-lettering; BigQuery ignores it.
                    ignore_unknown_columns=True,
                )).with_outputs(beam_bq.BigQueryWriteFn.FAILED_ROWS_WITH_ERRORS, main="written")
            )[beam_bq.BigQueryWriteFn.FAILED_ROWS_WITH_ERRORS]
        else:  # FILE_LOADS (backfills)
            # Beam 2.77's Storage Write API path cannot take JSON columns, so it is not offered.
            rows | "StripRawMessage" >> beam.Map(strip_raw) | "LoadFiles" >> beam.io.WriteToBigQuery(
                self._destination,
                method=beam.io.WriteToBigQuery.Method.FILE_LOADS,
                schema=TABLES[EVENTS].beam_schema(),
                create_disposition=beam.io.BigQueryDisposition.CREATE_NEVER,
                write_disposition=beam.io.BigQueryDisposition.WRITE_APPEND,
                test_client=self._test_client,
            )
            # A load job is all or nothing: a refused file fails the batch job, loudly.
            failed = rows.pipeline | "NoPerRowFailures" >> beam.Create([])
        return failed | "DeadLetterSinkErrors" >> beam.ParDo(_SinkErrorFn(self._max_stored_bytes)).with_outputs(
            STATS, main=REJECTED)


@beam.typehints.with_output_types(dict)
class _SinkErrorFn(beam.DoFn):
    def __init__(self, max_stored_bytes: int) -> None:
        self._max_stored_bytes = max_stored_bytes
        self._sink_errors = Metrics.counter(METRICS_NAMESPACE, f"rejected.{Reason.SINK_ERROR.value}")

    def process(self, failure):
        _, row, errors = failure
        self._sink_errors.inc()
        yield sink_error_row(row, errors, datetime.now(UTC), max_stored_bytes=self._max_stored_bytes)
        # The row was counted imported when it left dedup: move that count to sink_error.
        yield beam.pvalue.TaggedOutput(STATS, _row_stat(row, Outcome.IMPORTED.value, delta=-1))
        yield beam.pvalue.TaggedOutput(STATS, _row_stat(row, Outcome.REJECTED.value, Reason.SINK_ERROR.value))


class _SumPerBundleFn(beam.DoFn):
    """Sums ``(StatKey, delta)`` per key within a bundle; one increment row per key at its end.

    No shuffle, no window, no timer: a count is written as soon as its bundle is done, and
    does not wait for the watermark (which the dedup timers hold back by the dedup window).
    """

    def start_bundle(self) -> None:
        self._sums = BundleCounts()

    def process(self, element, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        key, delta = element
        self._sums.add(key, delta, timestamp, window)

    def finish_bundle(self):
        written_at = to_bq_timestamp(datetime.now(UTC))
        for key, count, timestamp, window in self._sums.drain():
            if count:
                row = {**key._asdict(), "count": count, "written_at": written_at, "row_id": uuid.uuid4().hex}
                yield WindowedValue(row, timestamp, [window])


class CountOutcomesPerMinute(beam.PTransform):
    """``(StatKey, delta)`` elements -> ``import_stats`` rows (the key holds the minute).

    Rows are increments, one per key and bundle: readers sum ``count`` per key, each
    ``row_id`` once (``import_stats_dedup``). Bundles are large on Dataflow (and in batch), so
    this writes far fewer rows than messages.
    """

    def expand(self, stats):
        return stats | "SumPerKeyAndBundle" >> beam.ParDo(_SumPerBundleFn())


class WriteTableRows(beam.PTransform):
    """Rows -> one of the importer's tables with Beam's BigQuery sink (random insert ids)."""

    def __init__(self, project: str, dataset: str, table: str, *, method: str, test_client=None) -> None:
        super().__init__()
        self._destination = table_ref(project, dataset, table)
        self._method = method
        self._test_client = test_client

    def expand(self, rows):
        result = rows | "Write" >> beam.io.WriteToBigQuery(
            self._destination,
            method=self._method,
            create_disposition=beam.io.BigQueryDisposition.CREATE_NEVER,
            write_disposition=beam.io.BigQueryDisposition.WRITE_APPEND,
            insert_retry_strategy=RetryStrategy.RETRY_ON_TRANSIENT_ERROR,
            test_client=self._test_client,
        )
        return result.failed_rows_with_errors | "CountLostRows" >> beam.Map(_log_lost_row)


def _log_lost_row(failure) -> None:
    # Nothing further down can take it: count it loudly (alert on this metric).
    Metrics.counter(METRICS_NAMESPACE, "dead_letter_write_failed").inc()
    destination, _, errors = failure
    _LOG.error("BigQuery refused a row for %s permanently: %s", destination, errors)

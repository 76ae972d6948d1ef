"""BigQuery sinks of the import, attached at the graph's edge (``beam_jobs/import_graph.py``).

Streaming inserts take the path of Beam's own sink with auto-sharding: rows are grouped per
destination by ``GroupIntoBatches.WithShardedKey`` (a batch closes at ``batch_rows`` rows or
after ``buffering_seconds``) before Beam's ``BigQueryWriteFn(with_batched_input=True)``, which
sends each batch in one ``insertAll`` and retries transient errors. A batch job's bundles are
large: its rows are batched within them (``BatchElements``), without state. (Beam 2.77's batch
runner was seen to leave a GroupIntoBatches' last batch unwritten when another GroupIntoBatches
of the pipeline had no input: ``load_touches`` with no dead letters.) So the number of calls
follows the rows, never the bundles: after a stateful step Dataflow streaming runs a bundle
per key, and a write that flushed per bundle would call once per row. Insert ids are the
rows' own identity (``TableSpec.insert_id_columns``), not random ones, so a row re-sent after
a retry is dropped by BigQuery's best-effort dedup too.

A row the sink refuses permanently becomes a ``sink_error`` dead letter with its raw message,
and its ``imported`` count moves to ``rejected``: so every message still ends with exactly one
outcome.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.io.gcp import bigquery as beam_bq
from apache_beam.io.gcp.bigquery_tools import RetryStrategy
from apache_beam.metrics import Metrics

from domain.dead_letters import sink_error_row, strip_raw
from domain.import_stats import row_key
from domain.load_files import LoadFileRows
from schemas.reasons import METRICS_NAMESPACE, Outcome, Reason
from schemas.tables import EVENTS, IMPORT_STATS, REJECTED_EVENTS, TABLES
from transforms.counting import DEFAULT_STATS_FLUSH_SECONDS, CountOutcomesPerMinute
from transforms.tags import COUNTS

_LOG = logging.getLogger(__name__)

BATCH_ROWS = 500  # rows per insertAll call: BigQueryWriteFn.DEFAULT_MAX_BATCH_SIZE, Google's advice
DEFAULT_BUFFERING_SECONDS = 5.0  # the longest a row waits for its batch to fill (--insert_buffering)


def table_ref(project: str, dataset: str, table: str) -> str:
    return f"{project}:{dataset}.{table}"


def rows_carry_raw_message(write_method: str) -> bool:
    """Whether imported rows need their raw message (``RouteSegmentMessages(keep_raw=...)``):
    only the streaming-insert sink refuses single rows, whose dead letters hold it."""
    return write_method == "STREAMING_INSERTS"


def insert_id_of(table: str):
    """The function giving a row of ``table`` its insert id (``TableSpec.insert_id_columns``)."""
    columns = TABLES[table].insert_id_columns
    if len(columns) == 1:
        [column] = columns
        return lambda row: str(row[column])
    return lambda row: hashlib.blake2b(
        "\x1f".join(str(row.get(column) or "") for column in columns).encode(), digest_size=16
    ).hexdigest()


RowAndInsertId = tuple[dict, str]


@beam.typehints.with_output_types(tuple[str, RowAndInsertId])
class _KeyByDestinationFn(beam.DoFn):
    """``(destination, (row, insert id))``, as Beam's streaming-insert DoFn takes rows."""

    def __init__(self, destination: str, table: str) -> None:
        self._destination = destination
        self._table = table

    def setup(self) -> None:
        self._insert_id = insert_id_of(self._table)

    def process(self, row):
        yield self._destination, (row, self._insert_id(row))


class _CountedBatchFn(beam.DoFn):
    """A batch -> ``(destination, rows)`` for the write; its size is the rows of one insertAll
    call (distribution ``insert_batch_rows.<table>``)."""

    def __init__(self, destination: str, table: str) -> None:
        self._destination = destination
        self._rows_per_call = Metrics.distribution(METRICS_NAMESPACE, f"insert_batch_rows.{table}")

    def process(self, batch) -> Iterator[tuple[str, list[Any]]]:
        rows = list(batch[1]) if type(batch) is tuple else batch
        self._rows_per_call.update(len(rows))
        yield self._destination, rows


class StreamingInsertRows(beam.PTransform):
    """Rows -> one table by streaming inserts, batched per destination (see the module doc).
    Returns the rows BigQuery refused permanently, as ``(destination, row, errors)``."""

    def __init__(
        self,
        project: str,
        dataset: str,
        table: str,
        *,
        test_client=None,
        buffering_seconds: float = DEFAULT_BUFFERING_SECONDS,
        batch_rows: int = BATCH_ROWS,
        ignore_unknown_columns: bool = False,
    ) -> None:
        super().__init__()
        self._table = table
        self._destination = table_ref(project, dataset, table)
        self._test_client = test_client
        self._buffering_seconds = buffering_seconds
        self._batch_rows = batch_rows
        self._ignore_unknown_columns = ignore_unknown_columns

    def expand(self, rows):
        keyed = rows | "KeyByDestination" >> beam.ParDo(_KeyByDestinationFn(self._destination, self._table))
        if rows.is_bounded:  # a batch job: batches of its big bundles, no state (as Beam's own sink)
            batches = (
                keyed
                | "BatchPerBundle"
                >> beam.BatchElements(min_batch_size=self._batch_rows, max_batch_size=self._batch_rows)
                | "RowsOnly" >> beam.Map(lambda batch: [row for _, row in batch])
            )
        else:
            batches = keyed | "BatchPerDestination" >> beam.GroupIntoBatches.WithShardedKey(
                self._batch_rows, max_buffering_duration_secs=self._buffering_seconds
            )
        return (
            batches
            | "ToDestination" >> beam.ParDo(_CountedBatchFn(self._destination, self._table))
            | "StreamingInsert"
            >> beam.ParDo(
                beam_bq.BigQueryWriteFn(
                    batch_size=self._batch_rows,
                    create_disposition=beam.io.BigQueryDisposition.CREATE_NEVER,
                    write_disposition=beam.io.BigQueryDisposition.WRITE_APPEND,
                    retry_strategy=RetryStrategy.RETRY_ON_TRANSIENT_ERROR,
                    test_client=self._test_client,
                    ignore_unknown_columns=self._ignore_unknown_columns,
                    with_batched_input=True,
                )
            ).with_outputs(beam_bq.BigQueryWriteFn.FAILED_ROWS_WITH_ERRORS, main="written")
        )[beam_bq.BigQueryWriteFn.FAILED_ROWS_WITH_ERRORS]


@beam.typehints.with_output_types(dict)
class _SinkErrorFn(beam.DoFn):
    """A refused row -> its dead letter (main) and the counts that move it to ``rejected``."""

    def __init__(self, max_stored_bytes: int) -> None:
        self._max_stored_bytes = max_stored_bytes
        self._sink_errors = Metrics.counter(METRICS_NAMESPACE, f"rejected.{Reason.SINK_ERROR.value}")

    def process(self, failure):
        _, row, errors = failure
        self._sink_errors.inc()
        yield sink_error_row(row, errors, datetime.now(UTC), max_stored_bytes=self._max_stored_bytes)
        # The row was counted imported when it left dedup: move that count to sink_error.
        yield beam.pvalue.TaggedOutput(COUNTS, (row_key(row, Outcome.IMPORTED), -1))
        yield beam.pvalue.TaggedOutput(COUNTS, (row_key(row, Outcome.REJECTED, Reason.SINK_ERROR), 1))


class WriteEventRows(beam.PTransform):
    """Unique rows -> BigQuery ``events``; returns ``{"rejected_events": ..., "import_stats": ...}``
    rows for the rows BigQuery refused permanently (transient errors are retried by Beam's sink)."""

    def __init__(
        self,
        project: str,
        dataset: str,
        *,
        method: str,
        max_stored_bytes: int,
        test_client=None,
        buffering_seconds: float = DEFAULT_BUFFERING_SECONDS,
        stats_flush_seconds: int | None = DEFAULT_STATS_FLUSH_SECONDS,
    ) -> None:
        super().__init__()
        self._project, self._dataset = project, dataset
        self._stats_flush_seconds = stats_flush_seconds
        self._destination = table_ref(project, dataset, EVENTS)
        self._method = method
        self._max_stored_bytes = max_stored_bytes
        self._test_client = test_client
        self._buffering_seconds = buffering_seconds

    def expand(self, rows):
        if self._method == "STREAMING_INSERTS":
            failed = rows | "Insert" >> StreamingInsertRows(
                self._project,
                self._dataset,
                EVENTS,
                test_client=self._test_client,
                buffering_seconds=self._buffering_seconds,
                # The raw message rides along for dead-lettering; BigQuery ignores it.
                ignore_unknown_columns=True,
            )
        else:  # FILE_LOADS (backfills)
            # Beam 2.77's Storage Write API path cannot take JSON columns, so it is not offered.
            (
                rows
                | "StripRawMessage" >> beam.Map(strip_raw)
                | "JsonColumnsAsValues" >> beam.Map(LoadFileRows(EVENTS))
                | "LoadFiles"
                >> beam.io.WriteToBigQuery(
                    self._destination,
                    method=beam.io.WriteToBigQuery.Method.FILE_LOADS,
                    schema=TABLES[EVENTS].beam_schema(),
                    create_disposition=beam.io.BigQueryDisposition.CREATE_NEVER,
                    write_disposition=beam.io.BigQueryDisposition.WRITE_APPEND,
                    test_client=self._test_client,
                )
            )
            # A load job is all or nothing: a refused file fails the batch job, loudly.
            failed = rows.pipeline | "NoPerRowFailures" >> beam.Create([])
        dead_letters = failed | "DeadLetterSinkErrors" >> beam.ParDo(_SinkErrorFn(self._max_stored_bytes)).with_outputs(
            COUNTS, main="rejected"
        )
        counts = dead_letters[COUNTS] | "CountSinkErrors" >> CountOutcomesPerMinute(self._stats_flush_seconds)
        return {REJECTED_EVENTS: dead_letters.rejected, IMPORT_STATS: counts}


class WriteTableRows(beam.PTransform):
    """Rows -> one of the importer's other tables by batched streaming inserts
    (:class:`StreamingInsertRows`); a row refused permanently is counted
    (``dead_letter_write_failed``) and logged: nothing further down can take it."""

    def __init__(
        self,
        project: str,
        dataset: str,
        table: str,
        *,
        test_client=None,
        buffering_seconds: float = DEFAULT_BUFFERING_SECONDS,
    ) -> None:
        super().__init__()
        self._project, self._dataset, self._table = project, dataset, table
        self._test_client = test_client
        self._buffering_seconds = buffering_seconds

    def expand(self, rows):
        failed = rows | "Insert" >> StreamingInsertRows(
            self._project,
            self._dataset,
            self._table,
            test_client=self._test_client,
            buffering_seconds=self._buffering_seconds,
        )
        return failed | "CountLostRows" >> beam.Map(_log_lost_row)


def _log_lost_row(failure) -> None:
    # Nothing further down can take it: count it loudly (alert on this metric).
    Metrics.counter(METRICS_NAMESPACE, "dead_letter_write_failed").inc()
    destination, _, errors = failure
    _LOG.error("BigQuery refused a row for %s permanently: %s", destination, errors)

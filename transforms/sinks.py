"""BigQuery sinks of the import, attached at the graph's edge (``beam_jobs/import_graph.py``).

Beam's own sink does the batching and retries. A row the streaming-insert sink refuses
permanently becomes a ``sink_error`` dead letter with its raw message, and its ``imported``
count moves to ``rejected``: so every message still ends with exactly one outcome.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.io.gcp import bigquery as beam_bq
from apache_beam.io.gcp.bigquery_tools import RetryStrategy
from apache_beam.metrics import Metrics

from domain.dead_letters import sink_error_row, strip_raw
from domain.import_stats import row_key
from domain.load_files import LoadFileRows
from schemas.reasons import METRICS_NAMESPACE, Outcome, Reason
from schemas.tables import EVENTS, IMPORT_STATS, REJECTED_EVENTS, TABLES
from transforms.counting import CountOutcomesPerMinute
from transforms.tags import COUNTS

_LOG = logging.getLogger(__name__)


def table_ref(project: str, dataset: str, table: str) -> str:
    return f"{project}:{dataset}.{table}"


def rows_carry_raw_message(write_method: str) -> bool:
    """Whether imported rows need their raw message (``RouteSegmentMessages(keep_raw=...)``):
    only the streaming-insert sink refuses single rows, whose dead letters hold it."""
    return write_method == "STREAMING_INSERTS"


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
        self, project: str, dataset: str, *, method: str, max_stored_bytes: int, test_client=None, batch_size: int = 500
    ) -> None:
        super().__init__()
        self._destination = table_ref(project, dataset, EVENTS)
        self._method = method
        self._max_stored_bytes = max_stored_bytes
        self._test_client = test_client
        self._batch_size = batch_size

    def expand(self, rows):
        if self._method == "STREAMING_INSERTS":
            failed = (
                rows
                | "KeyByDestination" >> beam.ParDo(_InsertIdIsEventIdFn(self._destination))
                | "StreamingInsert"
                >> beam.ParDo(
                    beam_bq.BigQueryWriteFn(
                        batch_size=self._batch_size,
                        create_disposition=beam.io.BigQueryDisposition.CREATE_NEVER,
                        write_disposition=beam.io.BigQueryDisposition.WRITE_APPEND,
                        retry_strategy=RetryStrategy.RETRY_ON_TRANSIENT_ERROR,
                        test_client=self._test_client,
                        # The raw message rides along for dead-lettering; BigQuery ignores it.
                        ignore_unknown_columns=True,
                    )
                ).with_outputs(beam_bq.BigQueryWriteFn.FAILED_ROWS_WITH_ERRORS, main="written")
            )[beam_bq.BigQueryWriteFn.FAILED_ROWS_WITH_ERRORS]
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
        counts = dead_letters[COUNTS] | "CountSinkErrors" >> CountOutcomesPerMinute()
        return {REJECTED_EVENTS: dead_letters.rejected, IMPORT_STATS: counts}


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

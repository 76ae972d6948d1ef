"""Erase one user's rows of one app (``segment-branch erase``): a privacy (GDPR/CCPA) request.

The user is named by one identifier of one kind (the attribution's identity key kinds,
``domain.touches.KEY_KINDS``). Each table is counted first, then its rows are deleted with
one parameterized ``DELETE`` (the value is always a query parameter):

- ``events``: the ``user_data_*`` columns of that kind (``domain.touches.IDENTITY_COLUMNS``);
- ``touches``: its identity column of that kind (named by the kind);
- ``rejected_events``: the dead letters whose message holds the value (:func:`payload_match`);
- ``webhook_failures``: deliveries of the user's events (by ``event_id``), and bodies that hold
  the value (:func:`body_match`).

BigQuery refuses to delete rows still in its streaming buffer (up to ~90 minutes after they
were streamed: "would affect rows in the streaming buffer"). So a row is deleted only when its
ingestion time (``ingested_at``, ``rejected_at``, ``failed_at``) is older than
``streaming_buffer_age``; younger rows are counted as unreachable, and a table whose ``DELETE``
BigQuery still refuses for its buffer counts all its matched rows as unreachable. Running again
later erases them: a run deletes only what matches, so it can be repeated.

Tables are deleted from in the order ``webhook_failures``, ``rejected_events``, ``touches``,
``events``: a failure is found through its event, so an ``events`` row is kept while a
``webhook_failures`` row of it remains (it is unreachable until the failure is gone).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from google.api_core import exceptions
from google.cloud import bigquery

from domain.touches import (
    ADVERTISING_ID,
    BROWSER_FINGERPRINT,
    DEVELOPER_IDENTITY,
    DEVICE_ID,
    IDENTITY_COLUMNS,
    KEY_KINDS,
)
from schemas.tables import EVENTS, REJECTED_EVENTS, TABLES, TOUCHES, WEBHOOK_FAILURES

DEFAULT_STREAMING_BUFFER_AGE = timedelta(minutes=90)
# Every row of a table: a bound on the partition column, which ``events`` requires.
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)

# The tables erase reads, as it reports them, and the order it deletes from them.
ERASED_TABLES = (EVENTS, TOUCHES, REJECTED_EVENTS, WEBHOOK_FAILURES)
DELETE_ORDER = (WEBHOOK_FAILURES, REJECTED_EVENTS, TOUCHES, EVENTS)
# When each row was written (its age decides whether BigQuery's streaming buffer may still hold it).
INGESTED_AT = {
    EVENTS: "ingested_at",
    TOUCHES: "ingested_at",
    REJECTED_EVENTS: "rejected_at",
    WEBHOOK_FAILURES: "failed_at",
}

# Where a Segment message carries each kind (as domain/identifiers.py::user_data reads it;
# tests/unit/test_erase.py maps a message with each path and checks the column it fills).
SEGMENT_PATHS = {
    DEVELOPER_IDENTITY: ("$.userId",),
    ADVERTISING_ID: ("$.context.device.advertisingId",),
    DEVICE_ID: ("$.context.device.id",),
    BROWSER_FINGERPRINT: ("$.properties.browser_fingerprint_id",),
}
# What separates tokens in a payload that is not a JSON object (whitespace, JSON and CSV
# punctuation, query-string separators). One pattern for Python's re and BigQuery's RE2.
TOKEN_SEPARATORS = r'[ \t\n\r\f",:;{}\[\]=&]+'


def events_columns(kind: str) -> tuple[str, ...]:
    """The ``events`` columns that hold an identifier of ``kind``."""
    return tuple(column for key_kind, column in IDENTITY_COLUMNS if key_kind == kind)


def _equals_value(expressions: Sequence[str]) -> list[str]:
    return [f"{expression} = @value" for expression in expressions]


def events_match(kind: str) -> str:
    return "(" + " OR ".join(_equals_value(events_columns(kind))) + ")"


def value_tokens(value: str) -> str | None:
    """``value`` as whole tokens, as :func:`payload_match` looks for it in a payload (``" a b "``);
    None (matches nothing) when it has none."""
    tokens = re.sub(TOKEN_SEPARATORS, " ", value).strip()
    return f" {tokens} " if tokens else None


def payload_match(kind: str) -> str:
    """A dead letter holds the value: its stored message is a JSON object with the value at one
    of the kind's Segment paths (trimmed and as text, as the mapping reads it: ``"userId": 42``
    matches ``42``), or it is no JSON object (malformed or truncated JSON, a Branch export's CSV
    line, an array) and holds the value as whole tokens.

    A plain substring match would erase dead letters of other users whose payload merely
    contains a short value (``"u1"`` in ``"u12"``, ``"7"`` in any number); the JSON paths are
    exact. Only the messages that cannot be read as an object fall back to tokens, where a short
    value can still match a field of another kind (``"1"`` in ``"quantity": 1``): a deletion
    request errs on the side of deleting those few dead letters; ``--dry-run`` shows the counts.
    A payload that is not valid UTF-8 has no ``payload_string``: its bytes are read as text
    (BigQuery replaces the invalid bytes; the emulator gives NULL: docs/testing.md).
    """
    text = "COALESCE(payload_string, SAFE_CONVERT_BYTES_TO_STRING(payload_bytes))"
    paths = [f"TRIM(SAFE.JSON_VALUE({text}, '{path}'))" for path in SEGMENT_PATHS[kind]]
    not_an_object = f"COALESCE(JSON_TYPE(SAFE.PARSE_JSON({text}, wide_number_mode => 'round')), '') != 'object'"
    tokens = f"STRPOS(CONCAT(' ', REGEXP_REPLACE({text}, r'{TOKEN_SEPARATORS}', ' '), ' '), @value_tokens) > 0"
    return "(" + " OR ".join([*_equals_value(paths), f"({not_an_object} AND {tokens})"]) + ")"


def body_match(kind: str, dataset: str) -> str:
    """A webhook failure belongs to the user: its event is one of the user's ``events`` rows, or
    its body holds the value: a POST body (the event as JSON) in its ``user_data``, a GET query
    string as a whole parameter value (URL-encoded as it was sent, ``@query_value``).

    The body match finds the failures of events erased before (a failure may outlive its event
    when an earlier run could not reach it yet).
    """
    events = (
        f"SELECT id FROM {_table(dataset, EVENTS)} WHERE app_id = @app_id "
        f"AND `timestamp` >= @earliest AND {events_match(kind)}"
    )
    json_paths = [
        f"SAFE.JSON_VALUE(body, '$.user_data.{column.removeprefix('user_data_')}')" for column in events_columns(kind)
    ]
    query_string = "(NOT STARTS_WITH(body, '{') AND STRPOS(CONCAT('&', body, '&'), CONCAT('=', @query_value, '&')) > 0)"
    return "(" + " OR ".join([f"event_id IN ({events})", *_equals_value(json_paths), query_string]) + ")"


def _table(dataset: str, name: str) -> str:
    return f"`{dataset}.{name}`"


def match(table: str, kind: str, dataset: str) -> str:
    """The WHERE clause of ``table``'s rows of the user (``@app_id``, ``@value``), with a bound
    on the partition column that covers every partition (``events`` requires one)."""
    if kind not in KEY_KINDS:
        raise ValueError(f"not an identifier kind: {kind!r}")
    partition = f"`{TABLES[table].partition_field}` >= @earliest"
    if table == EVENTS:
        user = events_match(kind)
    elif table == TOUCHES:
        user = f"({kind} = @value)"
    elif table == REJECTED_EVENTS:
        user = payload_match(kind)
    elif table == WEBHOOK_FAILURES:
        user = body_match(kind, dataset)
    else:
        raise ValueError(f"erase does not read {table}")
    return f"app_id = @app_id AND {partition} AND {user}"


def count_sql(table: str, kind: str, dataset: str) -> str:
    """The user's rows of ``table``: how many, how many are younger than ``@cutoff``, the newest
    one's ingestion time. ``dataset`` is ``project.dataset``."""
    ingested = INGESTED_AT[table]
    return (
        f"SELECT COUNT(*) AS matched, COUNTIF({ingested} >= @cutoff) AS young, MAX({ingested}) AS newest "
        f"FROM {_table(dataset, table)} WHERE {match(table, kind, dataset)}"
    )


def delete_sql(table: str, kind: str, dataset: str) -> str:
    """Delete the user's rows of ``table`` ingested before ``@cutoff`` (an ``events`` row stays
    while a ``webhook_failures`` row of it does)."""
    sql = f"DELETE FROM {_table(dataset, table)} WHERE {match(table, kind, dataset)} AND {INGESTED_AT[table]} < @cutoff"
    if table == EVENTS:
        sql += (
            f" AND id NOT IN (SELECT event_id FROM {_table(dataset, WEBHOOK_FAILURES)} "
            "WHERE app_id = @app_id AND failed_at >= @earliest)"
        )
    return sql


@dataclasses.dataclass(frozen=True)
class ErasureRequest:
    """One user of one app: an identifier ``value`` of ``kind`` (one of ``KEY_KINDS``)."""

    app_id: str
    kind: str
    value: str

    def parameters(self, cutoff: datetime) -> list[bigquery.ScalarQueryParameter]:
        return [
            bigquery.ScalarQueryParameter("app_id", "STRING", self.app_id),
            bigquery.ScalarQueryParameter("value", "STRING", self.value),
            bigquery.ScalarQueryParameter("value_tokens", "STRING", value_tokens(self.value)),
            bigquery.ScalarQueryParameter("query_value", "STRING", quote(self.value, safe="")),
            bigquery.ScalarQueryParameter("earliest", "TIMESTAMP", EARLIEST),
            bigquery.ScalarQueryParameter("cutoff", "TIMESTAMP", cutoff),
        ]


@dataclasses.dataclass(frozen=True)
class TableErasure:
    """One table's outcome: rows of the user found, deleted, and left (``unreachable``) for a
    run after ``retry_after``. A dry run deletes nothing; its ``unreachable`` are the rows a run
    now would leave."""

    table: str
    matched: int
    deleted: int
    unreachable: int
    retry_after: datetime | None = None


def retry_time(newest: datetime | None, wait: timedelta, now: datetime) -> datetime:
    """When a run should reach the rows left now: ``wait`` after the newest one was written, or
    after ``now`` when that has passed (a row can enter the buffer later than its ingestion time
    says, e.g. a retried insert). Never too early: an ``events`` row kept for its webhook
    failure may be older than the wait, and the failure's own time is then the earlier bound."""
    if newest is not None and newest + wait > now:
        return newest + wait
    return now + wait


def is_streaming_buffer_error(error: exceptions.GoogleAPICallError) -> bool:
    """BigQuery's 400 for a DML statement that "would affect rows in the streaming buffer"."""
    return isinstance(error, exceptions.BadRequest) and "streaming buffer" in str(error)


def erase(
    client: bigquery.Client,
    dataset: str,
    request: ErasureRequest,
    *,
    now: datetime | None = None,
    streaming_buffer_age: timedelta = DEFAULT_STREAMING_BUFFER_AGE,
    dry_run: bool = False,
) -> list[TableErasure]:
    """Count, then (unless ``dry_run``) delete the user's rows in ``project.dataset``; one
    :class:`TableErasure` per table, in ``ERASED_TABLES`` order."""
    now = now or datetime.now(UTC)
    cutoff = now - streaming_buffer_age
    full = f"{client.project}.{dataset}"
    config = bigquery.QueryJobConfig(query_parameters=request.parameters(cutoff))
    counts = {}
    for table in ERASED_TABLES:
        [row] = client.query(count_sql(table, request.kind, full), job_config=config).result()
        counts[table] = (row["matched"], row["young"], row["newest"])
    if dry_run:
        return [TableErasure(table, counts[table][0], 0, counts[table][1]) for table in ERASED_TABLES]
    done = {}
    for table in DELETE_ORDER:
        matched, _, newest = counts[table]
        if not matched:
            done[table] = TableErasure(table, 0, 0, 0)
            continue
        try:
            job = client.query(delete_sql(table, request.kind, full), job_config=config)
            job.result()
        except exceptions.GoogleAPICallError as error:
            if not is_streaming_buffer_error(error):
                raise
            wait = max(streaming_buffer_age, DEFAULT_STREAMING_BUFFER_AGE)
            done[table] = TableErasure(table, matched, 0, matched, retry_time(newest, wait, now))
            continue
        deleted = job.num_dml_affected_rows or 0
        left = max(matched - deleted, 0)
        done[table] = TableErasure(
            table, matched, deleted, left, retry_time(newest, streaming_buffer_age, now) if left else None
        )
    return [done[table] for table in ERASED_TABLES]

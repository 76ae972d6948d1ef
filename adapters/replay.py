"""Replay dead letters after a fix (``segment-branch replay``): select stored rejected
messages and send them back through the import, as they arrived.

Two routes, as docs/operations.md explains: re-publish to the job's topic with the stored
attributes (recent events: the streaming job's stale check measures from the new publish
time), or write one gzipped JSON-lines archive per app for the backfill (older events, or
many). Re-sending is safe: event ids are deterministic and dedup keeps one row per id.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from google.cloud import bigquery

from schemas.tables import REJECTED_EVENTS_DEDUP

UNKNOWN_APP = "unknown-app"


@dataclasses.dataclass(frozen=True)
class Stored:
    """One stored rejected message: its exact bytes and Pub/Sub attributes."""

    app_id: str | None
    payload: bytes
    attributes: dict[str, str]


def select(
    client: bigquery.Client,
    dataset: str,
    since: datetime,
    until: datetime,
    *,
    reasons: Sequence[str] = (),
    app_id: str | None = None,
) -> list[Stored]:
    """The replayable dead letters rejected in [since, until) (with full payloads), oldest first."""
    where = ["rejected_at >= @since", "rejected_at < @until", "NOT payload_truncated", "payload_bytes IS NOT NULL"]
    params: list[Any] = [
        bigquery.ScalarQueryParameter("since", "TIMESTAMP", since),
        bigquery.ScalarQueryParameter("until", "TIMESTAMP", until),
    ]
    if reasons:
        where.append("reason IN UNNEST(@reasons)")
        params.append(bigquery.ArrayQueryParameter("reasons", "STRING", list(reasons)))
    if app_id:
        where.append("app_id = @app_id")
        params.append(bigquery.ScalarQueryParameter("app_id", "STRING", app_id))
    sql = (
        f"SELECT app_id, payload_bytes, attributes FROM `{client.project}.{dataset}.{REJECTED_EVENTS_DEDUP}` "
        f"WHERE {' AND '.join(where)} ORDER BY rejected_at"
    )
    rows = client.query(sql, job_config=bigquery.QueryJobConfig(query_parameters=params)).result()
    return [
        Stored(row["app_id"], row["payload_bytes"], {a["key"]: a["value"] or "" for a in row["attributes"] or []})
        for row in rows
    ]


def publish(messages: Iterable[Stored], topic: str) -> int:
    """Publish each message with its attributes to ``projects/P/topics/T``; returns how many."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]  # (its stubs do not export it)

    publisher = pubsub_v1.PublisherClient()
    futures = [publisher.publish(topic, m.payload, **m.attributes) for m in messages]
    for future in futures:
        future.result(timeout=60)
    return len(futures)


def write_archives(messages: Iterable[Stored], directory: Path, stamp: str) -> tuple[dict[str, Path], int]:
    """One ``replay-<app>-<stamp>.jsonl.gz`` per app (run the backfill with ``--default_app_id``
    = that app). A payload holding a raw newline is not one line: it is left out and counted
    (re-publish those). Returns (files by app, messages left out)."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    handles: dict[str, Any] = {}
    left_out = 0
    with contextlib.ExitStack() as stack:
        for message in messages:
            if b"\n" in message.payload or b"\r" in message.payload:
                left_out += 1
                continue
            app = message.app_id or UNKNOWN_APP
            if app not in handles:
                files[app] = directory / f"replay-{app}-{stamp}.jsonl.gz"
                handles[app] = stack.enter_context(gzip.open(files[app], "wb"))
            handles[app].write(message.payload + b"\n")
    return files, left_out

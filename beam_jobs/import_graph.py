"""The import graph both jobs share: RouteSegmentMessages, then a BigQuery sink per table.

    messages -> RouteSegmentMessages -> events ---------> WriteEvents -> refused rows
                                     |   |--(streaming)--> DeliverWebhooks -> WriteWebhookFailures, WriteWebhookStats
                                     |   '--(--feed_topic)--> PublishFeed
                                     |- rejected_events -+-> WriteRejectedEvents
                                     |- touches ------------> WriteTouches
                                     '- import_stats ----+-> WriteImportStats

The step names are pinned by tests/pipeline/test_dataflow_graph.py: Dataflow matches steps
by name on ``--update`` (dataflow/README.md).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PCollection

from adapters.bigquery import emulator_client
from beam_jobs.options import ImporterOptions
from domain.attribution import DEFAULT_MAX_TOUCHES_PER_KEY
from domain.keyed_replay import KeyedPlan
from domain.mapping import ImportSettings
from domain.timestamps import parse_duration
from schemas.tables import EVENTS, IMPORT_STATS, REJECTED_EVENTS, TOUCHES, WEBHOOK_FAILURES, WEBHOOK_STATS
from transforms.counting import DEFAULT_STATS_FLUSH_SECONDS
from transforms.routing import RouteArchiveChunks, RouteSegmentMessages
from transforms.sinks import DEFAULT_BUFFERING_SECONDS, WriteEventRows, WriteTableRows, rows_carry_raw_message
from transforms.touches_table import ReadTouchesTable, TailTouchesTable
from transforms.webhooks import DeliverWebhooks, PublishFeed, RatesSource


def _tail_touches(
    project: str, dataset: str, settings: ImportSettings, client: Any, refresh_seconds: int
) -> TailTouchesTable | None:
    """The streaming job's periodic read of the touches loaded since it started (0: none)."""
    if refresh_seconds <= 0:
        return None
    horizon = {app: w.longest + (settings.max_event_age or timedelta(0)) for app, w in settings.windows.items()}
    return TailTouchesTable(project, dataset, timedelta(seconds=refresh_seconds), horizon, test_client=client)


def import_messages(
    messages: PCollection,
    opts: ImporterOptions,
    settings: ImportSettings,
    project: str,
    *,
    dedup_shards: int | None = None,
    feeds: bool = False,
    feed_topic: str | None = None,
    max_touches_per_key: int = DEFAULT_MAX_TOUCHES_PER_KEY,
    stats_flush_seconds: int = DEFAULT_STATS_FLUSH_SECONDS,
    insert_buffering_seconds: float = DEFAULT_BUFFERING_SECONDS,
    touches_refresh_seconds: int = 0,
    keyed: KeyedPlan | None = None,
) -> None:
    """Route ``messages`` and write each table.

    Streaming: Pub/Sub messages. Batch (``dedup_shards`` set): chunks of archive lines, their
    copies grouped by that many shards of the event id for the dedup; attributed in memory per
    app, or by the ``keyed`` plan. Both read back the ``touches`` table for attribution unless
    ``--read_touches_table=false``. ``feeds`` (the
    streaming job): imported events also go to the apps' webhook subscriptions, if any, and
    to ``feed_topic`` when given. (A backfill does not replay history to webhooks.)
    """
    dedup_window = parse_duration(opts.dedup_window)
    if dedup_window is None:
        raise ValueError("--dedup_window must be a positive duration (e.g. 10m)")
    # Only set when BIGQUERY_EMULATOR_HOST is: production uses Beam's own clients.
    client = emulator_client(project)
    buffering = insert_buffering_seconds
    keep_raw = rows_carry_raw_message(opts.bq_write_method)
    read_touches = (
        ReadTouchesTable(project, opts.dataset, test_client=client, links=True)
        if opts.read_touches_table == "true"
        else None
    )
    route: beam.PTransform
    stats_flush: int | None = stats_flush_seconds
    if dedup_shards is None:  # the one switch between the jobs' routes
        route = RouteSegmentMessages(
            settings,
            dedup_window,
            keep_raw=keep_raw,
            read_touches=read_touches,
            stats_flush_seconds=stats_flush_seconds,
            max_touches_per_key=max_touches_per_key,
            tail_touches=_tail_touches(project, opts.dataset, settings, client, touches_refresh_seconds)
            if read_touches is not None
            else None,
        )
    else:  # (a batch run writes its counts once, at its end)
        stats_flush = None
        route = RouteArchiveChunks(
            settings, dedup_window, dedup_shards, keep_raw=keep_raw, read_touches=read_touches, keyed=keyed
        )
    routed = messages | "RouteSegmentMessages" >> route
    refused = routed[EVENTS] | "WriteEvents" >> WriteEventRows(
        project,
        opts.dataset,
        method=opts.bq_write_method,
        max_stored_bytes=opts.max_payload_bytes,
        test_client=client,
        buffering_seconds=buffering,
        stats_flush_seconds=stats_flush,
    )
    (
        (routed[REJECTED_EVENTS], refused[REJECTED_EVENTS])
        | "FlattenDeadLetters" >> beam.Flatten()
        | "WriteRejectedEvents"
        >> WriteTableRows(project, opts.dataset, REJECTED_EVENTS, test_client=client, buffering_seconds=buffering)
    )
    if feeds and any(s.enabled for app in settings.config.apps for s in app.webhooks):
        delivered = routed[EVENTS] | "DeliverWebhooks" >> DeliverWebhooks(
            settings.config, RatesSource(project, opts.dataset, test_client=client), stats_flush_seconds
        )
        delivered[WEBHOOK_FAILURES] | "WriteWebhookFailures" >> WriteTableRows(
            project, opts.dataset, WEBHOOK_FAILURES, test_client=client, buffering_seconds=buffering
        )
        delivered[WEBHOOK_STATS] | "WriteWebhookStats" >> WriteTableRows(
            project, opts.dataset, WEBHOOK_STATS, test_client=client, buffering_seconds=buffering
        )
    if feeds and feed_topic:
        routed[EVENTS] | "PublishFeed" >> PublishFeed(feed_topic)
    routed[TOUCHES] | "WriteTouches" >> WriteTableRows(
        project, opts.dataset, TOUCHES, test_client=client, buffering_seconds=buffering
    )
    (
        (routed[IMPORT_STATS], refused[IMPORT_STATS])
        | "FlattenImportStats" >> beam.Flatten()
        | "WriteImportStats"
        >> WriteTableRows(project, opts.dataset, IMPORT_STATS, test_client=client, buffering_seconds=buffering)
    )

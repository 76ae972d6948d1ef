"""Data Feeds out: imported events to webhook subscriptions and to a Pub/Sub feed topic.

    events -> Reshuffle -> DeliverWebhooks -> webhook_failures (given up)
                                           '-> webhook_stats (per minute and subscription)
    events -> ToFeedMessages -> WriteToPubSub (optional)

The Reshuffle breaks fusion with the events sink: deliveries run in their own bundles, so
a slow or dead receiver never holds the bundle that writes the events table. Each bundle's
deliveries run on threads (``adapters.webhook_delivery.DeliveryPool``) and are awaited at
its end; a bundle retried after a failure delivers again, which the idempotency key lets
receivers drop (at least once).

A delivered event carries the columns ``events_dedup`` adds to a row, so that a template or
a body shows what the status page and the exports show: ``event_data_exchange_rate`` and
``event_data_revenue_in_usd``, from the ``exchange_rates`` table, read again every
``RATES_REFRESH`` (a rate loaded later reaches later deliveries).
"""

from __future__ import annotations

import collections
import logging
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

import apache_beam as beam
import orjson
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue
from google.cloud import bigquery

from adapters.bigquery import EmulatorClient
from adapters.exchange_rates import read_rates
from adapters.webhook_delivery import Deliverer, Delivery, DeliveryPool
from domain.config import ImporterConfig
from domain.exchange_rates import RateBook
from domain.import_stats import minute_of
from domain.timestamps import to_bq_timestamp
from domain.webhooks import event_body
from schemas.reasons import METRICS_NAMESPACE
from schemas.tables import WEBHOOK_FAILURES, WEBHOOK_STATS

FAILURES, STATS = WEBHOOK_FAILURES, WEBHOOK_STATS  # the output tags are the tables they feed
RATES_REFRESH = timedelta(minutes=10)
# Rates read: those that apply to events this old or newer (the streaming job's events are at
# most --max_event_age old): a few per currency, whatever the table's history.
RATES_HORIZON = timedelta(days=7)
_LOG = logging.getLogger(__name__)


class RatesSource:
    """Where the deliveries read exchange rates (``exchange_rates`` of ``project.dataset``);
    ``test_client``: the emulator's client, taken when the graph is built."""

    def __init__(self, project: str, dataset: str, test_client: EmulatorClient | None = None) -> None:
        self.project, self.dataset, self.test_client = project, dataset, test_client

    def read(self) -> RateBook:
        since = (datetime.now(UTC) - RATES_HORIZON).date()
        if self.test_client is not None:
            return RateBook(read_rates(self.test_client, self.dataset, since))
        with bigquery.Client(project=self.project) as client:
            return RateBook(read_rates(client, self.dataset, since))


def failure_row(delivery: Delivery, now: datetime) -> dict[str, Any]:
    return {
        "failed_at": to_bq_timestamp(now),
        "app_id": delivery.app_id,
        "subscription_id": delivery.subscription_id,
        "event_id": delivery.event_id,
        "url": delivery.url,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "attempts": delivery.attempts,
        "body": delivery.body,
        "row_id": uuid.uuid4().hex,
    }


class _DeliverFn(beam.DoFn):
    def __init__(self, config: ImporterConfig, rates: RatesSource | None) -> None:
        self._config = config
        self._rates_source = rates
        self._book, self._rates_due = RateBook(()), 0.0

    def _rates(self) -> RateBook:
        """The rate book, read again once it is ``RATES_REFRESH`` old; a failed read keeps the
        last one (deliveries never wait on, or fail for, the rates table)."""
        if self._rates_source is not None and time.monotonic() >= self._rates_due:
            self._rates_due = time.monotonic() + RATES_REFRESH.total_seconds()
            try:
                self._book = self._rates_source.read()
            except Exception as error:  # noqa: BLE001 - any failure of the read: keep the last rates
                _LOG.warning("exchange rates not read (%s); deliveries keep the last ones", type(error).__name__)
        return self._book

    def setup(self) -> None:
        self._subscriptions = {
            app.app_id: tuple(s for s in app.webhooks if s.enabled) for app in self._config.apps if app.webhooks
        }
        self._pool = DeliveryPool(Deliverer())
        self._delivered = Metrics.counter(METRICS_NAMESPACE, "webhook_delivered")
        self._failed = Metrics.counter(METRICS_NAMESPACE, "webhook_failed")
        self._attempts = Metrics.distribution(METRICS_NAMESPACE, "webhook_attempts")

    def start_bundle(self) -> None:
        self._pending: list[Future[Delivery]] = []

    def process(self, row: dict[str, Any]) -> None:
        with_usd = None
        for subscription in self._subscriptions.get(row.get("app_id") or "", ()):
            if subscription.filter.matches(row):
                with_usd = with_usd or {**row, **self._rates().usd_columns(row)}
                self._pending.append(self._pool.submit(row["app_id"], subscription, with_usd))

    def finish_bundle(self) -> Iterator[Any]:
        now = datetime.now(UTC)
        stats: dict[tuple[str, str], list[Any]] = collections.defaultdict(lambda: [0, 0, 0, None])
        for future in self._pending:
            delivery = future.result()
            entry = stats[(delivery.app_id, delivery.subscription_id)]
            entry[0 if delivery.delivered else 1] += 1
            entry[2] += delivery.attempts
            self._attempts.update(delivery.attempts)
            if delivery.delivered:
                self._delivered.inc()
            else:
                self._failed.inc()
                entry[3] = delivery.last_error or f"HTTP {delivery.last_status}"
                yield _global(beam.pvalue.TaggedOutput(FAILURES, failure_row(delivery, now)), now)
        minute = minute_of(to_bq_timestamp(now))
        for (app_id, subscription_id), (delivered, failed, attempts, last_error) in stats.items():
            row = {
                "minute": minute,
                "app_id": app_id,
                "subscription_id": subscription_id,
                "delivered": delivered,
                "failed": failed,
                "attempts": attempts,
                "last_error": last_error,
                "row_id": uuid.uuid4().hex,
            }
            yield _global(beam.pvalue.TaggedOutput(STATS, row), now)
        self._pending = []

    def teardown(self) -> None:
        self._pool.close()


def _global(output: beam.pvalue.TaggedOutput, now: datetime) -> beam.pvalue.TaggedOutput:
    """finish_bundle outputs need a window: the global one, stamped now."""
    value = WindowedValue(output.value, now.timestamp(), (GlobalWindow(),))
    return beam.pvalue.TaggedOutput(output.tag, value)


class DeliverWebhooks(beam.PTransform):
    """Imported events rows -> ``{webhook_failures: rows, webhook_stats: rows}``. ``rates``:
    where the USD columns come from (None: only USD amounts have one)."""

    def __init__(self, config: ImporterConfig, rates: RatesSource | None = None) -> None:
        super().__init__()
        self._config = config
        self._rates = rates

    def expand(self, rows):
        results = (
            rows
            | "Reshuffle" >> beam.Reshuffle()
            | "Deliver" >> beam.ParDo(_DeliverFn(self._config, self._rates)).with_outputs(FAILURES, STATS)
        )
        return {FAILURES: results[FAILURES], STATS: results[STATS]}


def feed_message(row: dict[str, Any]) -> PubsubMessage:
    """An imported event for the feed topic: the webhook body, with app, name and category attributes."""
    attributes = {k: str(row[k]) for k in ("app_id", "name", "category") if row.get(k) is not None}
    return PubsubMessage(orjson.dumps(event_body(row)), attributes)


class PublishFeed(beam.PTransform):
    """Every imported event to a Pub/Sub topic, for consumers that prefer to subscribe."""

    def __init__(self, topic: str) -> None:
        super().__init__()
        self._topic = topic

    def expand(self, rows):
        return (
            rows
            | "ToFeedMessages" >> beam.Map(feed_message)
            | "WriteToPubSub" >> beam.io.WriteToPubSub(self._topic, with_attributes=True)
        )

"""Data Feeds out: imported events to webhook subscriptions and to a Pub/Sub feed topic.

    events -> ToSubscriptions: ((app, subscription, shard), (subscription, row)) per match
           -> Deliver (Beam's AsyncWrapper) -> webhook_failures (given up)
                                             '-> SumPerMinute -> webhook_stats
    events -> ToFeedMessages -> WriteToPubSub (optional)

Deliveries never hold a bundle. Each (app, subscription, shard) key is a keyed stateful step,
Beam's own ``AsyncWrapper``: an event to deliver is noted in its key's state and handed to a
pool of threads, and a processing-time timer commits, for many deliveries at a time, those
that finished (an output per delivery: a failure row if it was given up, a count). A delivery
noted in state but no longer running (a worker restarted) is started again, so every event is
delivered at least once (the idempotency key lets receivers drop repeats). Each delivery runs
on its subscription's own pool (``adapters.webhook_delivery.DeliveryPool``, ``max_concurrency``
threads), so a slow or dead receiver holds only its own subscription's deliveries: never the
events table's writes, nor another subscription. Counts are summed per (minute, subscription)
before they are written.

A delivered event carries the columns ``events_dedup`` adds to a row, so that a template or
a body shows what the status page and the exports show: ``event_data_exchange_rate`` and
``event_data_revenue_in_usd``, from the ``exchange_rates`` table, read again every
``RATES_REFRESH`` (a rate loaded later reaches later deliveries).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import apache_beam as beam
import orjson
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.metrics import Metrics
from apache_beam.transforms import trigger
from apache_beam.transforms.async_dofn import AsyncWrapper
from apache_beam.transforms.window import GlobalWindows
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


DELIVERY_SHARDS = 16  # keys per subscription: the deliveries one timer firing commits
COMMIT_SECONDS = 1  # how often a key's finished deliveries are committed (AsyncWrapper's timer)

# "<app id>/<subscription id>/<shard>": a string (AsyncWrapper seeds its timer jitter with the key).
SubscriptionKey = str
_StatKey = tuple[str, str, str]  # (minute, app id, subscription id)


@beam.typehints.with_output_types(tuple[SubscriptionKey, tuple[str, dict]])
class _ToSubscriptionsFn(beam.DoFn):
    """An imported events row -> one element per subscription it matches, with the columns
    ``events_dedup`` adds (the USD value: the rates re-read every ``RATES_REFRESH``)."""

    def __init__(self, config: ImporterConfig, rates: RatesSource | None) -> None:
        self._config = config
        self._rates_source = rates
        self._book, self._rates_due = RateBook(()), 0.0

    def setup(self) -> None:
        self._subscriptions = {
            app.app_id: tuple(s for s in app.webhooks if s.enabled) for app in self._config.apps if app.webhooks
        }

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

    def process(self, row: dict[str, Any]) -> Iterator[tuple[SubscriptionKey, tuple[str, dict]]]:
        with_usd = None
        app_id = row.get("app_id") or ""
        for subscription in self._subscriptions.get(app_id, ()):
            if subscription.filter.matches(row):
                with_usd = with_usd or {**row, **self._rates().usd_columns(row)}
                shard = zlib.crc32(str(row["id"]).encode()) % DELIVERY_SHARDS
                yield f"{app_id}/{subscription.id}/{shard}", (subscription.id, with_usd)


class _DeliverOneFn(beam.DoFn):
    """One event to one subscription (run on AsyncWrapper's threads, each delivery waiting on
    its subscription's pool): a failure row when given up, and its counts.

    The pools are the process's, one set per step (by ``_step``), never closed with a copy of
    this DoFn: a runner may set up and tear down copies while deliveries still run."""

    _pools: ClassVar[dict[str, DeliveryPool]] = {}
    _pools_guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, config: ImporterConfig) -> None:
        self._config = config
        self._step = uuid.uuid4().hex

    def setup(self) -> None:
        self._subscriptions = {(app.app_id, s.id): s for app in self._config.apps for s in app.webhooks}
        with self._pools_guard:
            self._pool = self._pools.setdefault(self._step, DeliveryPool(Deliverer()))
        self._delivered = Metrics.counter(METRICS_NAMESPACE, "webhook_delivered")
        self._failed = Metrics.counter(METRICS_NAMESPACE, "webhook_failed")
        self._attempts = Metrics.distribution(METRICS_NAMESPACE, "webhook_attempts")

    def process(self, element) -> Iterator[Any]:
        key, (subscription_id, row) = element
        app_id = key.split("/", 1)[0]  # (app ids and subscription ids hold no "/")
        delivery = self._pool.submit(app_id, self._subscriptions[(app_id, subscription_id)], row).result()
        now = datetime.now(UTC)
        self._attempts.update(delivery.attempts)
        if delivery.delivered:
            self._delivered.inc()
        else:
            self._failed.inc()
            yield beam.pvalue.TaggedOutput(FAILURES, failure_row(delivery, now))
        error = None if delivery.delivered else delivery.last_error or f"HTTP {delivery.last_status}"
        counts = (int(delivery.delivered), int(not delivery.delivered), delivery.attempts, error)
        yield beam.pvalue.TaggedOutput(STATS, ((minute_of(to_bq_timestamp(now)), app_id, subscription_id), counts))


def _delivery_id(value: tuple[str, dict]) -> tuple[str, str]:
    subscription_id, row = value
    return subscription_id, str(row["id"])


class _SumDeliveries(beam.CombineFn):
    """(delivered, failed, attempts, last error) summed; the last error kept."""

    def create_accumulator(self) -> tuple[int, int, int, str | None]:
        return 0, 0, 0, None

    def add_input(self, acc, counts):
        return acc[0] + counts[0], acc[1] + counts[1], acc[2] + counts[2], counts[3] or acc[3]

    def merge_accumulators(self, accumulators):
        merged = self.create_accumulator()
        for acc in accumulators:
            merged = self.add_input(merged, acc)
        return merged

    def extract_output(self, acc):
        return acc


def _stats_row(element: tuple[_StatKey, tuple[int, int, int, str | None]]) -> dict[str, Any]:
    (minute, app_id, subscription_id), (delivered, failed, attempts, last_error) = element
    return {
        "minute": minute,
        "app_id": app_id,
        "subscription_id": subscription_id,
        "delivered": delivered,
        "failed": failed,
        "attempts": attempts,
        "last_error": last_error,
        "row_id": uuid.uuid4().hex,
    }


class DeliverWebhooks(beam.PTransform):
    """Imported events rows -> ``{webhook_failures: rows, webhook_stats: rows}`` (see the module
    doc). ``rates``: where the USD columns come from (None: only USD amounts have one).
    ``stats_flush_seconds``: how often the counts of each minute and subscription are written."""

    def __init__(
        self, config: ImporterConfig, rates: RatesSource | None = None, stats_flush_seconds: int = COMMIT_SECONDS * 10
    ) -> None:
        super().__init__()
        self._config = config
        self._rates = rates
        self._stats_flush_seconds = stats_flush_seconds

    def expand(self, rows):
        # Threads enough for every subscription's max_concurrency at once: a slow receiver's
        # deliveries wait on its own pool, never for a thread another subscription needs.
        threads = sum(s.max_concurrency for app in self._config.apps for s in app.webhooks if s.enabled) or 1
        results = (
            rows
            | "ToSubscriptions" >> beam.ParDo(_ToSubscriptionsFn(self._config, self._rates))
            | "Deliver"
            >> beam.ParDo(
                AsyncWrapper(
                    _DeliverOneFn(self._config),
                    parallelism=threads,
                    callback_frequency=COMMIT_SECONDS,
                    max_items_to_buffer=threads * 4,
                    id_fn=_delivery_id,
                )
            ).with_outputs(FAILURES, STATS)
        )
        stats = (
            results[STATS]
            | "EveryFlush"
            >> beam.WindowInto(
                GlobalWindows(),
                trigger=trigger.AfterWatermark(early=trigger.AfterProcessingTime(self._stats_flush_seconds)),
                accumulation_mode=trigger.AccumulationMode.DISCARDING,
            )
            | "SumPerMinute" >> beam.CombinePerKey(_SumDeliveries()).with_input_types(tuple[_StatKey, tuple])
            | "ToStatsRows" >> beam.Map(_stats_row)
            | "Rewindow" >> beam.WindowInto(GlobalWindows())
        )
        return {FAILURES: results[FAILURES], STATS: stats}


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

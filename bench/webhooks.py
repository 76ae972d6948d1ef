"""Webhook delivery under load (issue 18): N imported events through one subscription whose
real local receiver fails a share of requests with 503; every event must end delivered or
recorded as a failure, none lost.

    .venv/bin/python -m bench.webhooks [--events 10000] [--fail-every 5] [--concurrency 16]

Runs the streaming job's own stage (``transforms.webhooks.DeliverWebhooks``: Reshuffle, then
deliveries on per-subscription threads with backoff and jitter) on Beam's local runner, the
receiver in the same process. Last line:
``WEBHOOK_LOAD events=N delivered=N failed=N lost=N requests=N seconds=S deliveries_per_s=R``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import orjson
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from domain.config import ImporterConfig, load_config
from domain.mapping import ImportSettings, process_message
from tools.webhook_receiver import Behaviour, WebhookReceiver
from transforms.webhooks import FAILURES, DeliverWebhooks


def imported_rows(count: int, now: datetime) -> list[dict[str, Any]]:
    """``count`` imported PURCHASE rows of local-app, through the real mapping."""
    settings = ImportSettings(load_config())
    rows = []
    for n in range(count):
        event = {
            "type": "track",
            "event": "Order Completed",
            "messageId": f"load-{n}",
            "userId": f"user-{n % 997}",
            "timestamp": now.isoformat(),
            "properties": {"revenue": 10 + n % 90, "currency": "USD"},
        }
        outcome = process_message(orjson.dumps(event), None, None, settings, now)
        assert outcome.row is not None
        rows.append(outcome.row)
    return rows


def config_for(url: str, concurrency: int) -> ImporterConfig:
    config = load_config()
    apps = []
    for app in config.apps:
        if app.app_id == "local-app":
            subscription = {"id": "load", "url": url, "max_concurrency": concurrency, "max_attempts": 8}
            app = app.model_copy(update={"webhooks": (type(app.webhooks[0]).model_validate(subscription),)})
        apps.append(app)
    return config.model_copy(update={"apps": tuple(apps)})


def run_load(events: int, fail_every: int, concurrency: int) -> dict[str, Any]:
    rows = imported_rows(events, datetime.now(UTC))
    with WebhookReceiver(Behaviour(fail_every=fail_every)) as receiver:
        config = config_for(receiver.url, concurrency)
        started = time.monotonic()
        pipeline = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"]))
        delivered = pipeline | beam.Create(rows) | DeliverWebhooks(config)
        delivered[FAILURES] | "CountFailureRows" >> beam.Map(lambda _: Metrics.counter("bench", "failure_rows").inc())
        result = pipeline.run()
        result.wait_until_finish()
        seconds = time.monotonic() - started
        keys = receiver.delivered_keys()
        requests = len(receiver.requests)
    counters = {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]}
    failed = counters.get("failure_rows", 0)
    lost = events - len(keys) - failed
    return {
        "events": events,
        "delivered": len(keys),
        "failed": failed,
        "lost": lost,
        "requests": requests,
        "seconds": round(seconds, 2),
        "deliveries_per_s": round(events / seconds),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--fail-every", type=int, default=5, help="the receiver answers 503 to every K-th request")
    parser.add_argument("--concurrency", type=int, default=16, help="the subscription's max_concurrency")
    args = parser.parse_args(argv)
    result = run_load(args.events, args.fail_every, args.concurrency)
    print("WEBHOOK_LOAD " + " ".join(f"{k}={v}" for k, v in result.items()))
    return 0 if result["lost"] == 0 and result["delivered"] + result["failed"] == result["events"] else 1


if __name__ == "__main__":
    sys.exit(main())

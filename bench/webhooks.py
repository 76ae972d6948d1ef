"""Webhook delivery under load: N imported events through one subscription whose real local
receiver fails a share of requests with 503; every event must end delivered or recorded as a
failure, none lost.

    .venv/bin/python -m bench.webhooks [--events 10000] [--fail-every 5] [--concurrency 16]

Runs the streaming job itself (``tools.local_run.streaming_job``: the DirectRunner on the local
Pub/Sub and BigQuery emulators, started here unless already running) with one webhook
subscription pointed at a receiver in this process: its deliveries go through
``transforms.webhooks.DeliverWebhooks`` (Beam's AsyncWrapper, the subscription's pool, backoff
and jitter). Last line:
``WEBHOOK_LOAD events=N delivered=N failed=N lost=N requests=N seconds=S deliveries_per_s=R``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml

from adapters.bigquery import make_client
from domain.config import DEFAULT_CONFIG_PATH
from tools import localstack
from tools.local_run import PROJECT, publish, reset_dataset, streaming_job
from tools.samples import SampleMessage
from tools.webhook_receiver import Behaviour, WebhookReceiver


def purchases(count: int, now: datetime) -> list[SampleMessage]:
    """``count`` Segment purchases of local-app (the bundled config's default app)."""
    return [
        SampleMessage(
            orjson.dumps(
                {
                    "type": "track",
                    "event": "Order Completed",
                    "messageId": f"load-{n}",
                    "userId": f"user-{n % 997}",
                    "timestamp": now.isoformat(),
                    "properties": {"revenue": 10 + n % 90, "currency": "USD"},
                }
            ),
            {},
            "load",
        )
        for n in range(count)
    ]


def config_for(url: str, concurrency: int, directory: str) -> str:
    """The bundled app config with one subscription, ``load``, to ``url``; returns its path."""
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    for app in config["apps"]:
        app["webhooks"] = (
            [{"id": "load", "url": url, "max_concurrency": concurrency, "max_attempts": 8}]
            if app["app_id"] == "local-app"
            else []
        )
    path = Path(directory) / "apps.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _failed(client, dataset: str) -> int:
    sql = f"SELECT COUNT(DISTINCT event_id) AS n FROM `{PROJECT}.{dataset}.webhook_failures` WHERE failed_at > '2000-01-01'"
    return int(next(iter(client.query(sql).result())).n)


def run_load(events: int, fail_every: int, concurrency: int, *, timeout: float = 600) -> dict[str, Any]:
    messages = purchases(events, datetime.now(UTC))
    with (
        localstack.local_stack(PROJECT),
        tempfile.TemporaryDirectory() as directory,
        WebhookReceiver(Behaviour(fail_every=fail_every)) as receiver,
    ):
        client = make_client(PROJECT)
        dataset = f"webhook_load_{uuid.uuid4().hex[:8]}"
        reset_dataset(client, dataset)
        topic, subscription = f"load-{uuid.uuid4().hex[:6]}", f"load-sub-{uuid.uuid4().hex[:6]}"
        localstack.provision_pubsub(PROJECT, topic, subscription)
        config = config_for(receiver.url, concurrency, directory)
        with streaming_job(PROJECT, dataset, subscription, f"--app_config={config}", "--max_event_age=off"):
            started = time.monotonic()
            publish(PROJECT, topic, messages, progress=False)
            deadline = started + timeout
            while True:  # a condition with a deadline: every event delivered or recorded
                failed = _failed(client, dataset)
                if len(receiver.delivered_keys()) + failed >= events or time.monotonic() > deadline:
                    break
                time.sleep(0.5)  # poll interval of the loop, not a wait for an outcome
            seconds = time.monotonic() - started
        delivered, requests = len(receiver.delivered_keys()), len(receiver.requests)
    return {
        "events": events,
        "delivered": delivered,
        "failed": failed,
        "lost": events - delivered - failed,
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

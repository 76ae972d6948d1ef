"""Webhook deliveries against real local HTTP receivers (tools/webhook_receiver.py), no mocks.

The Deliverer alone (signature, 503 bursts, timeouts, 400), then the streaming job on the
emulators: deliveries and failures recorded, and a hanging receiver never delays the
events table.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import orjson
import pytest
import yaml

from adapters.webhook_delivery import Deliverer
from domain.config import DEFAULT_CONFIG_PATH
from domain.exchange_rates import BUNDLED_RATES, RateBook, parse_rates
from domain.webhooks import IDEMPOTENCY_HEADER, SUBSCRIPTION_HEADER, WebhookSubscription, event_body, idempotency_key
from tests.support.mapping import mapping_imported_row, mapping_track_event
from tests.support.serving import new_dataset, sql_rows
from tests.support.stack import STACK_PROJECT
from tools import localstack
from tools.local_run import publish, read_accounting, streaming_job, wait_until_accounted
from tools.samples import SampleMessage
from tools.webhook_receiver import Behaviour, WebhookReceiver

ROW = mapping_imported_row(mapping_track_event(messageId="w-1", properties={"revenue": 10, "currency": "USD"}))


def sub(url: str, **fields) -> WebhookSubscription:
    return WebhookSubscription.model_validate({"id": "partner", "url": url, **fields})


class Delays(list):
    """The backoff delays the Deliverer asked for (recorded instead of slept, so the test is fast)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_a_signed_post_is_verified_by_the_receiver(monkeypatch):
    monkeypatch.setenv("PARTNER_WEBHOOK_SECRET", "s3cr3t")
    with WebhookReceiver(secret=b"s3cr3t") as receiver:
        subscription = sub(receiver.url, secret={"env": "PARTNER_WEBHOOK_SECRET"})
        delivery = Deliverer().deliver("local-app", subscription, ROW)
    assert delivery.delivered and delivery.attempts == 1
    [request] = receiver.requests
    assert request.signature_ok is True and request.method == "POST"
    assert orjson.loads(request.body) == orjson.loads(orjson.dumps(event_body(ROW)))
    assert request.headers[IDEMPOTENCY_HEADER] == idempotency_key(ROW["id"], "partner")
    assert request.headers[SUBSCRIPTION_HEADER] == "partner"
    assert "s3cr3t" not in repr(delivery)  # the secret never reaches what is recorded


def test_a_wrong_secret_is_refused_by_the_receiver_and_not_retried(monkeypatch):
    monkeypatch.setenv("PARTNER_WEBHOOK_SECRET", "wrong")
    with WebhookReceiver(secret=b"s3cr3t") as receiver:
        delivery = Deliverer().deliver("local-app", sub(receiver.url, secret={"env": "PARTNER_WEBHOOK_SECRET"}), ROW)
    assert (delivery.delivered, delivery.attempts, delivery.last_status) == (False, 1, 401)


def test_503_bursts_are_retried_with_backoff_until_delivered():
    delays = Delays()
    with WebhookReceiver(Behaviour(burst=3)) as receiver:
        delivery = Deliverer(sleep=delays).deliver("local-app", sub(receiver.url), ROW)
    assert delivery.delivered and delivery.attempts == 4 and len(delays) == 3
    assert [r.status for r in receiver.requests] == [503, 503, 503, 200]
    assert len({r.headers[IDEMPOTENCY_HEADER] for r in receiver.requests}) == 1  # one key across retries


def test_a_timeout_is_retried_then_given_up_within_the_budget():
    with WebhookReceiver(Behaviour(hang=1.0)) as receiver:
        started = time.monotonic()
        delivery = Deliverer(sleep=Delays()).deliver(
            "local-app", sub(receiver.url, timeout_seconds=0.2, max_attempts=3), ROW
        )
        elapsed = time.monotonic() - started
    assert not delivery.delivered and delivery.attempts == 3
    assert delivery.last_status is None and delivery.last_error.startswith("timeout after 0.2s")
    assert elapsed < 3 * 1.0  # each attempt was cut at the timeout, not at the receiver's pace


def test_a_400_is_not_retried():
    with WebhookReceiver(Behaviour(status=400)) as receiver:
        delivery = Deliverer(sleep=Delays()).deliver("local-app", sub(receiver.url), ROW)
    assert (delivery.delivered, delivery.attempts, delivery.last_status) == (False, 1, 400)
    assert delivery.last_error.startswith("HTTP 400") and len(receiver.requests) == 1


def test_a_get_postback_sends_its_templated_query():
    with WebhookReceiver() as receiver:
        subscription = sub(receiver.url, method="GET", query_template="event={name}&id={id}")
        assert Deliverer().deliver("local-app", subscription, ROW).delivered
    [request] = receiver.requests
    assert request.method == "GET" and request.path == f"/hook?event=PURCHASE&id={ROW['id']}"


@pytest.fixture
def config_with_webhooks(tmp_path):
    def write(**subscriptions) -> str:
        config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
        app = next(a for a in config["apps"] if a["app_id"] == "local-app")
        app["webhooks"] = [{"id": name, **fields} for name, fields in subscriptions.items()]
        path = tmp_path / "apps.yaml"
        path.write_text(yaml.safe_dump(config))
        return str(path)

    return write


def test_the_streaming_job_delivers_records_failures_and_never_waits_on_a_hanging_receiver(
    local_stack, config_with_webhooks
):
    dataset = new_dataset("webhooks")
    topic, subscription = f"wh-{uuid.uuid4().hex[:6]}", f"wh-sub-{uuid.uuid4().hex[:6]}"
    localstack.provision_pubsub(STACK_PROJECT, topic, subscription)
    now = datetime.now(UTC)
    amounts = {"m-0": {"revenue": 9.99, "currency": "USD"}, "m-2": {"revenue": 10, "currency": "EUR"}}
    events = [
        mapping_track_event(messageId=f"m-{n}", timestamp=now.isoformat(), event=name, properties=amounts.get(f"m-{n}"))
        for n, name in enumerate(["Order Completed", "Product Viewed", "Order Completed", "Product Added"])
    ]
    with (
        WebhookReceiver() as purchases,
        WebhookReceiver(Behaviour(status=400)) as refusing,
        WebhookReceiver(Behaviour(hang=20)) as hanging,
        WebhookReceiver() as postback,
    ):
        config = config_with_webhooks(
            purchases={"url": purchases.url, "filter": {"names": ["PURCHASE"]}},
            refusing={"url": refusing.url},
            hanging={"url": hanging.url, "timeout_seconds": 15, "max_attempts": 1},
            postback={
                "url": postback.url,
                "method": "GET",
                "filter": {"names": ["PURCHASE"]},
                # Columns the events_dedup view adds: the USD value from the dataset's exchange rates.
                "query_template": "id={segment_message_id}&value={event_data_revenue_in_usd}&cur={event_data_currency}",
            },
        )
        client_messages = [SampleMessage(orjson.dumps(e), {}, "webhook") for e in events]
        with streaming_job(STACK_PROJECT, dataset, subscription, f"--app_config={config}"):
            started = time.monotonic()
            publish(STACK_PROJECT, topic, client_messages, progress=False)
            from adapters.bigquery import make_client

            bq = make_client(STACK_PROJECT)
            accounting = wait_until_accounted(bq, dataset, len(events), timeout=120, progress=False)
            events_done = time.monotonic() - started
            assert accounting.imported == 4
            # The events table is complete while the hanging receiver still holds its requests.
            assert len(hanging.requests) == 0 and events_done < 15, events_done
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # wait on the condition: every delivery decided and counted
                failures = sql_rows(
                    f"SELECT subscription_id, last_status, attempts FROM `{STACK_PROJECT}.{dataset}.webhook_failures`"
                )
                counted = sql_rows(
                    f"SELECT SUM(delivered + failed) AS n FROM `{STACK_PROJECT}.{dataset}.webhook_stats_dedup`"
                )[0]["n"]
                delivered = len(purchases.delivered_keys()) == len(postback.delivered_keys()) == 2
                if len(failures) == 4 + 4 and delivered and counted == 2 + 4 + 4 + 2:
                    break
                time.sleep(0.5)  # poll interval of the loop above, not a wait for an outcome
    assert len(purchases.delivered_keys()) == 2  # the two PURCHASE events only
    eur = RateBook(parse_rates(BUNDLED_RATES.read_text().splitlines())).usd_per_unit("EUR", now.date())
    assert eur is not None
    assert sorted(r.path for r in postback.requests) == [
        "/hook?id=m-0&value=9.99&cur=USD",
        f"/hook?id=m-2&value={(10 * eur).normalize():f}&cur=EUR",
    ]
    by_sub: dict[str, list] = {}
    for row in failures:
        by_sub.setdefault(row["subscription_id"], []).append(row)
    assert {k: len(v) for k, v in by_sub.items()} == {"refusing": 4, "hanging": 4}
    assert {r["last_status"] for r in by_sub["refusing"]} == {400} and {r["attempts"] for r in by_sub["refusing"]} == {
        1
    }
    assert {r["last_status"] for r in by_sub["hanging"]} == {None}
    stats = sql_rows(
        f"""SELECT subscription_id, SUM(delivered) AS delivered, SUM(failed) AS failed
            FROM `{STACK_PROJECT}.{dataset}.webhook_stats` GROUP BY subscription_id"""
    )
    assert {r["subscription_id"]: (r["delivered"], r["failed"]) for r in stats} == {
        "purchases": (2, 0),
        "refusing": (0, 4),
        "hanging": (0, 4),
        "postback": (2, 0),
    }
    assert read_accounting(bq, dataset).imported == 4

    # The status page's Data feeds card and the failures behind its link.
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.settings import ServingSettings
    from tests.support.serving import LOCAL_APP_CREDENTIALS

    service = TestClient(create_app(ServingSettings(STACK_PROJECT, dataset, config)))
    summary = service.get("/v1/status/summary", headers=LOCAL_APP_CREDENTIALS).json()
    health = {w["subscription_id"]: w for w in summary["webhooks"]}
    assert {k: (w["delivered"], w["failed"]) for k, w in health.items()} == {
        "purchases": (2, 0),
        "refusing": (0, 4),
        "hanging": (0, 4),
        "postback": (2, 0),
    }
    assert health["refusing"]["last_error"].startswith("HTTP 400")
    failures = service.get(health["refusing"]["failures_url"], headers=LOCAL_APP_CREDENTIALS).json()["rows"]
    assert len(failures) == 4 and all(f["last_status"] == 400 and f["attempts"] == 1 for f in failures)
    assert {orjson.loads(f["body"])["id"] for f in failures} == {r["id"] for r in sql_rows(
        f"SELECT id FROM `{STACK_PROJECT}.{dataset}.events` WHERE `timestamp` > '2000-01-01'")}  # fmt: skip
    assert (
        service.get("/v1/status/webhook_failures?subscription=nope", headers=LOCAL_APP_CREDENTIALS).status_code == 404
    )
    assert service.post("/status/login", data=LOCAL_APP_CREDENTIALS, follow_redirects=False).status_code == 303
    page = service.get("/status").text
    assert 'data-subscription="refusing"' in page and "HTTP 400" in page


def test_the_webhook_test_command_sends_one_sample_event_and_prints_the_answer(config_with_webhooks, capsys):
    from beam_jobs import cli

    with WebhookReceiver(Behaviour(burst=1)) as receiver:
        config = config_with_webhooks(partner={"url": receiver.url, "enabled": False})  # a disabled one too
        code = cli.main(["webhook", "test", "--app", "local-app", "--subscription", "partner", "--app-config", config])
    out = capsys.readouterr().out
    assert code == 0 and "delivered after 2 attempt(s)" in out and "last status 200" in out
    assert orjson.loads(receiver.requests[-1].body)["name"] == "PURCHASE"
    assert cli.main(["webhook", "test", "--app", "local-app", "--subscription", "nope", "--app-config", config]) == 2


def test_the_feed_topic_receives_every_imported_event_with_its_attributes(local_stack):
    from google.cloud import pubsub_v1

    dataset = new_dataset("feed")
    topic, subscription = f"in-{uuid.uuid4().hex[:6]}", f"in-sub-{uuid.uuid4().hex[:6]}"
    feed, feed_sub = f"feed-{uuid.uuid4().hex[:6]}", f"feed-sub-{uuid.uuid4().hex[:6]}"
    localstack.provision_pubsub(STACK_PROJECT, topic, subscription)
    localstack.provision_pubsub(STACK_PROJECT, feed, feed_sub)
    now = datetime.now(UTC).isoformat()
    events = [
        mapping_track_event(messageId="f-1", timestamp=now),
        mapping_track_event(messageId="f-2", timestamp=now, event="Product Viewed"),
        mapping_track_event(messageId="f-3", timestamp=now, type="identify"),  # skipped: not in the feed
    ]
    feed_option = f"--feed_topic=projects/{STACK_PROJECT}/topics/{feed}"
    received: list = []
    with streaming_job(STACK_PROJECT, dataset, subscription, feed_option):
        publish(STACK_PROJECT, topic, [SampleMessage(orjson.dumps(e), {}, "feed") for e in events], progress=False)
        subscriber = pubsub_v1.SubscriberClient()
        path = subscriber.subscription_path(STACK_PROJECT, feed_sub)
        deadline = time.monotonic() + 120
        while len(received) < 2 and time.monotonic() < deadline:  # a condition with a deadline
            response = subscriber.pull(subscription=path, max_messages=10, timeout=10)
            received += [m.message for m in response.received_messages]
            if response.received_messages:
                subscriber.acknowledge(subscription=path, ack_ids=[m.ack_id for m in response.received_messages])
        subscriber.close()
    bodies = {orjson.loads(m.data)["name"]: (orjson.loads(m.data), dict(m.attributes)) for m in received}
    assert set(bodies) == {"PURCHASE", "VIEW_ITEM"}
    body, attributes = bodies["PURCHASE"]
    assert attributes == {"app_id": "local-app", "name": "PURCHASE", "category": "COMMERCE"}
    assert body["origin"] == "SEGMENT" and "user_data" in body and "last_attributed_touch_data" in body

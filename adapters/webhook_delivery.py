"""Deliver imported events to webhook subscriptions over HTTP, at least once.

One :class:`Deliverer` call sends one event to one subscription: POST of the JSON body (or
GET of the templated URL), the idempotency key and subscription headers, the signature when
the subscription names a secret; 2xx is delivered, 4xx (but 408 and 429) fails at once, no
answer or 5xx is retried with exponential backoff and full jitter until ``max_attempts`` or
``retry_budget_seconds`` is spent. The outcome says how many attempts it took and what the
receiver last said, for ``webhook_failures``.

:class:`DeliveryPool` runs deliveries on threads, at most ``max_concurrency`` at a time per
subscription, so one slow receiver neither floods itself nor holds another's deliveries.
"""

from __future__ import annotations

import dataclasses
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import orjson
import requests
import requests.adapters

from domain.webhooks import (
    EVENT_ID_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    SUBSCRIPTION_HEADER,
    USER_AGENT,
    SecretRef,
    WebhookSubscription,
    backoff_seconds,
    delivery_url,
    event_body,
    idempotency_key,
    signature,
    verdict,
)

MAX_ERROR_TEXT = 300


@dataclasses.dataclass(frozen=True)
class Delivery:
    """What became of one event for one subscription."""

    app_id: str
    subscription_id: str
    event_id: str
    url: str
    delivered: bool
    attempts: int
    last_status: int | None
    last_error: str | None
    body: str
    seconds: float


def secret_from(ref: SecretRef) -> bytes:
    """The signing secret a subscription references (environment or Secret Manager)."""
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if not value:
            raise LookupError(f"webhook secret: environment variable {ref.env} is not set")
        return value.encode()
    try:
        from google.cloud import secretmanager
    except ImportError:
        raise LookupError(
            "webhook secret: install google-cloud-secret-manager to read secret_manager references"
        ) from None
    return secretmanager.SecretManagerServiceClient().access_secret_version(name=ref.secret_manager).payload.data


def _pooled_session(connections: int = 64) -> requests.Session:
    """A session keeping up to ``connections`` per host alive (the pools' threads share it)."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=connections)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class Deliverer:
    """Sends one event to one subscription with retries (see the module doc)."""

    def __init__(
        self,
        *,
        secrets: Callable[[SecretRef], bytes] = secret_from,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: random.Random | None = None,
    ) -> None:
        self._secrets, self._sleep, self._clock = secrets, sleep, clock
        self._session = session or _pooled_session()
        self._rand = rand or random.Random()
        self._secret_cache: dict[SecretRef, bytes] = {}

    def _secret(self, ref: SecretRef) -> bytes:
        if ref not in self._secret_cache:
            self._secret_cache[ref] = self._secrets(ref)
        return self._secret_cache[ref]

    def deliver(self, app_id: str, subscription: WebhookSubscription, row: Mapping[str, Any]) -> Delivery:
        started = self._clock()
        deadline = started + subscription.retry_budget_seconds
        event_id = str(row.get("id"))
        url = delivery_url(subscription, row)
        post = subscription.method == "POST"
        body = orjson.dumps(event_body(row)) if post else url.partition("?")[2].encode()
        headers = {
            IDEMPOTENCY_HEADER: idempotency_key(event_id, subscription.id),
            SUBSCRIPTION_HEADER: subscription.id,
            EVENT_ID_HEADER: event_id,
            "User-Agent": USER_AGENT,
        }
        if post:
            headers["Content-Type"] = "application/json"
        status: int | None = None
        error: str | None = None
        attempt = 0
        while True:
            attempt += 1
            if subscription.secret is not None:
                headers[SIGNATURE_HEADER] = signature(self._secret(subscription.secret), int(time.time()), body)
            status, error = self._attempt(subscription, url, body if post else None, headers)
            outcome = verdict(status)
            if outcome != "retry":
                break
            delay = backoff_seconds(attempt, rand=self._rand)
            if attempt >= subscription.max_attempts or self._clock() + delay > deadline:
                break
            self._sleep(delay)
        return Delivery(
            app_id=app_id,
            subscription_id=subscription.id,
            event_id=event_id,
            url=subscription.url,
            delivered=outcome == "delivered",
            attempts=attempt,
            last_status=status,
            last_error=None if outcome == "delivered" else error,
            body=body.decode(),
            seconds=self._clock() - started,
        )

    def _attempt(
        self, subscription: WebhookSubscription, url: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        try:
            response = self._session.request(
                subscription.method,
                url,
                data=body,
                headers=headers,
                timeout=subscription.timeout_seconds,
                allow_redirects=False,
            )
        except requests.Timeout:
            return None, f"timeout after {subscription.timeout_seconds:g}s"
        except requests.RequestException as error:
            return None, f"{type(error).__name__}: {str(error)[:MAX_ERROR_TEXT]}"
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}: {response.text[:MAX_ERROR_TEXT]}"


class DeliveryPool:
    """Deliveries on worker threads: one pool per subscription, ``max_concurrency`` threads
    each, so a slow receiver only ever queues its own deliveries."""

    def __init__(self, deliverer: Deliverer) -> None:
        self._deliverer = deliverer
        self._pools: dict[tuple[str, str], ThreadPoolExecutor] = {}
        self._guard = threading.Lock()

    def _pool(self, app_id: str, subscription: WebhookSubscription) -> ThreadPoolExecutor:
        with self._guard:
            key = (app_id, subscription.id)
            if key not in self._pools:
                self._pools[key] = ThreadPoolExecutor(
                    max_workers=subscription.max_concurrency, thread_name_prefix=f"webhook-{subscription.id}"
                )
            return self._pools[key]

    def submit(self, app_id: str, subscription: WebhookSubscription, row: Mapping[str, Any]) -> Future[Delivery]:
        return self._pool(app_id, subscription).submit(self._deliverer.deliver, app_id, subscription, row)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True)

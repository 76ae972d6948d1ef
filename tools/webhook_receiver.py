"""A real local HTTP receiver for webhook deliveries (tests, benchmarks and ./run_local.sh).

It records every request (method, path, headers, body), answers as told, and can check the
signature with the subscription's secret. Behaviours (``Behaviour``):

* ``ok``: 200 to everything;
* ``status=N``: N to everything (e.g. 400);
* ``burst=N``: 503 to the first N requests of each idempotency key, then 200;
* ``fail_every=K``: 503 to every K-th request (K=5: 20 % of requests), 200 otherwise;
* ``hang=S``: answer 200 only after S seconds (past a subscription's timeout).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from domain.webhooks import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify_signature


@dataclasses.dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    signature_ok: bool | None


@dataclasses.dataclass
class Behaviour:
    status: int = 200
    burst: int = 0
    fail_every: int = 0
    hang: float = 0.0


class WebhookReceiver:
    """``with WebhookReceiver(Behaviour(...)) as receiver: receiver.url`` on a free local port."""

    def __init__(self, behaviour: Behaviour | None = None, *, secret: bytes | None = None, path: str = "/hook") -> None:
        self.behaviour = behaviour or Behaviour()
        self.secret, self.path = secret, path
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self._count = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def delivered_keys(self) -> set[str]:
        """Idempotency keys answered 2xx (what the receiver keeps, dropping repeats)."""
        with self._lock:
            return {r.headers.get(IDEMPOTENCY_HEADER, "") for r in self.requests if 200 <= r.status < 300}

    def _answer(self, key: str) -> tuple[int, float]:
        b = self.behaviour
        with self._lock:
            self._count += 1
            self._seen[key] += 1
            count, seen = self._count, self._seen[key]
        if b.burst and seen <= b.burst:
            return 503, 0.0
        if b.fail_every and count % b.fail_every == 0:
            return 503, 0.0
        return b.status, b.hang

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = dict(self.headers.items())
                key = headers.get(IDEMPOTENCY_HEADER, "")
                status, hang = receiver._answer(key)
                signed: bool | None = None
                if receiver.secret is not None:
                    signed_body = body if self.command == "POST" else self.path.partition("?")[2].encode()
                    signed = verify_signature(receiver.secret, headers.get(SIGNATURE_HEADER, ""), signed_body)
                    status = status if signed else 401
                if hang:
                    time.sleep(hang)  # the behaviour under test: a receiver slower than the timeout
                with receiver._lock:
                    receiver.requests.append(Received(self.command, self.path, headers, body, status, signed))
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok" if status < 400 else b"no")
                except OSError:  # the client gave up (timeout): nothing to answer
                    pass

            do_POST = do_GET = _handle

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        return Handler

"""A fault-injecting HTTP reverse proxy in front of the BigQuery emulator's REST endpoint.

The emulator is more lenient than BigQuery (LOCAL_STACK.md): it never answers a row with a
per-row error. Point ``BIGQUERY_EMULATOR_HOST`` at this proxy and switch faults on and off
while a pipeline runs::

    with FaultProxy(os.environ["BIGQUERY_EMULATOR_HOST"]) as proxy:
        proxy.refuse_rows(lambda table, row: table == "events" and row.get("name") == "Bad")
        proxy.fail_next(5, status=503)      # the next 5 insertAll calls get HTTP 503
        proxy.outage(10)                    # every request fails for 10 s (503, or "reset")
        proxy.delay(2.0)                    # each request waits 2 s before it is forwarded
        proxy.drop_responses_next(1)        # forward, then close without answering
        proxy.clear()                       # plain pass-through again

Faults:

* ``refuse_rows(predicate)``: in ``tabledata.insertAll`` requests, rows for which
  ``predicate(table_id, row_json)`` is true are removed before forwarding and answered with a
  per-row ``insertErrors`` entry, reason ``invalid``, at their original index: what BigQuery
  does for a bad row when ``skipInvalidRows`` is true (Beam always sets it).
* ``fail_next(n, status)``: the next ``n`` insertAll requests are answered ``status`` with a
  BigQuery-shaped error body, without reaching the emulator.
* ``outage(seconds, mode)``: every request (any method) fails for that long: ``"503"`` answers
  503, ``"reset"`` closes the connection without an answer (a stopped server).
* ``delay(seconds)``: every request is held that long before it is forwarded (timeouts).
* ``drop_responses_next(n, table=None)``: the next ``n`` insertAll requests (to ``table``) reach the emulator (rows are
  written) but the connection is closed before the answer: the client cannot tell, retries,
  and the same rows arrive again (insert-id dedup and read-time dedup are what save it).

Only standard library; one thread per connection; ``stats`` counts what happened.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RowPredicate = Callable[[str, dict], bool]

_INSERT_ALL = re.compile(r"/projects/[^/]+/datasets/[^/]+/tables/([^/]+)/insertAll$")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
}


class FaultProxy:
    """Start with :meth:`start` (or ``with``); ``url`` is what BIGQUERY_EMULATOR_HOST takes."""

    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self.set_upstream(upstream)
        self._predicate: RowPredicate | None = None
        self._fail_remaining = 0
        self._fail_status = 503
        self._drop_remaining = 0
        self._drop_table: str | None = None
        self._outage_until = 0.0
        self._outage_mode = "503"
        self._delay = 0.0
        self.stats: dict[str, int] = {
            "requests": 0,
            "insert_all": 0,
            "rows_forwarded": 0,
            "rows_refused": 0,
            "failed": 0,
            "outage_failed": 0,
            "dropped_responses": 0,
            "upstream_errors": 0,
        }
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def set_upstream(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream if "://" in upstream else f"http://{upstream}")
        with self._lock:
            self._upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)

    def refuse_rows(self, predicate: RowPredicate | None) -> None:
        with self._lock:
            self._predicate = predicate

    def fail_next(self, n: int, status: int = 503) -> None:
        with self._lock:
            self._fail_remaining, self._fail_status = n, status

    def outage(self, seconds: float, mode: str = "503") -> None:
        if mode not in ("503", "reset"):
            raise ValueError("mode is '503' or 'reset'")
        with self._lock:
            self._outage_until, self._outage_mode = time.monotonic() + seconds, mode

    def delay(self, seconds: float) -> None:
        with self._lock:
            self._delay = seconds

    def drop_responses_next(self, n: int, table: str | None = None) -> None:
        """Forward the next ``n`` insertAll requests (for ``table``, or any) but lose the answer."""
        with self._lock:
            self._drop_remaining, self._drop_table = n, table

    def clear(self) -> None:
        with self._lock:
            self._predicate, self._fail_remaining, self._drop_remaining = None, 0, 0
            self._outage_until, self._delay = 0.0, 0.0

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] = self.stats.get(key, 0) + n

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ decisions

    def _take(self, table: str | None) -> dict[str, Any]:
        """Decide this request's fault atomically (counters are consumed here)."""
        with self._lock:
            decision: dict[str, Any] = {"delay": self._delay, "upstream": self._upstream}
            if time.monotonic() < self._outage_until:
                decision["outage"] = self._outage_mode
                return decision
            if table is not None:
                if self._fail_remaining > 0:
                    self._fail_remaining -= 1
                    decision["fail"] = self._fail_status
                    return decision
                if self._drop_remaining > 0 and self._drop_table in (None, table):
                    self._drop_remaining -= 1
                    decision["drop"] = True
                decision["predicate"] = self._predicate
            return decision

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _method(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urllib.parse.urlsplit(self.path).path
                match = _INSERT_ALL.search(path) if self.command == "POST" else None
                table = match[1] if match else None
                proxy.count("requests")
                if table is not None:
                    proxy.count("insert_all")
                    proxy.count(f"insert_all:{table}")
                decision = proxy._take(table)
                if decision["delay"]:
                    time.sleep(decision["delay"])
                if "outage" in decision:
                    proxy.count("outage_failed")
                    if decision["outage"] == "reset":
                        self._reset()
                    else:
                        self._send_json(503, _error_body(503, "backendError", "injected outage"))
                    return
                if "fail" in decision:
                    proxy.count("failed")
                    status = decision["fail"]
                    self._send_json(
                        status, _error_body(status, "backendError" if status >= 500 else "invalid", "injected failure")
                    )
                    return
                refused: list[int] = []
                predicate = decision.get("predicate")
                if table is not None and body:
                    request = json.loads(body)
                    rows = request.get("rows") or []
                    if predicate is not None:
                        refused = [i for i, r in enumerate(rows) if predicate(table, r.get("json") or {})]
                    kept = [r for i, r in enumerate(rows) if i not in set(refused)]
                    proxy.count("rows_refused", len(refused))
                    proxy.count("rows_forwarded", len(kept))
                    if refused:
                        request["rows"] = kept
                        body = json.dumps(request).encode()
                    if refused and not kept:
                        self._send_json(200, _insert_response([], refused))
                        return
                try:
                    status, headers, payload = self._forward(decision["upstream"], body)
                except OSError:
                    proxy.count("upstream_errors")
                    # What a load balancer in front of a stopped server answers.
                    self._send_json(502, _error_body(502, "badGateway", "upstream unavailable"))
                    return
                if decision.get("drop"):
                    proxy.count("dropped_responses")
                    proxy.count(f"dropped:{table}")
                    self._reset()
                    return
                if table is not None:
                    proxy.count(f"answered:{table}")
                if refused and status == 200:
                    upstream_errors = json.loads(payload or b"{}").get("insertErrors") or []
                    kept_index = [i for i in range(len(refused) + _row_count(body)) if i not in set(refused)]
                    remapped = [{**e, "index": kept_index[e["index"]]} for e in upstream_errors]
                    self._send_json(200, _insert_response(remapped, refused))
                    return
                self._send(status, headers, payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _method

            def _forward(self, upstream: tuple[str, int], body: bytes):
                connection = http.client.HTTPConnection(*upstream, timeout=300)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    headers["Accept-Encoding"] = "identity"
                    headers["Content-Length"] = str(len(body))
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    return response.status, response.getheaders(), response.read()
                finally:
                    connection.close()

            def _send(self, status: int, headers, payload: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in _HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _send_json(self, status: int, doc: dict) -> None:
                self._send(status, [("Content-Type", "application/json; charset=UTF-8")], json.dumps(doc).encode())

            def _reset(self) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

        return Handler


def _row_count(body: bytes) -> int:
    return len(json.loads(body).get("rows") or [])


def _insert_response(errors: list[dict], refused: list[int]) -> dict:
    entries = errors + [
        {
            "index": i,
            "errors": [
                {
                    "reason": "invalid",
                    "location": "",
                    "debugInfo": "",
                    "message": "injected: row refused by fault proxy",
                }
            ],
        }
        for i in refused
    ]
    return {"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": sorted(entries, key=lambda e: e["index"])}


def _error_body(code: int, reason: str, message: str) -> dict:
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"reason": reason, "message": message}],
            "status": "UNAVAILABLE" if code >= 500 else "INVALID_ARGUMENT",
        }
    }

"""The real serving app over real HTTP, for the conformance suite's replays of Branch's clients.

Branch's clients are pointed at this service by swapping their host (``https://api2.branch.io``
or ``https://api.branch.io``) for the live server's; everything else in their requests (path,
query string, headers, body encoding) is sent as their code sends it, with ``requests``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import uvicorn
from fastapi import FastAPI

from tests.support.serving import APP, SAMPLE_NOW, backfill_into, load_sample_events
from tools.attribution_sample import attribution_sample
from tools.localstack import free_port

BRANCH_HOSTS = ("https://api2.branch.io", "https://api.branch.io")
STARTUP_DEADLINE_SECONDS = 30.0
ATTRIBUTION_INSTANCES = 5
# A custom event name a real client filters on (a Next.js dashboard route, see the Query suite).
CUSTOM_CONVERSION = "first_order_created_fe"


def custom_conversions() -> list[bytes]:
    """Custom events (eo_custom_event) by users of the attribution sample who have a touch: per
    instance one on 19 Nov 23:00 by the user of the ``branch_INSTALL`` touch (campaign
    ``branch_export_<i>``, channel google) and one on 20 Nov 00:30 by the user of the impression
    (``impression_<i>``, youtube). The attribution sample's own conversions are commerce events."""
    events = []
    for i in range(ATTRIBUTION_INSTANCES):
        for who, at in (("user-export", "2026-11-19T23:00:00.000Z"), ("user-impression", "2026-11-20T00:30:00.000Z")):
            event = {
                "type": "track",
                "event": CUSTOM_CONVERSION,
                "messageId": f"conformance-{who}-{i}",
                "timestamp": at,
                "userId": f"attr-{i}-{who}",
                "context": {},
                "properties": {},
            }
            events.append(orjson.dumps(event))
    return events


def load_conformance_events(directory: Path) -> str:
    """A dataset with the serving tests' samples (``load_sample_events``) plus, for local-app, the
    attribution sample at ``SAMPLE_NOW`` and :func:`custom_conversions`: touches, then commerce and
    custom events of 19/20 Nov attributed to campaigns (``paid_install_<i>``, ``deep_link_<i>``,
    ``branch_export_<i>``...), so the campaign and channel dimensions and the export's attribution
    columns that the clients read hold values. Returns the dataset's name."""
    dataset = load_sample_events(directory)
    messages = [m.data for phase in attribution_sample(SAMPLE_NOW, ATTRIBUTION_INSTANCES).phases for m in phase]
    path = directory / "attribution.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in [*messages, *custom_conversions()]))
    backfill_into(dataset, path, f"--default_app_id={APP}")
    return dataset


@contextlib.contextmanager
def live_service(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread on a free port; yields its base URL
    (``http://127.0.0.1:<port>``, no trailing slash) once the server accepts connections."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"uvicorn on port {port} exited before it started")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"uvicorn on port {port} did not start within {STARTUP_DEADLINE_SECONDS} s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STARTUP_DEADLINE_SECONDS)


def on_service(branch_url: str, base: str) -> str:
    """A client's hard-coded Branch URL with its host replaced by the live service's."""
    for host in BRANCH_HOSTS:
        if branch_url == host or branch_url.startswith((f"{host}/", f"{host}?")):
            return base + branch_url[len(host) :]
    raise ValueError(f"not a Branch API URL: {branch_url}")

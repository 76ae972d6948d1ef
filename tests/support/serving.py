"""Helpers of the serving tests: datasets holding imported samples, and reference SQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from google.cloud import bigquery

from adapters.bigquery import make_client
from adapters.exchange_rates import load_rates
from adapters.provision import provision_tables
from beam_jobs import backfill
from domain.config import load_config
from domain.exchange_rates import BUNDLED_RATES, parse_rates
from domain.mapping import ImportSettings, process_message
from tools.attribution_sample import attribution_sample
from tools.samples import SampleMessage, generate_sample

PROJECT = "local-project"
SAMPLE_NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # events straddle 19/20 Nov, stale ones go back 9 days
APP, APP_KEY, APP_SECRET = "local-app", "key_live_local_default", "secret_live_local_default"
WEB_APP, WEB_KEY, WEB_SECRET = "local-web-app", "key_live_local_web", "secret_live_local_web"
START, END = "2026-11-14", "2026-11-20"  # inclusive: 7 days, 14 Nov 00:00 to 21 Nov 00:00


class EmptyResults:
    """Stands in for BigQuery where only the SQL text matters (request validation, fuzzing):
    records each query's SQL and answers no rows."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def query(self, sql: str, **_: Any) -> EmptyResults:
        self.queries.append(sql)
        return self

    def result(self) -> Iterator[Any]:
        return iter(())

    def get_table(self, _: str) -> Any:  # the rollups' coverage: none (no labels)
        return self

    labels: dict[str, str] = {}
    project = PROJECT

    def list_rows(self, _: str, **__: Any) -> Iterator[Any]:  # a stored result's first row: an empty result
        return iter([{"_rank": None, "_sizes": ""}])


def query_body(*, key: str = APP_KEY, secret: str = APP_SECRET, **fields: Any) -> dict[str, Any]:
    """A Query API request body over the sample's days (``fields`` add or override)."""
    return {
        "branch_key": key,
        "branch_secret": secret,
        "start_date": START,
        "end_date": END,
        "data_source": "eo_commerce_event",
        **fields,
    }


def load_sample_events(directory: Path) -> str:
    """A new provisioned dataset holding both default apps' imported samples; returns its name.

    Shared by the serving tests (views, Query API, export). The backfill reads no Pub/Sub
    attributes, so each app's file is imported with that app as the default app.
    """
    dataset = new_dataset("serving")
    for app_id, seed, runs in ((APP, 11, 2), (WEB_APP, 12, 1)):
        path = directory / f"{app_id}.jsonl"
        path.write_bytes(b"".join(m.data + b"\n" for m in generate_sample(500, seed, SAMPLE_NOW)))
        for _ in range(runs):
            backfill_into(dataset, path, f"--default_app_id={app_id}")
    return dataset


def new_dataset(prefix: str) -> str:
    """A new dataset with the importer's tables and views and the bundled exchange rates."""
    dataset = f"{prefix}_{uuid.uuid4().hex[:10]}"
    client = make_client(PROJECT)
    provision_tables(client, dataset)
    load_rates(client, dataset, parse_rates(BUNDLED_RATES.read_text().splitlines()))
    return dataset


def backfill_into(dataset: str, archive: Path, *options: str) -> None:
    """Import an archive with the real backfill job (local runner, stale check off)."""
    backfill.run(
        [
            "--runner=FnApiRunner",
            f"--project={PROJECT}",
            f"--dataset={dataset}",
            f"--input={archive}",
            "--max_event_age=off",
            *options,
        ]
    )


def sql_rows(sql: str, **params: Any) -> list[dict[str, Any]]:
    """Run reference SQL with scalar parameters (type inferred from the Python value)."""
    types = {str: "STRING", datetime: "TIMESTAMP", int: "INT64"}
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter(name, types[type(value)], value) for name, value in params.items()
        ]
    )
    return [dict(row) for row in make_client(PROJECT).query(sql, job_config=config).result()]


LOCAL_APP_CREDENTIALS = {"branch_key": "key_live_local_default", "branch_secret": "secret_live_local_default"}
WEB_APP_CREDENTIALS = {"branch_key": "key_live_local_web", "branch_secret": "secret_live_local_web"}
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 1">'

Keep = Callable[[SampleMessage, str, str | None], bool]
EditEvent = Callable[[dict[str, Any]], None]
_BACKFILL_SETTINGS = ImportSettings(load_config(), max_event_age=None)


def classify(message: SampleMessage, now: datetime) -> tuple[str, str | None]:
    """(outcome, platform) that the backfill's mapping gives a message (dedup aside).

    A JSON-lines archive carries no attributes, so every message goes to the default app.
    """
    result = process_message(message.data, None, None, _BACKFILL_SETTINGS, now)
    return result.outcome.value, result.platform


def web_event_like(messages: Iterable[SampleMessage], now: datetime, edit: EditEvent) -> bytes:
    """A copy of the first imported Web event of ``messages``, changed by ``edit``."""
    original = next(m for m in messages if classify(m, now) == ("imported", "WEB"))
    event = orjson.loads(original.data)
    edit(event)
    return orjson.dumps(event)


def hostile_web_event(messages: Iterable[SampleMessage], now: datetime) -> bytes:
    """A valid Web track event whose name is markup: imported, shown in Liveview as text."""
    return web_event_like(messages, now, lambda event: event.update(event=XSS, messageId="status-test-hostile-web"))


def import_sample(
    tmp_path: Path, keep: Keep, count: int = 400, seed: int = 8, web_events: Sequence[EditEvent] = ()
) -> tuple[str, list[bytes]]:
    """A new dataset holding a generated sample and the attribution sample (the messages ``keep``
    accepts) plus two hostile ones and one Web event per edit in ``web_events``.

    The hostile ones: a Web event named with markup (imported) and the same name without
    identifiers (rejected, so its payload is stored). Returns (dataset, lines imported).
    """
    now = datetime.now(UTC)
    messages = generate_sample(count, seed, now)
    touches_and_conversions = [m for phase in attribution_sample(now, instances=2).phases for m in phase]
    lines = [m.data for m in [*messages, *touches_and_conversions] if keep(m, *classify(m, now))]
    lines.append(hostile_web_event(messages, now))
    lines.extend(web_event_like(messages, now, edit) for edit in web_events)
    lines.append(
        orjson.dumps(
            {"type": "track", "event": XSS, "messageId": "status-test-hostile-rejected", "timestamp": now.isoformat()}
        )
    )
    assert not any(b"\n" in line for line in lines)
    path = tmp_path / "sample.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    dataset = new_dataset("status")
    backfill_into(dataset, path)
    return dataset, lines

"""SCALE_SERVE: what the Query API reads from rollups against raw events, as the events grow tenfold.

    .venv/bin/python -m bench.scale_serve

Seeds one app's ``events`` (7 days, the same hours and dimension values, a pool of users)
with 100k events, rolls them up (``segment-branch rollup``'s code), then asks the Query API
for 7 days by name, os and attributed, and counts the rows each path reads: the raw path's
rows of ``events_dedup`` in the request's range, the rollup path's rows of the rollup it
reads. It checks that both paths answer the same, then grows the events to 1M (900k more in
the same hours) and measures again. A 5-page walk of one ``query_id`` counts query jobs.
The rows are generated inside the emulator (one INSERT ... SELECT), not sent over HTTP.
Prints one line:

    SCALE_SERVE raw_rows_1x=A raw_rows_10x=B rollup_rows_1x=C rollup_rows_10x=D jobs_per_query_id=E
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

PROJECT = "local-project"
APP_ID, APP_KEY, APP_SECRET = "local-app", "key_live_local_default", "secret_live_local_default"
TOPIC = "eo_commerce_event"
START = datetime(2026, 11, 14, tzinfo=UTC)
HOURS = 7 * 24
USERS = 20_000
BASE_EVENTS, GROWN_EVENTS = 100_000, 1_000_000
DIMENSIONS = ["name", "user_data_os", "attributed"]
PAGES = 5

# Event n in [first, last): hour n % HOURS, then name (4), os (3), touch (none or one of 3
# campaigns) and currency (2) from n // HOURS, so every hour sees all 96 combinations once
# 16,128 events are in: the same hours and values at any size.
_SEED_SQL = """
INSERT INTO `{table}` (id, app_id, name, category, topic, origin, `timestamp`, ingested_at, segment_message_id,
  user_data_os, user_data_developer_identity, event_data_revenue, event_data_currency, attributed,
  last_attributed_touch_type, last_attributed_touch_data_tilde_campaign)
SELECT CONCAT('e', CAST(n AS STRING)), @app_id,
  CASE MOD(DIV(n, {hours}), 4) WHEN 0 THEN 'PURCHASE' WHEN 1 THEN 'ADD_TO_CART' WHEN 2 THEN 'VIEW_ITEM' ELSE 'ADD_TO_WISHLIST' END,
  'COMMERCE', @topic, 'SEGMENT',
  TIMESTAMP_ADD(@start, INTERVAL MOD(n, {hours}) * 3600 + MOD(n, 3571) SECOND), CURRENT_TIMESTAMP(),
  CONCAT('m', CAST(n AS STRING)),
  CASE MOD(DIV(n, {per_os}), 3) WHEN 0 THEN 'IOS' WHEN 1 THEN 'ANDROID' ELSE 'WEB' END,
  CONCAT('user-', CAST(MOD(n * 7919, {users}) AS STRING)), CAST(MOD(n, 50) AS NUMERIC) + NUMERIC '0.99',
  IF(MOD(DIV(n, {per_currency}), 2) = 0, 'USD', 'EUR'), MOD(DIV(n, {per_touch}), 4) != 0,
  IF(MOD(DIV(n, {per_touch}), 4) != 0, 'CLICK', NULL),
  CASE MOD(DIV(n, {per_touch}), 4) WHEN 1 THEN 'spring' WHEN 2 THEN 'summer' WHEN 3 THEN 'autumn' END
FROM UNNEST(GENERATE_ARRAY(@first, @last - 1)) AS n
"""


def _body(**fields: Any) -> dict[str, Any]:
    end = (START + timedelta(days=6)).date().isoformat()
    return {
        "branch_key": APP_KEY,
        "branch_secret": APP_SECRET,
        "start_date": START.date().isoformat(),
        "end_date": end,
        "data_source": TOPIC,
        "aggregation": "total_count",
        "dimensions": DIMENSIONS,
        **fields,
    }


def run() -> dict[str, int]:
    from fastapi.testclient import TestClient
    from google.cloud import bigquery

    from adapters.bigquery import EMULATOR_ENV, EmulatorClient, make_client
    from adapters.exchange_rates import load_rates
    from adapters.provision import provision_tables
    from adapters.rollup import run_rollup
    from domain.exchange_rates import BUNDLED_RATES, parse_rates
    from schemas.tables import EVENTS, EVENTS_DEDUP
    from serving.app import create_app
    from serving.queries import QueryRunner
    from serving.settings import ServingSettings
    from tools import localstack

    class CountingClient(EmulatorClient):
        jobs: list[str]

        def query(self, query: str, *args: Any, **kwargs: Any):
            self.jobs.append(query)
            return super().query(query, *args, **kwargs)

    with localstack.local_stack(PROJECT):
        client = make_client(PROJECT)
        dataset = f"scale_serve_{uuid.uuid4().hex[:8]}"
        provision_tables(client, dataset)
        load_rates(client, dataset, parse_rates(BUNDLED_RATES.read_text().splitlines()))
        full = f"{PROJECT}.{dataset}"
        seed = _SEED_SQL.format(
            table=f"{full}.{EVENTS}",
            hours=HOURS,
            per_os=HOURS * 4,
            per_touch=HOURS * 12,
            per_currency=HOURS * 48,
            users=USERS,
        )

        def insert(first: int, last: int) -> None:
            params = [
                bigquery.ScalarQueryParameter("app_id", "STRING", APP_ID),
                bigquery.ScalarQueryParameter("topic", "STRING", TOPIC),
                bigquery.ScalarQueryParameter("start", "TIMESTAMP", START),
                bigquery.ScalarQueryParameter("first", "INT64", first),
                bigquery.ScalarQueryParameter("last", "INT64", last),
            ]
            client.query(seed, job_config=bigquery.QueryJobConfig(query_parameters=params)).result()

        def count(sql: str, **values: datetime) -> int:
            params = [
                bigquery.ScalarQueryParameter("app_id", "STRING", APP_ID),
                bigquery.ScalarQueryParameter("topic", "STRING", TOPIC),
                *(bigquery.ScalarQueryParameter(k, "TIMESTAMP", v) for k, v in values.items()),
            ]
            [row] = client.query(sql, job_config=bigquery.QueryJobConfig(query_parameters=params)).result()
            return int(row[0])

        app = create_app(ServingSettings(PROJECT, dataset))
        counting = CountingClient(PROJECT, os.environ[EMULATOR_ENV])
        counting.jobs = []
        app.state.queries = QueryRunner(counting)
        raw_app = create_app(ServingSettings(PROJECT, dataset, use_rollups=False))
        http, raw_http = TestClient(app), TestClient(raw_app)
        end = START + timedelta(days=7)

        def measure() -> tuple[int, int]:
            run_rollup(client, dataset, START)
            before = len(counting.jobs)
            answer = http.post("/v1/query/analytics?limit=1000", json=_body()).json()
            [sql] = counting.jobs[before:]
            rollup = next(name for name in ("events_hourly_attribution", "events_hourly") if f".{name}`" in sql)
            if answer != raw_http.post("/v1/query/analytics?limit=1000", json=_body()).json():
                raise SystemExit("scale_serve: the rollup and raw answers differ")
            window = {"start": START, "end": end}
            where = "app_id = @app_id AND topic = @topic"
            raw_rows = count(
                f"SELECT COUNT(*) FROM `{full}.{EVENTS_DEDUP}` WHERE {where} "
                "AND `timestamp` >= @start AND `timestamp` < @end",
                **window,
            )
            rollup_rows = count(
                f"SELECT COUNT(*) FROM `{full}.{rollup}` WHERE {where} AND hour >= @start AND hour < @end", **window
            )
            return raw_rows, rollup_rows

        insert(0, BASE_EVENTS)
        raw_1x, rollup_1x = measure()
        insert(BASE_EVENTS, GROWN_EVENTS)
        raw_10x, rollup_10x = measure()

        before = len(counting.jobs)
        url = "/v1/query/analytics?limit=4"  # 24 rows a day (4 names x 3 os x 2): 6 pages
        for _ in range(PAGES):
            page = http.post(url, json=_body(granularity="day")).json()
            url = page["paging"]["next_url"]
        jobs = len(counting.jobs) - before
    return {
        "raw_rows_1x": raw_1x,
        "raw_rows_10x": raw_10x,
        "rollup_rows_1x": rollup_1x,
        "rollup_rows_10x": rollup_10x,
        "jobs_per_query_id": jobs,
    }


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    result = run()
    print("SCALE_SERVE " + " ".join(f"{key}={value}" for key, value in result.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

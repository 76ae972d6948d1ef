"""Keep the rollup tables current (``segment-branch rollup --since ...``, rules §11).

Incremental and idempotent. A run fingerprints every app-hour of event time from ``since``
on (the rows of ``events`` and their latest ``ingested_at``, plus the latest exchange-rate
load) and compares with the fingerprints ``rollup_hours`` kept from earlier runs. Only the
app-hours that differ are recomputed from ``events_dedup``, in every rollup table: late
events, backfills, replays, erasures and a new rate load all change a fingerprint. A run
that finds nothing changed writes nothing, and a run cut short leaves the fingerprints of
its unfinished hours unwritten, so the next run recomputes them.

Each write is a DML statement (rows written by streaming inserts could not be deleted for a
while), and the new fingerprints are those the run saw before it recomputed: a row that
lands while the run works changes the fingerprint again and is counted by the next run.

After a run, each rollup table's labels say what it covers (``rolled_since``,
``rolled_through``, epoch seconds): every event of an hour from ``rolled_since`` on that
was ingested before ``rolled_through``. Readers take the hours after that from
``events_dedup`` (serving/query_sql.py).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from google.cloud import bigquery

from schemas.tables import (
    EVENTS,
    EVENTS_DEDUP,
    EXCHANGE_RATES,
    ROLLUP_HOURS,
    ROLLUP_MEASURES,
    ROLLUPS,
    rollup_dimensions,
)

ROLLED_SINCE = "rolled_since"
ROLLED_THROUGH = "rolled_through"
HOUR = timedelta(hours=1)


@dataclasses.dataclass(frozen=True)
class Coverage:
    """What the rollups hold: every event of the hours from ``since`` ingested before ``through``."""

    since: datetime
    through: datetime

    @property
    def boundary(self) -> datetime:
        """The first hour a reader takes from events_dedup (the hour ``through`` falls in)."""
        return floor_hour(self.through)


@dataclasses.dataclass(frozen=True)
class RollupRun:
    since: datetime
    run_at: datetime
    hours: int  # app-hours recomputed
    apps: int


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _epoch(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def coverage(client: bigquery.Client, tables: str) -> Coverage | None:
    """The rollups' coverage from their labels (the narrowest of them), None before a first run.

    ``tables``: ``project.dataset``."""
    covered = []
    for name in ROLLUPS:
        labels = client.get_table(f"{tables}.{name}").labels or {}
        if ROLLED_SINCE not in labels or ROLLED_THROUGH not in labels:
            return None
        covered.append(
            Coverage(
                datetime.fromtimestamp(int(labels[ROLLED_SINCE]), UTC),
                datetime.fromtimestamp(int(labels[ROLLED_THROUGH]), UTC),
            )
        )
    return Coverage(max(c.since for c in covered), min(c.through for c in covered))


def _changed_hours_sql(table: str) -> str:
    return f"""
WITH now_hours AS (
  SELECT app_id, TIMESTAMP_TRUNC(`timestamp`, HOUR) AS hour, COUNT(*) AS source_rows,
         MAX(ingested_at) AS source_ingested_at
  FROM `{table}.{EVENTS}`
  WHERE `timestamp` >= @since
  GROUP BY app_id, hour
),
rolled AS (
  SELECT app_id, hour, source_rows, source_ingested_at, rates_loaded_at
  FROM `{table}.{ROLLUP_HOURS}`
  WHERE hour >= @since
)
SELECT COALESCE(n.app_id, r.app_id) AS app_id, COALESCE(n.hour, r.hour) AS hour,
       n.source_rows, n.source_ingested_at
FROM now_hours AS n
FULL OUTER JOIN rolled AS r ON n.app_id = r.app_id AND n.hour = r.hour
WHERE r.hour IS NULL OR n.hour IS NULL OR n.source_rows != r.source_rows
   OR n.source_ingested_at != r.source_ingested_at OR r.rates_loaded_at IS DISTINCT FROM @rates_loaded_at"""


def rollup_insert_sql(dataset: str, name: str) -> str:
    """Recompute one app's listed hours of rollup ``name`` from events_dedup."""
    dims = ", ".join(f"`{d}`" for d in rollup_dimensions(name))
    measures = ", ".join(f"{sql} AS {column}" for column, sql in ROLLUP_MEASURES.items())
    return f"""
INSERT INTO `{dataset}.{name}` (hour, app_id, topic, {dims}, {", ".join(ROLLUP_MEASURES)}, rolled_at)
SELECT TIMESTAMP_TRUNC(`timestamp`, HOUR) AS hour, app_id, topic, {dims}, {measures}, @run_at
FROM `{dataset}.{EVENTS_DEDUP}`
WHERE app_id = @app_id AND `timestamp` >= @first AND `timestamp` < @end
  AND TIMESTAMP_TRUNC(`timestamp`, HOUR) IN UNNEST(@hours)
GROUP BY hour, app_id, topic, {dims}"""


def _run(client: bigquery.Client, sql: str, *parameters) -> list[dict]:
    config = bigquery.QueryJobConfig(query_parameters=list(parameters))
    return [dict(row) for row in client.query(sql, job_config=config).result()]


def run_rollup(client: bigquery.Client, dataset: str, since: datetime, now: datetime | None = None) -> RollupRun:
    """Recompute the app-hours from ``since`` whose events changed since they were rolled up."""
    run_at = now or datetime.now(UTC)
    since = floor_hour(since)
    full = f"{client.project}.{dataset}"
    [rates] = _run(client, f"SELECT MAX(loaded_at) AS loaded_at FROM `{full}.{EXCHANGE_RATES}`")
    rates_loaded_at = rates["loaded_at"]
    changed = _run(
        client,
        _changed_hours_sql(full),
        bigquery.ScalarQueryParameter("since", "TIMESTAMP", since),
        bigquery.ScalarQueryParameter("rates_loaded_at", "TIMESTAMP", rates_loaded_at),
    )
    by_app: dict[str, list[dict]] = defaultdict(list)
    for row in changed:
        by_app[row["app_id"]].append(row)
    for app_id, rows in sorted(by_app.items()):
        hours = sorted(row["hour"] for row in rows)
        scope = [
            bigquery.ScalarQueryParameter("app_id", "STRING", app_id),
            bigquery.ArrayQueryParameter("hours", "TIMESTAMP", hours),
        ]
        # Forget the fingerprints first: a run stopped before the end recomputes these hours.
        _run(client, f"DELETE FROM `{full}.{ROLLUP_HOURS}` WHERE app_id = @app_id AND hour IN UNNEST(@hours)", *scope)
        for name in ROLLUPS:
            _run(client, f"DELETE FROM `{full}.{name}` WHERE app_id = @app_id AND hour IN UNNEST(@hours)", *scope)
            _run(
                client,
                rollup_insert_sql(full, name),
                *scope,
                bigquery.ScalarQueryParameter("first", "TIMESTAMP", hours[0]),
                bigquery.ScalarQueryParameter("end", "TIMESTAMP", hours[-1] + HOUR),
                bigquery.ScalarQueryParameter("run_at", "TIMESTAMP", run_at),
            )
        seen = [row for row in rows if row["source_rows"] is not None]  # hours with no rows left: none
        if seen:
            _run(
                client,
                f"""INSERT INTO `{full}.{ROLLUP_HOURS}`
                    (app_id, hour, source_rows, source_ingested_at, rates_loaded_at, rolled_at)
                    SELECT @app_id, f.hour, f.source_rows, f.source_ingested_at, @rates_loaded_at, @run_at
                    FROM UNNEST(@fingerprints) AS f""",
                bigquery.ScalarQueryParameter("app_id", "STRING", app_id),
                bigquery.ScalarQueryParameter("rates_loaded_at", "TIMESTAMP", rates_loaded_at),
                bigquery.ScalarQueryParameter("run_at", "TIMESTAMP", run_at),
                bigquery.ArrayQueryParameter(
                    "fingerprints",
                    "STRUCT",
                    [
                        bigquery.StructQueryParameter(
                            None,
                            bigquery.ScalarQueryParameter("hour", "TIMESTAMP", row["hour"]),
                            bigquery.ScalarQueryParameter("source_rows", "INT64", row["source_rows"]),
                            bigquery.ScalarQueryParameter("source_ingested_at", "TIMESTAMP", row["source_ingested_at"]),
                        )
                        for row in seen
                    ],
                ),
            )
    _label_coverage(client, full, since, run_at)
    return RollupRun(since, run_at, len(changed), len(by_app))


def _label_coverage(client: bigquery.Client, full: str, since: datetime, run_at: datetime) -> None:
    """Extend each rollup's coverage; a run that starts after the covered time restarts it (a gap)."""
    for name in ROLLUPS:
        table = client.get_table(f"{full}.{name}")
        labels = dict(table.labels or {})
        old_since, old_through = labels.get(ROLLED_SINCE), labels.get(ROLLED_THROUGH)
        if old_since is not None and old_through is not None and since.timestamp() <= int(old_through):
            since_label = min(int(old_since), int(since.timestamp()))
        else:
            since_label = int(since.timestamp())
        table.labels = {**labels, ROLLED_SINCE: str(since_label), ROLLED_THROUGH: _epoch(run_at)}
        client.update_table(table, ["labels"])

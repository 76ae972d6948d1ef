"""Load dated exchange rates into the ``exchange_rates`` table (``segment-branch load-rates``).

Rows are appended with their load time; ``events_dedup`` keeps the latest load of each
currency and day, so reloading a corrected file fixes a rate without deleting anything.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from google.cloud import bigquery

from domain.exchange_rates import Rate
from schemas.tables import EXCHANGE_RATES

BATCH = 500


def load_rates(client: bigquery.Client, dataset: str, rates: list[Rate], now: datetime | None = None) -> int:
    """Append ``rates``; returns how many rows were written (raises on a row BigQuery refused)."""
    loaded_at = (now or datetime.now(UTC)).isoformat()
    table = f"{client.project}.{dataset}.{EXCHANGE_RATES}"
    rows = [
        {
            "currency": rate.currency,
            "day": rate.day.isoformat(),
            "usd_per_unit": str(rate.usd_per_unit),
            "loaded_at": loaded_at,
        }
        for rate in rates
    ]
    for start in range(0, len(rows), BATCH):
        errors = client.insert_rows_json(table, rows[start : start + BATCH])
        if errors:
            raise RuntimeError(f"BigQuery refused exchange rate rows: {errors[:3]}")
    return len(rows)


def read_rates(client: bigquery.Client, dataset: str, since: date) -> list[Rate]:
    """The rates that apply on or after ``since``: each currency's latest rate on or before it
    and every later one (the latest load of each currency and day). Bounded by currencies x
    days since ``since``, whatever the table's history holds."""
    table = f"`{client.project}.{dataset}.{EXCHANGE_RATES}`"
    sql = f"""
        SELECT currency, day, usd_per_unit FROM (
          SELECT currency, day, usd_per_unit,
                 MAX(IF(day <= @since, day, NULL)) OVER (PARTITION BY currency) AS first_day
          FROM (
            SELECT currency, day, usd_per_unit FROM {table} WHERE TRUE
            QUALIFY ROW_NUMBER() OVER (PARTITION BY currency, day ORDER BY loaded_at DESC) = 1
          )
        )
        WHERE day >= COALESCE(first_day, @since)"""
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("since", "DATE", since)])
    return [
        Rate(row.currency, row.day, Decimal(str(row.usd_per_unit)))
        for row in client.query(sql, job_config=config).result()
    ]

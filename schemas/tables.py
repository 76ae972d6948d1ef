"""BigQuery tables and views of the importer: every name, schema and layout.

The JSON files (``schemas/bigquery/*.json``) are the one source of each table's schema: the
pipeline validates rows against them, provisioning creates tables from them, and the docs
list them. Each view is one file, ``schemas/sql/<view>.sql``.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

_SCHEMA_DIR = Path(__file__).with_name("bigquery")
SQL_DIR = Path(__file__).with_name("sql")

# Tables.
EVENTS = "events"
REJECTED_EVENTS = "rejected_events"
IMPORT_STATS = "import_stats"
TOUCHES = "touches"
EXCHANGE_RATES = "exchange_rates"
WEBHOOK_FAILURES = "webhook_failures"
WEBHOOK_STATS = "webhook_stats"
# Rollups (rules §11): hourly aggregates the Query API and the status page read instead of events.
EVENTS_HOURLY = "events_hourly"
EVENTS_HOURLY_ATTRIBUTION = "events_hourly_attribution"
ROLLUP_HOURS = "rollup_hours"  # the rollup job's fingerprint of each app-hour it rolled up

# Views (one per file in SQL_DIR; tests/unit/test_provision.py checks the two lists agree).
EVENTS_DEDUP = "events_dedup"  # one row per event id: what every reader of events goes through
REJECTED_EVENTS_DEDUP = "rejected_events_dedup"
IMPORT_STATS_DEDUP = "import_stats_dedup"
DAILY_EVENT_COUNTS = "daily_event_counts"
DAILY_REVENUE = "daily_revenue"
DAILY_UNIQUE_USERS = "daily_unique_users"
CONTENT_ITEM_BREAKDOWN = "content_item_breakdown"
IMPORT_HEALTH = "import_health"
DAILY_ATTRIBUTED_CONVERSIONS = "daily_attributed_conversions"
CAMPAIGN_TOUCHES = "campaign_touches"
WEBHOOK_STATS_DEDUP = "webhook_stats_dedup"
VIEWS = (
    EVENTS_DEDUP,
    REJECTED_EVENTS_DEDUP,
    IMPORT_STATS_DEDUP,
    DAILY_EVENT_COUNTS,
    DAILY_REVENUE,
    DAILY_UNIQUE_USERS,
    CONTENT_ITEM_BREAKDOWN,
    IMPORT_HEALTH,
    DAILY_ATTRIBUTED_CONVERSIONS,
    CAMPAIGN_TOUCHES,
    WEBHOOK_STATS_DEDUP,
)


@dataclasses.dataclass(frozen=True)
class TableSpec:
    name: str
    partition_field: str | None  # None: a small table, not partitioned
    clustering: tuple[str, ...]
    require_partition_filter: bool
    description: str
    # The columns whose values make a row's streaming-insert id (BigQuery drops a row re-sent
    # with the same id, best effort): the row's identity, the same on every retry.
    insert_id_columns: tuple[str, ...] = ("row_id",)

    @property
    def fields(self) -> list[dict[str, Any]]:
        return schema_fields(self.name)

    def beam_schema(self) -> dict[str, Any]:
        """The schema as Beam's ``WriteToBigQuery(schema=...)`` accepts it."""
        return {"fields": self.fields}


TABLES: dict[str, TableSpec] = {
    EVENTS: TableSpec(
        EVENTS,
        "timestamp",
        ("app_id", "name", "user_data_os"),
        True,
        "Imported Segment events as Branch events, one row per event (read through events_dedup).",
        insert_id_columns=("id",),
    ),
    REJECTED_EVENTS: TableSpec(
        REJECTED_EVENTS,
        "rejected_at",
        ("app_id", "reason"),
        False,
        "Dead letters: every rejected message with its raw payload, reason and attributes.",
    ),
    IMPORT_STATS: TableSpec(
        IMPORT_STATS,
        "minute",
        ("app_id", "outcome"),
        False,
        "Per-minute outcome counts per app, platform, reason and event name.",
    ),
    TOUCHES: TableSpec(
        TOUCHES,
        "timestamp",
        ("app_id", "type"),
        False,
        "Touches (Branch link clicks and impressions) the attribution knows, one row per touch (read by id).",
        # A touch's row, and each of its links (source 'link', under the key taught).
        insert_id_columns=("id", "source", "developer_identity", "advertising_id", "device_id", "browser_fingerprint"),
    ),
    EXCHANGE_RATES: TableSpec(
        EXCHANGE_RATES,
        None,
        (),
        False,
        "Dated exchange rates to USD (segment-branch load-rates); events_dedup converts revenue with them.",
    ),
    WEBHOOK_FAILURES: TableSpec(
        WEBHOOK_FAILURES,
        "failed_at",
        ("app_id", "subscription_id"),
        False,
        "Webhook deliveries given up after their retries: the event, the subscription, the last answer, the body.",
    ),
    WEBHOOK_STATS: TableSpec(
        WEBHOOK_STATS,
        "minute",
        ("app_id", "subscription_id"),
        False,
        "Per minute and subscription: webhook deliveries delivered and failed (increments; sum them).",
    ),
    EVENTS_HOURLY: TableSpec(
        EVENTS_HOURLY,
        "hour",
        ("app_id", "topic"),
        False,
        "Hourly events per app, topic, name, platform, origin and currency: counts, revenue, user keys "
        "(segment-branch rollup).",
        insert_id_columns=(),
    ),
    EVENTS_HOURLY_ATTRIBUTION: TableSpec(
        EVENTS_HOURLY_ATTRIBUTION,
        "hour",
        ("app_id", "topic"),
        False,
        "Hourly events per app, topic, name, platform, origin, currency and last attributed touch: counts, "
        "revenue, user keys (segment-branch rollup).",
        insert_id_columns=(),
    ),
    ROLLUP_HOURS: TableSpec(
        ROLLUP_HOURS,
        "hour",
        ("app_id",),
        False,
        "Per app and hour rolled up: the events' row count and latest ingested_at then (change detection).",
        insert_id_columns=(),
    ),
}

# The rollups, smallest first: a reader takes the first that holds every column it needs.
ROLLUPS = (EVENTS_HOURLY, EVENTS_HOURLY_ATTRIBUTION)
# Every rollup's key and measure columns; its other columns are its dimensions (events columns).
ROLLUP_KEYS = ("hour", "app_id", "topic")
# Each measure's SQL over events_dedup rows of one group (rollup job and the Query API's recent
# hours alike). User keys are never blank (domain/identifiers.py), so '' stands for "none" in
# the ARRAY_AGG, which may not hold NULL.
ROLLUP_MEASURES = {
    "total_count": "COUNT(*)",
    "revenue": "SUM(event_data_revenue)",
    "revenue_in_usd": "SUM(event_data_revenue_in_usd)",
    "user_keys": "ARRAY(SELECT k FROM UNNEST(ARRAY_AGG(DISTINCT IFNULL(user_key, ''))) AS k WHERE k != '')",
}


# The Query API stores each query's result in a table of this dataset ("<dataset>_results", its
# tables expire after a day) and reads its pages from there (serving/query_api.py).
RESULTS_DATASET_SUFFIX = "_results"
RESULTS_EXPIRATION_DAYS = 1


def results_dataset(dataset: str) -> str:
    """The dataset holding the Query API's stored results, next to ``dataset``."""
    return f"{dataset}{RESULTS_DATASET_SUFFIX}"


def rollup_dimensions(name: str) -> tuple[str, ...]:
    """The events columns a rollup groups by (its schema file's columns that are not keys or measures)."""
    skip = {*ROLLUP_KEYS, *ROLLUP_MEASURES, "rolled_at"}
    return tuple(field["name"] for field in schema_fields(name) if field["name"] not in skip)


@cache
def _load(name: str) -> str:
    return (_SCHEMA_DIR / f"{name}.json").read_text()


def schema_fields(name: str) -> list[dict[str, Any]]:
    """A fresh copy of a table's fields in BigQuery's JSON schema format."""
    return json.loads(_load(name))


def view_sql(name: str) -> str:
    """A view's query text; ``{dataset}`` stands for the dataset's full name."""
    return (SQL_DIR / f"{name}.sql").read_text()

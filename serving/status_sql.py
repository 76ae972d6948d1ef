"""The status page's queries (pure: SQL text and parameters, no I/O).

Every query is scoped to one app; every value a caller sends is a query parameter. Tables
are named by ``dataset`` (``project.dataset``, the operator's setting, never request data).
They read small tables (rules §11): the dots, counts and chart read ``import_stats``, the
campaigns the attribution rollup; what reads ``events`` reads at most its last day.
"""

from __future__ import annotations

from datetime import datetime

from schemas.tables import (
    EVENTS_DEDUP,
    EVENTS_HOURLY_ATTRIBUTION,
    IMPORT_STATS_DEDUP,
    REJECTED_EVENTS_DEDUP,
    WEBHOOK_FAILURES,
    WEBHOOK_STATS_DEDUP,
)
from serving.queries import Query, scalar

# Identifier columns of `events`, by the name Liveview shows (values are never shown).
IDENTIFIERS = {
    "developer_identity": "user_data_developer_identity",
    "idfa": "user_data_idfa",
    "idfv": "user_data_idfv",
    "aaid": "user_data_aaid",
    "android_id": "user_data_android_id",
    "browser_fingerprint_id": "user_data_browser_fingerprint_id",
    "anonymous_id": "segment_anonymous_id",
}


def _table(dataset: str, name: str) -> str:
    return f"`{dataset}.{name}`"


def outcome_counts(
    dataset: str, app_id: str, *, window_start: datetime, hour_start: datetime, day_start: datetime
) -> Query:
    """Per platform, outcome and reason: counts in the window, the last hour and the last day."""
    return Query(
        f"""
        SELECT platform, outcome, reason,
               SUM(IF(minute >= @window_start, count, 0)) AS in_window,
               SUM(IF(minute >= @hour_start, count, 0)) AS last_hour,
               SUM(IF(minute >= @day_start, count, 0)) AS last_day
        FROM {_table(dataset, IMPORT_STATS_DEDUP)}
        WHERE app_id = @app_id AND minute >= @since
        GROUP BY platform, outcome, reason""",
        [
            scalar("app_id", "STRING", app_id),
            scalar("window_start", "TIMESTAMP", window_start),
            scalar("hour_start", "TIMESTAMP", hour_start),
            scalar("day_start", "TIMESTAMP", day_start),
            scalar("since", "TIMESTAMP", min(window_start, day_start)),
        ],
    )


def last_event_times(dataset: str, app_id: str, since: datetime) -> Query:
    """The latest minute with an import, per platform (since ``since``), from import_stats."""
    return Query(
        f"""
        SELECT platform, MAX(minute) AS last_event_at
        FROM {_table(dataset, IMPORT_STATS_DEDUP)}
        WHERE app_id = @app_id AND minute >= @since AND outcome = 'imported' AND count > 0
        GROUP BY platform""",
        [scalar("app_id", "STRING", app_id), scalar("since", "TIMESTAMP", since)],
    )


def rejected_examples(dataset: str, app_id: str, since: datetime, per_reason: int) -> Query:
    """The latest rejected messages of each reason (their payloads are linked, not shown)."""
    return Query(
        f"""
        SELECT reason, rejected_at, segment_event, segment_message_id, detail, payload_sha256
        FROM {_table(dataset, REJECTED_EVENTS_DEDUP)}
        WHERE app_id = @app_id AND rejected_at >= @since
        QUALIFY ROW_NUMBER() OVER (PARTITION BY reason ORDER BY rejected_at DESC) <= @per_reason""",
        [
            scalar("app_id", "STRING", app_id),
            scalar("since", "TIMESTAMP", since),
            scalar("per_reason", "INT64", per_reason),
        ],
    )


def latest_events(
    dataset: str,
    app_id: str,
    since: datetime,
    limit: int,
    *,
    name: str | None,
    category: str | None,
    platform: str | None,
    origin: str | None = None,
) -> Query:
    """The latest imported events, each once (``events_dedup``; identifiers as flags only,
    and the event's details), newest processed first."""
    filters = [
        (key, sql, value)
        for key, sql, value in (
            ("name", "STRPOS(LOWER(name), LOWER(@name)) > 0", name),
            ("category", "category = @category", category),
            ("platform", "user_data_os = @platform", platform),
            ("origin", "origin = @origin", origin),
        )
        if value
    ]
    flags = ", ".join(f"{column} IS NOT NULL AS {label}" for label, column in IDENTIFIERS.items())
    return Query(
        f"""
        SELECT name, category, timestamp, ingested_at, user_data_os AS platform, warnings, {flags},
               origin, id, segment_message_id, customer_event_alias, event_data_revenue, event_data_currency,
               attributed, last_attributed_touch_data_tilde_campaign, last_attributed_touch_data_tilde_channel,
               user_data_user_agent, TO_JSON_STRING(custom_data) AS custom_data
        FROM {_table(dataset, EVENTS_DEDUP)}
        WHERE app_id = @app_id AND timestamp >= @since {"".join(f" AND {sql}" for _, sql, _ in filters)}
        ORDER BY ingested_at DESC, timestamp DESC
        LIMIT @limit""",
        [
            scalar("app_id", "STRING", app_id),
            scalar("since", "TIMESTAMP", since),
            scalar("limit", "INT64", limit),
            *(scalar(key, "STRING", value) for key, _, value in filters),
        ],
    )


def latest_rejections(dataset: str, app_id: str, since: datetime, limit: int, *, name: str | None) -> Query:
    """The latest rejected messages, newest first."""
    return Query(
        f"""
        SELECT segment_event, rejected_at, reason, payload_sha256
        FROM {_table(dataset, REJECTED_EVENTS_DEDUP)}
        WHERE app_id = @app_id AND rejected_at >= @since
              {"AND STRPOS(LOWER(segment_event), LOWER(@name)) > 0" if name else ""}
        ORDER BY rejected_at DESC
        LIMIT @limit""",
        [
            scalar("app_id", "STRING", app_id),
            scalar("since", "TIMESTAMP", since),
            scalar("limit", "INT64", limit),
            *([scalar("name", "STRING", name)] if name else []),
        ],
    )


def imports_per_minute(dataset: str, app_id: str, start: datetime, end: datetime) -> Query:
    """Imported events per minute and Branch event name, from import_stats (rows written before
    branch_event_name existed hold the Branch name in event_name)."""
    return Query(
        f"""
        SELECT minute, COALESCE(branch_event_name, event_name) AS name, SUM(count) AS count
        FROM {_table(dataset, IMPORT_STATS_DEDUP)}
        WHERE app_id = @app_id AND outcome = 'imported' AND minute >= @start AND minute < @end
        GROUP BY minute, name
        ORDER BY minute, name""",
        [scalar("app_id", "STRING", app_id), scalar("start", "TIMESTAMP", start), scalar("end", "TIMESTAMP", end)],
    )


def rejected_payload(dataset: str, app_id: str, rejected_at: datetime, payload_sha256: str) -> Query:
    """One rejected message of the app, by its rejection time and payload hash."""
    return Query(
        f"""
        SELECT rejected_at, reason, detail, stage, segment_message_id, segment_event,
               payload_string, payload_bytes, payload_size, payload_truncated
        FROM {_table(dataset, REJECTED_EVENTS_DEDUP)}
        WHERE app_id = @app_id AND rejected_at = @at AND payload_sha256 = @sha256
        LIMIT 1""",
        [
            scalar("app_id", "STRING", app_id),
            scalar("at", "TIMESTAMP", rejected_at),
            scalar("sha256", "STRING", payload_sha256),
        ],
    )


def double_tracked(dataset: str, app_id: str, since: datetime) -> Query:
    """Imported events the app also tracks with the Branch SDK (warning double_tracking, rules §4)
    since ``since``, per Branch event name."""
    return Query(
        f"""
        SELECT name, COUNT(*) AS events
        FROM {_table(dataset, EVENTS_DEDUP)}
        WHERE app_id = @app_id AND timestamp >= @since AND 'double_tracking' IN UNNEST(warnings)
        GROUP BY name
        ORDER BY events DESC, name""",
        [scalar("app_id", "STRING", app_id), scalar("since", "TIMESTAMP", since)],
    )


def webhook_health(dataset: str, app_id: str, since: datetime) -> Query:
    """Per webhook subscription since ``since``: deliveries delivered and failed, the last error."""
    return Query(
        f"""
        WITH recent AS (
          SELECT subscription_id, minute, delivered, failed, last_error
          FROM {_table(dataset, WEBHOOK_STATS_DEDUP)}
          WHERE app_id = @app_id AND minute >= @since
        ),
        errors AS (
          SELECT subscription_id, last_error FROM recent WHERE last_error IS NOT NULL
          QUALIFY ROW_NUMBER() OVER (PARTITION BY subscription_id ORDER BY minute DESC) = 1
        )
        SELECT totals.subscription_id, totals.delivered, totals.failed, errors.last_error
        FROM (
          SELECT subscription_id, SUM(delivered) AS delivered, SUM(failed) AS failed
          FROM recent GROUP BY subscription_id
        ) AS totals
        LEFT JOIN errors ON errors.subscription_id = totals.subscription_id""",
        [scalar("app_id", "STRING", app_id), scalar("since", "TIMESTAMP", since)],
    )


def webhook_failures(dataset: str, app_id: str, subscription_id: str, since: datetime, limit: int) -> Query:
    """The latest given-up deliveries of one subscription, newest first."""
    return Query(
        f"""
        SELECT failed_at, event_id, last_status, last_error, attempts, body
        FROM {_table(dataset, WEBHOOK_FAILURES)}
        WHERE app_id = @app_id AND subscription_id = @subscription_id AND failed_at >= @since
        ORDER BY failed_at DESC
        LIMIT @limit""",
        [
            scalar("app_id", "STRING", app_id),
            scalar("subscription_id", "STRING", subscription_id),
            scalar("since", "TIMESTAMP", since),
            scalar("limit", "INT64", limit),
        ],
    )


def _attributed_rows(dataset: str, columns: str, rolled: str) -> str:
    """Rows of the attribution rollup's hours [@rolled_from, @rolled_to), then events_dedup's
    from @recent_from (at most the last day: the hours no rollup run has seen yet)."""
    return f"""
          SELECT {rolled}
          FROM {_table(dataset, EVENTS_HOURLY_ATTRIBUTION)}
          WHERE app_id = @app_id AND hour >= @rolled_from AND hour < @rolled_to
          UNION ALL
          SELECT {columns}
          FROM {_table(dataset, EVENTS_DEDUP)}
          WHERE app_id = @app_id AND timestamp >= @recent_from"""


def _attributed_params(app_id: str, rolled_from: datetime, rolled_to: datetime, recent_from: datetime) -> list:
    return [
        scalar("app_id", "STRING", app_id),
        scalar("rolled_from", "TIMESTAMP", rolled_from),
        scalar("rolled_to", "TIMESTAMP", rolled_to),
        scalar("recent_from", "TIMESTAMP", recent_from),
    ]


def attributed_share(
    dataset: str, app_id: str, rolled_from: datetime, rolled_to: datetime, recent_from: datetime
) -> Query:
    """Imported and attributed events (each event once): rolled-up hours, then recent events."""
    rows = _attributed_rows(dataset, "1 AS events, attributed", "total_count AS events, attributed")
    return Query(
        f"""
        SELECT SUM(events) AS imported, SUM(IF(attributed, events, 0)) AS attributed
        FROM ({rows})""",
        _attributed_params(app_id, rolled_from, rolled_to, recent_from),
    )


def campaign_totals(
    dataset: str, app_id: str, rolled_from: datetime, rolled_to: datetime, recent_from: datetime, limit: int
) -> Query:
    """Attributed conversions and revenue by campaign, channel and currency: rolled-up hours,
    then recent events."""
    touch = (
        "last_attributed_touch_data_tilde_campaign AS campaign, last_attributed_touch_data_tilde_channel AS channel, "
        "event_data_currency AS currency"
    )
    rows = _attributed_rows(
        dataset,
        f"{touch}, 1 AS conversions, event_data_revenue AS revenue, attributed",
        f"{touch}, total_count AS conversions, revenue, attributed",
    )
    return Query(
        f"""
        SELECT campaign, channel, currency, SUM(conversions) AS conversions, SUM(revenue) AS revenue
        FROM ({rows})
        WHERE attributed
        GROUP BY campaign, channel, currency
        ORDER BY conversions DESC, campaign, channel, currency
        LIMIT @limit""",
        [*_attributed_params(app_id, rolled_from, rolled_to, recent_from), scalar("limit", "INT64", limit)],
    )

"""Query API request model and its translation to parameterized BigQuery SQL (pure, no I/O).

Lenient in, exact out (rules §8): every dimension, data source and aggregation Branch
documents is accepted, unknown body fields are ignored, a scalar filter value is a
one-element list, ``"null"`` matches an unset value, a date-only ``end_date`` counts its
whole day, and days are the app's timezone. What the importer has no data for answers
``null`` (a dimension) or no rows (a data source or a cost aggregation), never an error.

The safety rule: SQL text is built only from this module's constants; every value a caller
sends (app, dates, topic, filter values, paging) reaches BigQuery as a query parameter, and
a dimension name a caller sends reaches SQL only as a key of :data:`DIMENSIONS`. Names
outside it never reach SQL at all: they are answered ``null`` in Python.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

from google.cloud import bigquery
from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.event_names import TOPICS
from domain.export_files import EXPORT_TOPICS
from schemas.tables import EVENTS, ROLLUP_MEASURES, ROLLUPS, rollup_dimensions, schema_fields
from serving.queries import Query

MAX_DAYS = 7
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_DIMENSIONS = 64
MAX_FILTERS = 64
MAX_FILTER_VALUES = 100
MAX_NAME_LENGTH = 128
MAX_VALUE_LENGTH = 256
NULL = "null"  # the filter value that matches an unset dimension
EXCLUDE = "!"
TIMESTAMP = "timestamp"  # a dimension and an ordered_by value: the day bucket

# Branch's documented data sources (Query API reference). The importer writes the TOPICS
# among them; the others (clicks, installs, opens, cost, ...) are accepted and answer no rows.
DATA_SOURCES: tuple[str, ...] = (
    *EXPORT_TOPICS,  # Branch's 15 event-ontology topics, the Daily Export's keys too
    "xx_impression",
    "xx_click",
    "cost",
    "skadnetwork_valid_messages",
    "skadnetwork_invalid_messages",
)
SERVED_DATA_SOURCES = frozenset(TOPICS)

# Aggregation -> SQL over one group (None: accepted, no data: no rows). The view's user_key
# is the "user" of unique_count. revenue is in USD unless the request groups by currency.
AGGREGATIONS: dict[str, str | None] = {
    "total_count": "COUNT(*)",
    "unique_count": "COUNT(DISTINCT user_key)",
    "revenue": "SUM(event_data_revenue_in_usd)",
    "cost": None,
    "cost_in_local_currency": None,
}
REVENUE_IN_CURRENCY = "SUM(event_data_revenue)"
# The same aggregations over rollup rows (schemas/tables.py ROLLUP_MEASURES): exact, as the
# user keys are kept, not sketched.
ROLLED_AGGREGATIONS = {
    "total_count": "SUM(total_count)",
    "unique_count": "COUNT(DISTINCT user_key)",
    "revenue": "SUM(revenue_in_usd)",
}
CURRENCY = "event_data_currency"

# Dimensions served from events_dedup: the events columns Branch names (its export and
# Query API names, which ours share), plus the view's USD conversion. The keys are the only
# dimension names that ever reach SQL text.
_BRANCH_PREFIXES = ("user_data_", "event_data_", "last_attributed_touch_")
_BRANCH_NAMES = ("name", "origin", "customer_event_alias", "attributed", "days_from_last_attributed_touch_to_event")
_EVENTS_TYPES = {field["name"]: field["type"] for field in schema_fields(EVENTS) if field.get("mode") != "REPEATED"}
DIMENSION_TYPES: dict[str, str] = {
    **{
        name: kind
        for name, kind in _EVENTS_TYPES.items()
        if (name in _BRANCH_NAMES or name.startswith(_BRANCH_PREFIXES)) and kind not in ("JSON", "RECORD")
    },
    "event_data_revenue_in_usd": "NUMERIC",
    "event_data_exchange_rate": "NUMERIC",
}
DIMENSIONS: dict[str, str] = {name: f"`{name}`" for name in DIMENSION_TYPES}


def _as_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


def _filter_text(value: Any) -> Any:
    """A filter value as Branch compares it: text (``true``/``false`` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return NULL
    return str(value) if isinstance(value, int | float) else value


def _parse_date(value: Any) -> Any:
    """``YYYY-MM-DD`` stays a date (a whole day); anything longer is a date-time."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("must be YYYY-MM-DD or an ISO 8601 date-time") from None
    return value


class AnalyticsRequest(BaseModel):
    """Body of ``POST /v1/query/analytics`` (Branch's field names; credentials checked apart,
    unknown fields such as ``enable_install_recalculation`` or ``app_id`` ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    start_date: date | datetime
    end_date: date | datetime
    data_source: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    aggregation: Literal[tuple(AGGREGATIONS)] = "total_count"  # type: ignore[valid-type]
    dimensions: list[str] = Field(default_factory=list, max_length=MAX_DIMENSIONS)
    filters: dict[str, list[str]] = Field(default_factory=dict, max_length=MAX_FILTERS)
    granularity: Literal["all", "day"] = "all"
    ordered_by: str | None = Field(default=None, max_length=MAX_NAME_LENGTH)
    ordered: Literal["ascending", "descending"] = "descending"
    zero_fill: bool = False

    @field_validator("start_date", "end_date", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> Any:
        return _parse_date(value)

    @field_validator("dimensions", mode="before")
    @classmethod
    def _dimension_list(cls, value: Any) -> Any:
        return _as_list(value) if isinstance(value, str) else value

    @field_validator("dimensions")
    @classmethod
    def _dimension_names(cls, value: list[str]) -> list[str]:
        if any(not 1 <= len(name) <= MAX_NAME_LENGTH for name in value):
            raise ValueError(f"each dimension name needs 1 to {MAX_NAME_LENGTH} characters")
        return list(dict.fromkeys(value))  # a repeated dimension is asked once

    @field_validator("filters", mode="before")
    @classmethod
    def _filter_lists(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {key: [_filter_text(v) for v in _as_list(values)] for key, values in value.items()}

    @field_validator("filters")
    @classmethod
    def _filter_sizes(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, values in value.items():
            if not 1 <= len(key.removeprefix(EXCLUDE)) <= MAX_NAME_LENGTH:
                raise ValueError(f"each filter name needs 1 to {MAX_NAME_LENGTH} characters")
            if not 1 <= len(values) <= MAX_FILTER_VALUES:
                raise ValueError(f"filter {key[:MAX_NAME_LENGTH]!r} needs 1 to {MAX_FILTER_VALUES} values")
            if any(len(v) > MAX_VALUE_LENGTH for v in values):
                raise ValueError(f"filter {key[:MAX_NAME_LENGTH]!r} has a value over {MAX_VALUE_LENGTH} characters")
        return value

    @property
    def daily(self) -> bool:
        """Day buckets: ``granularity: day``, or ``timestamp`` among the dimensions."""
        return self.granularity == "day" or TIMESTAMP in self.dimensions

    @property
    def result_dimensions(self) -> list[str]:
        """The dimensions a result row carries (the day bucket is its ``timestamp``)."""
        return [d for d in self.dimensions if d != TIMESTAMP]

    def window(self, zone: tzinfo) -> Window:
        """The request's time range in ``zone`` (the app's), or ValueError naming the field."""
        return Window.of(self.start_date, self.end_date, zone)


@dataclasses.dataclass(frozen=True)
class Window:
    """A request's range: UTC bounds (end exclusive), its local days and their zone."""

    start: datetime
    end: datetime
    days: tuple[date, ...]
    zone: tzinfo

    @classmethod
    def of(cls, start_value: date | datetime, end_value: date | datetime, zone: tzinfo) -> Window:
        try:
            start = _local(start_value, zone)
            # A date-only end_date is inclusive: through the end of that day (Branch's examples).
            end = _local(end_value + timedelta(days=1) if _is_date(end_value) else end_value, zone)
            start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
        except (OverflowError, ValueError):  # e.g. 9999-12-31 + 1 day, or past datetime's range in UTC
            raise ValueError("end_date: out of range") from None
        if end_utc <= start_utc:
            raise ValueError("end_date: must not be before start_date")
        first, last = start.date(), (end - timedelta(microseconds=1)).date()
        if (last - first).days + 1 > MAX_DAYS:
            raise ValueError(f"end_date: the range covers more than {MAX_DAYS} days")
        days = tuple(first + timedelta(days=n) for n in range((last - first).days + 1))
        return cls(start_utc, end_utc, days, zone)

    def day_start(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.zone)


def _is_date(value: date | datetime) -> bool:
    return not isinstance(value, datetime)


def _local(value: date | datetime, zone: tzinfo) -> datetime:
    """A date means its local midnight; a naive date-time is local; an aware one is kept."""
    if _is_date(value):
        return datetime.combine(value, time(), tzinfo=zone)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)


def served(request: AnalyticsRequest) -> bool:
    """Whether the importer has rows for this data source and aggregation at all."""
    return request.data_source in SERVED_DATA_SOURCES and AGGREGATIONS[request.aggregation] is not None


def _aggregation_sql(request: AnalyticsRequest) -> str:
    if request.aggregation == "revenue" and CURRENCY in request.dimensions:
        return REVENUE_IN_CURRENCY  # grouped by currency: each row's own currency
    sql = AGGREGATIONS[request.aggregation]
    assert sql is not None
    return sql


def _filter_condition(column: str | None, values: list[str], param: str, exclude: bool) -> str:
    """Rows matching one filter (``"null"`` = unset); ``column`` None: a dimension without data."""
    wants_null = NULL in values
    if column is None:
        matches = "TRUE" if wants_null else "FALSE"
    else:
        listed = f"COALESCE(CAST({column} AS STRING) IN UNNEST(@{param}), FALSE)"
        matches = f"({listed} OR {column} IS NULL)" if wants_null else listed
    return f"NOT {matches}" if exclude else matches


def rollup_for(request: AnalyticsRequest, window: Window, covered_since: datetime, boundary: datetime) -> str | None:
    """The smallest rollup that can answer ``request`` (None: read events_dedup).

    It must hold every served dimension the request groups or filters by, the range and each
    of its day buckets must start on a whole UTC hour (rollup rows are UTC hours), and the
    rollups must cover the range's start (``covered_since``) and at least its first hour
    (``boundary``: the hours from it on are read from events_dedup).
    """
    needed = {d for d in request.result_dimensions if d in DIMENSIONS}
    needed |= {key.removeprefix(EXCLUDE) for key in request.filters} & DIMENSIONS.keys()
    edges = [window.start, window.end, *(window.day_start(day) for day in window.days[1:] if request.daily)]
    if not all(moment.astimezone(UTC) == _floor_hour(moment) for moment in edges):
        return None
    if not covered_since <= window.start < boundary:
        return None
    return next((name for name in ROLLUPS if needed <= set(rollup_dimensions(name))), None)


def build_analytics_query(
    request: AnalyticsRequest,
    *,
    app_id: str,
    view: str,
    window: Window,
    cutoff: datetime,
    rollup: str | None = None,
    boundary: datetime | None = None,
) -> Query:
    """Translate a validated, :func:`served` request for ``app_id`` into one query over ``view``.

    Its rows are the whole result, each with the served dimensions, the aggregation, ``day``
    (day buckets), ``_rank`` (the row's place in its bucket) and ``_sizes`` (the rows of each
    bucket, ``-``-joined), ordered by ``_rank`` then ``day``, so a page (``limit`` rows from
    ``after`` in every bucket, as Branch's limit is "per granularity unit") is one run of
    consecutive rows: :func:`page_span`. An empty result is one row with NULL ``_rank``.
    ``cutoff`` (the time of the first page) keeps rows ingested later out.

    ``rollup`` (``project.dataset.<rollup>``, :func:`rollup_for`): the hours before
    ``boundary`` are read from it, the later ones from ``view``. ``view`` and ``rollup`` are
    the operator-configured tables (never request data).
    """
    aggregation = request.aggregation
    params: list[Any] = [
        bigquery.ScalarQueryParameter("app_id", "STRING", app_id),
        bigquery.ScalarQueryParameter("data_source", "STRING", request.data_source),
        bigquery.ScalarQueryParameter("start_ts", "TIMESTAMP", window.start),
        bigquery.ScalarQueryParameter("end_ts", "TIMESTAMP", window.end),
        bigquery.ScalarQueryParameter("cutoff", "TIMESTAMP", cutoff),
        bigquery.ScalarQueryParameter("tz", "STRING", str(window.zone)),
    ]
    conditions = []
    for index, (key, values) in enumerate(sorted(request.filters.items())):
        name = key.removeprefix(EXCLUDE)
        params.append(bigquery.ArrayQueryParameter(f"filter_{index}", "STRING", values))
        conditions.append(_filter_condition(DIMENSIONS.get(name), values, f"filter_{index}", key.startswith(EXCLUDE)))
    scope = ["app_id = @app_id", "topic = @data_source"]
    raw_where = [*scope, "`timestamp` >= @start_ts", "`timestamp` < @end_ts", "ingested_at <= @cutoff", *conditions]

    dims = [d for d in request.result_dimensions if d in DIMENSIONS]
    daily = request.daily
    keys = (["day"] if daily else []) + dims
    group_by = f" GROUP BY {', '.join(keys)}" if keys else ""
    if rollup is None:
        selected = ", ".join(
            (["DATE(`timestamp`, @tz) AS day"] if daily else [])
            + [f"{DIMENSIONS[d]} AS {d}" for d in dims]
            + ["user_key", "event_data_revenue", "event_data_revenue_in_usd"]
        )
        filtered = f"SELECT {selected}\n  FROM `{view}`\n  WHERE {' AND '.join(raw_where)}"
        measure = _aggregation_sql(request)
        grouped = f"SELECT {', '.join(keys + [f'{measure} AS {aggregation}'])} FROM filtered{group_by}"
    else:
        assert boundary is not None
        params.append(bigquery.ScalarQueryParameter("boundary", "TIMESTAMP", boundary))
        columns = [f"{DIMENSIONS[d]} AS {d}" for d in dims]
        rolled = ", ".join((["DATE(hour, @tz) AS day"] if daily else []) + columns + list(ROLLUP_MEASURES))
        rollup_where = [*scope, "hour >= @start_ts", "hour < @end_ts", "hour < @boundary", *conditions]
        filtered = f"SELECT {rolled}\n  FROM `{rollup}`\n  WHERE {' AND '.join(rollup_where)}"
        if boundary < window.end:  # the hours the last rollup run has not seen: from events_dedup
            recent = ", ".join(
                (["DATE(`timestamp`, @tz) AS day"] if daily else [])
                + columns
                + [f"{sql} AS {column}" for column, sql in ROLLUP_MEASURES.items()]
            )
            filtered += (
                f"\n  UNION ALL\n  SELECT {recent}\n  FROM `{view}`\n"
                f"  WHERE {' AND '.join([*raw_where, '`timestamp` >= @boundary'])}"
                + (f"\n  GROUP BY {', '.join(keys)}" if keys else "")
            )
        measure = ROLLED_AGGREGATIONS[aggregation]
        if aggregation == "revenue" and CURRENCY in request.dimensions:
            measure = "SUM(revenue)"  # grouped by currency: each row's own currency
        users = " LEFT JOIN UNNEST(filtered.user_keys) AS user_key" if aggregation == "unique_count" else ""
        grouped = f"SELECT {', '.join(keys + [f'{measure} AS {aggregation}'])} FROM filtered{users}{group_by}"
    if request.zero_fill and (daily or not dims):
        # Every bucket of the range, for each dimension combination that has data.
        buckets = "UNNEST(@days) AS bucket" if daily else "(SELECT 1 AS bucket)"
        if daily:
            params.append(bigquery.ArrayQueryParameter("days", "DATE", list(window.days)))
        combos = f"(SELECT DISTINCT {', '.join(dims)} FROM grouped)" if dims else "(SELECT 1 AS one)"
        matches = " AND ".join(
            (["grouped.day = bucket"] if daily else ["TRUE"])
            + [f"grouped.{d} IS NOT DISTINCT FROM combos.{d}" for d in dims]
        )
        result = (
            f"SELECT {', '.join((['bucket AS day'] if daily else []) + [f'combos.{d}' for d in dims] + [''])}"
            f"COALESCE(grouped.{aggregation}, 0) AS {aggregation} "
            f"FROM {buckets} CROSS JOIN {combos} AS combos LEFT JOIN grouped ON {matches}"
        )
    else:
        # zero_fill false: no zero rows (a revenue group of unconverted events sums to 0).
        result = (
            f"SELECT {', '.join(keys + [''])}COALESCE({aggregation}, 0) AS {aggregation} FROM grouped "
            f"WHERE COALESCE({aggregation}, 0) != 0"
        )

    direction = "ASC" if request.ordered == "ascending" else "DESC"
    by_time = _by_time(request)
    # Within a bucket: the asked key, then the others, so the order is total and pages never overlap.
    first = request.ordered_by if request.ordered_by in (aggregation, *dims) and not by_time else aggregation
    first_direction = "DESC" if by_time else direction
    order = [f"{first} {first_direction}"] + [f"{key} ASC" for key in [aggregation, *dims] if key != first]
    partition = "PARTITION BY day " if daily else ""
    bucket = "day" if daily else "1"
    sql = f"""WITH filtered AS (
  {filtered}
),
grouped AS ({grouped}),
result AS ({result}),
ranked AS (SELECT *, ROW_NUMBER() OVER ({partition}ORDER BY {", ".join(order)}) AS _rank FROM result),
buckets AS (SELECT {bucket} AS bucket, COUNT(*) AS size FROM ranked GROUP BY bucket),
sizes AS (SELECT COALESCE(STRING_AGG(CAST(size AS STRING), '-'), '') AS _sizes FROM buckets)
SELECT ranked.*, sizes._sizes
FROM sizes
LEFT JOIN ranked ON TRUE
ORDER BY ranked._rank, {"ranked.day" if daily else "1"}"""
    return Query(sql, params)


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _by_time(request: AnalyticsRequest) -> bool:
    """Whether rows are ordered by their time (day buckets newest first) rather than a value."""
    return request.ordered_by in (None, TIMESTAMP) if request.daily else request.ordered_by == TIMESTAMP


def parse_sizes(text: str) -> list[int]:
    """The bucket sizes of a stored result (its ``_sizes``)."""
    return [int(size) for size in text.split("-") if size]


def page_span(sizes: list[int], after: int, limit: int) -> tuple[int, int]:
    """(first row, row count) of the page ``after``/``limit`` in a result ordered by rank then bucket."""
    start = sum(min(after, size) for size in sizes)
    return start, sum(min(after + limit, size) for size in sizes) - start


def _json_value(value: Any) -> Any:
    """A BigQuery value as Branch's JSON has it (numbers as numbers, times as ISO text)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool | int | str) or value is None:
        return value
    return float(value)  # Decimal (NUMERIC), float


def branch_timestamp(moment: datetime) -> str:
    """``2017-12-05T00:00:00.000-08:00`` (``...Z`` in UTC), as Branch's results show."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def result_rows(request: AnalyticsRequest, window: Window, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A page of stored rows (rank then bucket order) -> Branch ``results`` entries, bucket by bucket."""
    ranked = [row for row in rows if row["_rank"] is not None]
    if request.daily:
        newest_first = _by_time(request) and request.ordered != "ascending"
        days = sorted({row["day"] for row in ranked}, reverse=newest_first)
        ranked.sort(key=lambda row: (days.index(row["day"]), row["_rank"]))
    results = []
    for row in ranked:
        start = window.day_start(row["day"]) if request.daily else window.start.astimezone(window.zone)
        result = {d: _json_value(row[d]) if d in DIMENSIONS else None for d in request.result_dimensions}
        value = row[request.aggregation]
        result[request.aggregation] = float(value) if request.aggregation == "revenue" else int(value)
        results.append({"timestamp": branch_timestamp(start), "result": result})
    return results

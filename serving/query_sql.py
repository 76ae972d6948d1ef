"""Query API request model and its translation to parameterized BigQuery SQL (pure, no I/O).

Kept apart from the HTTP layer so the translation can be tested exhaustively without a
server. The safety rule: SQL text is built only from this module's constants and the
allow-list below; every value a caller sends (app, dates, topic, filter values, paging)
reaches BigQuery as a query parameter. A request that names anything outside the
allow-list fails validation (HTTP 400) before any SQL exists.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, cast

from google.cloud import bigquery
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.event_names import TOPICS
from serving.queries import Query

MAX_RANGE = timedelta(days=7)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_FILTER_VALUES = 100
MAX_VALUE_LENGTH = 256

DATA_SOURCES = TOPICS

# API dimension name -> events column. Every one is a STRING column, so filter values are
# STRING parameters. The API uses Branch's export names, which our columns share; the map
# still exists so that SQL identifiers come from here and never from the request.
DIMENSIONS: dict[str, str] = {
    name: name
    for name in (
        "name",
        "origin",
        "customer_event_alias",
        "user_data_os",
        "user_data_platform",
        "user_data_environment",
        "user_data_country",
        "user_data_language",
        "user_data_os_version",
        "user_data_app_version",
        "user_data_brand",
        "user_data_model",
        "event_data_currency",
        "event_data_coupon",
        "event_data_affiliation",
    )
}

# Aggregation -> SQL over one group; the view's user_key is the "user" of unique_count.
AGGREGATIONS: dict[str, str] = {
    "total_count": "COUNT(*)",
    "unique_count": "COUNT(DISTINCT user_key)",
    "revenue": "SUM(event_data_revenue)",
}

EXCLUDE = "!"


def _as_utc(value: datetime | date) -> datetime:
    """A date means its UTC midnight; a naive datetime is taken as UTC."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), tzinfo=UTC)
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-01:00: past datetime's range in UTC
        raise ValueError("date out of range") from None


class AnalyticsRequest(BaseModel):
    """Body of ``POST /v1/query/analytics`` (Branch's field names; credentials checked apart)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    branch_key: str
    branch_secret: str
    start_date: datetime | date
    end_date: datetime | date
    data_source: Literal[DATA_SOURCES]  # type: ignore[valid-type]
    aggregation: Literal[tuple(AGGREGATIONS)] = "total_count"  # type: ignore[valid-type]
    dimensions: list[str] = Field(default_factory=list, max_length=len(DIMENSIONS))
    filters: dict[str, list[str]] = Field(default_factory=dict, max_length=2 * len(DIMENSIONS))
    granularity: Literal["all", "day"] = "all"
    ordered_by: str | None = None
    ordered: Literal["ascending", "descending"] = "descending"
    zero_fill: bool = False

    @field_validator("start_date", "end_date")
    @classmethod
    def _utc(cls, value: datetime | date) -> datetime:
        return _as_utc(value)

    @field_validator("dimensions")
    @classmethod
    def _known_dimensions(cls, value: list[str]) -> list[str]:
        unknown = [d for d in value if d not in DIMENSIONS]
        if unknown:
            raise ValueError(f"unknown dimension(s) {unknown}; allowed: {sorted(DIMENSIONS)}")
        if len(set(value)) != len(value):
            raise ValueError("dimensions must not repeat")
        return value

    @field_validator("filters")
    @classmethod
    def _known_filters(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, values in value.items():
            if key.removeprefix(EXCLUDE) not in DIMENSIONS:
                raise ValueError(f"unknown filter {key!r}; allowed: {sorted(DIMENSIONS)}, each optionally prefixed '!'")
            if not 1 <= len(values) <= MAX_FILTER_VALUES:
                raise ValueError(f"filter {key!r} needs 1 to {MAX_FILTER_VALUES} values")
            if any(len(v) > MAX_VALUE_LENGTH for v in values):
                raise ValueError(f"filter {key!r} has a value longer than {MAX_VALUE_LENGTH} characters")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AnalyticsRequest:
        start, end = self.start, self.end
        if end <= start:
            raise ValueError("end_date must be after start_date (end_date is exclusive)")
        if end - start > MAX_RANGE:
            raise ValueError("the range from start_date to end_date must not exceed 7 days")
        if self.ordered_by is not None and self.ordered_by not in (self.aggregation, *self.dimensions):
            raise ValueError("ordered_by must be the aggregation or one of the requested dimensions")
        return self

    @property
    def start(self) -> datetime:
        """``start_date`` as validated: an aware UTC datetime."""
        return cast(datetime, self.start_date)

    @property
    def end(self) -> datetime:
        """``end_date`` as validated: an aware UTC datetime."""
        return cast(datetime, self.end_date)

    def days(self) -> list[date]:
        """The UTC days the range touches (the buckets of granularity ``day``)."""
        first, last = self.start.date(), (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def build_analytics_query(
    request: AnalyticsRequest, *, app_id: str, view: str, limit: int = DEFAULT_LIMIT, after: int = 0
) -> Query:
    """Translate a validated request for ``app_id`` into one query over ``view``.

    Its rows have the dimension names, the aggregation, ``day`` (granularity day),
    ``_position`` (NULL on an empty page) and ``_total``.

    ``view`` is the operator-configured ``project.dataset.events_dedup`` (never request
    data). One statement returns the page and the total number of result rows, so paging
    costs one query: the total comes from a one-row subquery LEFT JOINed to the page.
    """
    params: list[Any] = [
        bigquery.ScalarQueryParameter("app_id", "STRING", app_id),
        bigquery.ScalarQueryParameter("data_source", "STRING", request.data_source),
        bigquery.ScalarQueryParameter("start_ts", "TIMESTAMP", request.start),
        bigquery.ScalarQueryParameter("end_ts", "TIMESTAMP", request.end),
        bigquery.ScalarQueryParameter("page_limit", "INT64", limit),
        bigquery.ScalarQueryParameter("page_after", "INT64", after),
    ]
    where = ["app_id = @app_id", "topic = @data_source", "`timestamp` >= @start_ts", "`timestamp` < @end_ts"]
    for index, (key, values) in enumerate(sorted(request.filters.items())):
        name = f"filter_{index}"
        params.append(bigquery.ArrayQueryParameter(name, "STRING", values))
        column = DIMENSIONS[key.removeprefix(EXCLUDE)]
        # An exclusion keeps rows where the dimension is unknown: they are not the excluded value.
        where.append(
            f"({column} IS NULL OR {column} NOT IN UNNEST(@{name}))"
            if key.startswith(EXCLUDE)
            else f"{column} IN UNNEST(@{name})"
        )

    dims = list(request.dimensions)
    daily = request.granularity == "day"
    keys = (["day"] if daily else []) + dims
    selected = ", ".join(
        (["DATE(`timestamp`) AS day"] if daily else [])
        + [f"{DIMENSIONS[d]} AS {d}" for d in dims]
        + ["user_key", "event_data_revenue"]
    )
    aggregation = request.aggregation
    grouped = f"SELECT {', '.join(keys + [f'{AGGREGATIONS[aggregation]} AS {aggregation}'])} FROM filtered" + (
        f" GROUP BY {', '.join(keys)}" if keys else ""
    )

    if request.zero_fill and daily:
        params.append(bigquery.ArrayQueryParameter("days", "DATE", request.days()))
        combos = f"(SELECT DISTINCT {', '.join(dims)} FROM grouped)" if dims else "(SELECT 1 AS one)"
        matches = " AND ".join(
            ["grouped.day = bucket"] + [f"grouped.{d} IS NOT DISTINCT FROM combos.{d}" for d in dims]
        )
        result = (
            f"SELECT {', '.join(['bucket AS day'] + [f'combos.{d}' for d in dims])}, "
            f"COALESCE(grouped.{aggregation}, 0) AS {aggregation} "
            f"FROM UNNEST(@days) AS bucket CROSS JOIN {combos} AS combos LEFT JOIN grouped ON {matches}"
        )
    else:
        result = (
            f"SELECT {', '.join(keys)}{', ' if keys else ''}COALESCE({aggregation}, 0) AS {aggregation} FROM grouped"
        )

    direction = "ASC" if request.ordered == "ascending" else "DESC"
    ordered_by = request.ordered_by or aggregation
    # Day buckets come first; the remaining keys make the order total, so pages never overlap.
    order = (["day"] if daily else []) + [f"{ordered_by} {direction}"] + [f"{d} ASC" for d in dims if d != ordered_by]
    sql = f"""WITH filtered AS (
  SELECT {selected}
  FROM `{view}`
  WHERE {" AND ".join(where)}
),
grouped AS ({grouped}),
result AS ({result}),
ranked AS (SELECT *, ROW_NUMBER() OVER (ORDER BY {", ".join(order)}) AS _position FROM result)
SELECT ranked.*, total._total
FROM (SELECT COUNT(*) AS _total FROM result) AS total
LEFT JOIN ranked ON ranked._position > @page_after AND ranked._position <= @page_after + @page_limit
ORDER BY ranked._position"""
    return Query(sql, params)


def result_rows(request: AnalyticsRequest, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """BigQuery rows -> (Branch ``results`` entries, total result rows)."""
    total = rows[0]["_total"] if rows else 0
    results = []
    for row in rows:
        if row["_position"] is None:  # the empty page's only row, carrying just the total
            continue
        bucket = _as_utc(row["day"]) if request.granularity == "day" else request.start
        value = row[request.aggregation]
        result = {d: row[d] for d in request.dimensions}
        result[request.aggregation] = float(value) if request.aggregation == "revenue" else int(value)
        results.append(
            {"timestamp": bucket.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "result": result}
        )
    return results, int(total)

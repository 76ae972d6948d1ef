"""The status page reads small tables (rules §11): no status query reads more than the last
day of ``events``, whatever the range asked and whether the rollups are current."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.rollup import Coverage
from domain.config import load_config
from schemas.tables import EVENTS_HOURLY_ATTRIBUTION, IMPORT_STATS_DEDUP
from serving import status_data
from serving.queries import Query

EVENTS_READ = re.compile(r"\.(events|events_dedup)`")
LOWER_BOUND = re.compile(r"`?timestamp`?\s*>=\s*@(\w+)")


class RecordingRunner:
    """Stands in for BigQuery: records every query, answers no rows (one row for the share)."""

    def __init__(self, covered: Coverage | None) -> None:
        self.covered = covered
        self.queries: list[Query] = []

    def rows(self, query: Query) -> list[dict[str, Any]]:
        self.queries.append(query)
        return [{"imported": 0, "attributed": 0}] if "AS imported" in query.sql else []

    def coverage(self, _: str) -> Coverage | None:
        return self.covered


def _status_queries(covered: Coverage | None) -> list[Query]:
    runner = RecordingRunner(covered)
    app = load_config().app_by_id("local-app")
    assert app is not None
    status_data.build_summary(runner, "p.d", app, 60)  # type: ignore[arg-type]
    status_data.build_chart(runner, "p.d", app, 24)  # type: ignore[arg-type]
    status_data.build_liveview(  # type: ignore[arg-type]
        runner, "p.d", app, name=None, category=None, platform=None, outcome="all", hours=7 * 24, limit=50
    )
    status_data.build_campaigns(runner, "p.d", app, 7 * 24)  # type: ignore[arg-type]
    return runner.queries


NOW = datetime.now(UTC)
COVERAGES = {
    "no rollup run": None,
    "current rollups": Coverage(NOW - timedelta(days=30), NOW - timedelta(minutes=10)),
    "rollups three days behind": Coverage(NOW - timedelta(days=30), NOW - timedelta(days=3)),
}


@pytest.mark.parametrize("covered", COVERAGES.values(), ids=COVERAGES.keys())
def test_no_status_query_reads_more_than_the_last_day_of_events(covered):
    queries = _status_queries(covered)
    reading_events = [q for q in queries if EVENTS_READ.search(q.sql)]
    assert reading_events
    earliest = datetime.now(UTC) - status_data.RECENT_EVENTS - timedelta(minutes=1)
    for query in reading_events:
        values = {p.name: p.value for p in query.parameters}
        bounds = [values[name] for name in LOWER_BOUND.findall(query.sql)]
        assert bounds and min(bounds) >= earliest, query.sql


def test_dots_counts_and_chart_read_import_stats_and_campaigns_the_rollup():
    queries = _status_queries(COVERAGES["current rollups"])
    assert sum(IMPORT_STATS_DEDUP in q.sql for q in queries) >= 3  # counts, last import, chart
    campaigns = [q for q in queries if EVENTS_HOURLY_ATTRIBUTION in q.sql]
    assert len(campaigns) == 2  # the share and the campaign rows
    for query in campaigns:
        values = {p.name: p.value for p in query.parameters}
        assert values["rolled_from"] <= NOW - timedelta(days=7) + timedelta(hours=1)
        assert values["rolled_to"] == COVERAGES["current rollups"].boundary

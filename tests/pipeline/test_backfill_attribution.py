"""The backfill's keyed attribution (``AttributeBackfill`` with a ``KeyedPlan``, rules §11)
decides every event as ``map --attribute`` does in event-time order, on a generated corpus with
a very active user, whatever the time bucket of its identity groups; a smaller bucket holds a
smaller group; placeholder ids key nothing."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import apache_beam as beam
import orjson
import pytest
from apache_beam.metrics import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that

from domain.config import load_config
from domain.keyed_replay import KeyedPlan
from domain.mapping import ImportSettings, process_message
from domain.touches import ATTRIBUTION_COLUMNS
from schemas.reasons import METRICS_NAMESPACE
from schemas.tables import EVENTS
from tests.support.attribution import NOW, click, event_time_reference, ios, purchase
from tools.samples import generate_corpus, generate_hot_user
from transforms.backfill_attribution import GROUP_VALUES
from transforms.routing import RouteArchiveChunks

SETTINGS = ImportSettings(load_config(None), max_event_age=None)  # the backfill's
HOT_EVENTS = 1500


def _backfill(lines: list[bytes], bucket: timedelta, expected: dict[str, dict[str, Any]]) -> int:
    """Runs the backfill graph, checks that its attributed rows' columns are ``expected`` (by
    event id); returns the most values any attribution group received."""
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner", "--direct_num_workers=1"]))
    chunks = [lines[i : i + 500] for i in range(0, len(lines), 500)]
    routed = (
        pipeline
        | beam.Create(chunks)
        | RouteArchiveChunks(SETTINGS, timedelta(minutes=10), 8, keyed=KeyedPlan(4, bucket))
    )
    assert_that(routed[EVENTS], lambda rows: _check(_attributed(rows), expected))
    result = pipeline.run()
    result.wait_until_finish()
    found = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE).with_name(GROUP_VALUES))
    return max(d.committed.max for d in found["distributions"])


def _attributed(rows) -> dict[str, dict[str, Any]]:
    decided: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.get("attributed"):
            assert row["id"] not in decided
            decided[row["id"]] = {column: row.get(column) for column in ATTRIBUTION_COLUMNS}
    return decided


def _check(actual, expected) -> None:
    assert actual == expected


@pytest.fixture(scope="module")
def corpus_with_a_hot_user() -> list[bytes]:
    lines = list(generate_corpus(4000, 13, NOW)) + list(generate_hot_user(HOT_EVENTS, 3, NOW, touches=15))
    random.Random(1).shuffle(lines)  # archive order: any
    return lines


@pytest.mark.parametrize("bucket", [timedelta(days=1), timedelta(minutes=10)], ids=["day", "ten_minutes"])
def test_the_keyed_backfill_decides_a_corpus_with_a_hot_user_as_the_event_time_replay(corpus_with_a_hot_user, bucket):
    expected = event_time_reference(corpus_with_a_hot_user, SETTINGS, NOW)
    hot = expected.keys() & _event_ids(generate_hot_user(HOT_EVENTS, 3, NOW, touches=15))
    # Not trivial: the corpus' touches, and the hot user's, some across its platforms (links).
    assert len(expected) > 100 and len(hot) > HOT_EVENTS / 2
    assert {expected[event_id]["attribution_match"] for event_id in hot} >= {
        "developer_identity",
        "browser_fingerprint",
    }
    _backfill(corpus_with_a_hot_user, bucket, expected)


def _event_ids(lines) -> set[str]:
    rows = (process_message(line, None, None, SETTINGS, NOW).row for line in lines)
    return {row["id"] for row in rows if row is not None}


def test_a_smaller_bucket_holds_a_smaller_group_for_a_very_active_user(corpus_with_a_hot_user):
    expected = event_time_reference(corpus_with_a_hot_user, SETTINGS, NOW)
    by_day = _backfill(corpus_with_a_hot_user, timedelta(days=1), expected)
    by_ten_minutes = _backfill(corpus_with_a_hot_user, timedelta(minutes=10), expected)
    assert by_day > HOT_EVENTS / 2  # its user id's day (the hot user's 2 h of events) in one group
    assert by_ten_minutes < HOT_EVENTS / 4


def test_a_placeholder_id_never_links_a_touch_to_a_conversion():
    placeholder = "unknown"
    docs = [
        click(NOW - timedelta(hours=3), campaign="placeholder", user_id=placeholder),
        purchase(NOW - timedelta(hours=2), user_id=placeholder, context=ios(id="device-1")),
        click(NOW - timedelta(hours=3), campaign="real", user_id="u1"),
        purchase(NOW - timedelta(hours=2), user_id="u1"),
    ]
    lines = [orjson.dumps(doc) for doc in docs]
    expected = event_time_reference(lines, SETTINGS, NOW)
    assert [columns["last_attributed_touch_data_tilde_campaign"] for columns in expected.values()] == ["real"]
    _backfill(lines, timedelta(days=1), expected)

"""AttributeEvents (the four keyed stages) on a stream decides exactly as the in-memory state
of ``map --attribute`` does on the same ordered input; state per key expires; repeats of a
message are never attributed twice; apps never see each other's touches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import apache_beam as beam
import orjson
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream as _TestStream
from apache_beam.testing.util import assert_that
from apache_beam.transforms.window import TimestampedValue

from beam_jobs.cli import map_message
from domain.attribution import AttributionState
from domain.config import load_config
from domain.keyed_replay import KeyedPlan
from domain.mapping import ImportSettings, process_message
from domain.timestamps import micros_of, parse_timestamp
from domain.touches import ATTRIBUTION_COLUMNS, Windows
from schemas.tables import EVENTS, TOUCHES
from tests.support.attribution import CONVERSION_AT, IDFA, IDFV, NOW, click, ios, message, purchase, web
from tests.support.mapping import MAPPING_WEB_KEY
from transforms.backfill_attribution import touches_usable_by
from transforms.routing import RouteArchiveChunks, RouteSegmentMessages
from transforms.streaming_attribution import touches_usable_from

SETTINGS = ImportSettings(load_config(), max_event_age=None)


def reference(docs: list[tuple[dict, dict | None]]) -> dict[str, dict[str, Any]]:
    """Each imported event's attribution columns, by message id, from the in-memory state."""
    state, decided = AttributionState(), {}
    for doc, attributes in docs:
        result, _ = map_message(orjson.dumps(doc), attributes, SETTINGS, NOW, attribution=state)
        if result.row is not None:
            decided[doc["messageId"]] = {column: result.row[column] for column in ATTRIBUTION_COLUMNS}
    return decided


def stream(docs: list[tuple[dict, dict | None]]) -> _TestStream:
    """One message at a time, in order, each published a second after the previous one (the
    watermark moves between them, so every stage sees them in that order)."""
    test_stream = _TestStream()
    for index, (doc, attributes) in enumerate(docs):
        published = NOW - timedelta(minutes=30) + timedelta(seconds=index)
        pubsub = PubsubMessage(orjson.dumps(doc), attributes or {}, publish_time=published)
        test_stream = test_stream.add_elements([TimestampedValue(pubsub, published.timestamp())])
        test_stream = test_stream.advance_watermark_to(published.timestamp() + 0.5)
    return test_stream.advance_watermark_to_infinity()


def run_pipeline(docs: list[tuple[dict, dict | None]]):
    options = PipelineOptions(["--runner=BundleBasedDirectRunner"])
    options.view_as(StandardOptions).streaming = True
    pipeline = beam.Pipeline(options=options)
    routed = pipeline | stream(docs) | RouteSegmentMessages(SETTINGS, timedelta(minutes=10))
    return pipeline, routed[EVENTS]


def check_parity(docs: list[tuple[dict, dict | None]]) -> None:
    expected = reference(docs)
    assert any(columns["attributed"] for columns in expected.values())  # the scenario is not trivial
    pipeline, events = run_pipeline(docs)

    def same_as_the_reference(rows) -> None:
        # (an unattributed row lacks the columns besides `attributed`: NULL in BigQuery)
        actual = {
            row["segment_message_id"]: {column: row.get(column) for column in ATTRIBUTION_COLUMNS} for row in rows
        }
        assert actual == expected

    assert_that(events, same_as_the_reference)
    pipeline.run().wait_until_finish()


def test_the_stages_decide_as_the_reference_across_platforms_classes_and_windows():
    context, fingerprint = web()
    docs = [
        click(NOW - timedelta(days=3), campaign="web_ad", context=context, properties=fingerprint),
        click(NOW - timedelta(days=2), campaign="app_ad", context=ios(advertisingId=IDFA)),
        message("Login", NOW - timedelta(days=2, hours=20), user_id="u1", context=context, properties=fingerprint),
        purchase(NOW - timedelta(days=1), user_id="u1", context=ios(advertisingId=IDFA, id=IDFV)),
        purchase(CONVERSION_AT, context=ios(id=IDFV)),
        click(NOW - timedelta(hours=2), campaign="late_impression", impression=True, user_id="u2"),
        purchase(CONVERSION_AT, user_id="u2"),
        purchase(CONVERSION_AT, user_id="u3"),
        click(NOW - timedelta(days=9), campaign="too_old", user_id="u4"),
        purchase(CONVERSION_AT, user_id="u4"),
        purchase(CONVERSION_AT - timedelta(hours=3), user_id="u5"),
        click(CONVERSION_AT - timedelta(hours=4), campaign="arrived_after", user_id="u5"),  # after its purchase
    ]
    check_parity([(doc, None) for doc in docs])


def test_a_repeat_of_a_conversion_is_dropped_before_attribution_and_apps_do_not_mix():
    context, fingerprint = web()
    touch = click(NOW - timedelta(days=1), user_id="u1", context=context, properties=fingerprint)
    conversion = purchase(user_id="u1", context=context, properties=fingerprint)
    docs = [(touch, None), (conversion, {"branch_key": MAPPING_WEB_KEY}), (conversion | {"messageId": "m-app"}, None),
            (conversion | {"messageId": "m-app"}, None)]  # fmt: skip
    check_parity(docs[:3])
    pipeline, events = run_pipeline(docs)
    assert_that(events | beam.Map(lambda row: (row["app_id"], row["attributed"])),
                lambda rows: _check(sorted(rows), [("local-app", True), ("local-web-app", False)]))  # fmt: skip
    pipeline.run().wait_until_finish()


def _check(actual, expected) -> None:
    assert actual == expected


def _scenario() -> list[dict]:
    context, fingerprint = web()
    return [
        click(NOW - timedelta(days=3), campaign="web_ad", context=context, properties=fingerprint),
        click(NOW - timedelta(days=2), campaign="app_ad", context=ios(advertisingId=IDFA)),
        message("Login", NOW - timedelta(days=2, hours=20), user_id="u1", context=context, properties=fingerprint),
        purchase(NOW - timedelta(days=1), user_id="u1", context=ios(advertisingId=IDFA, id=IDFV)),
        purchase(CONVERSION_AT, context=ios(id=IDFV)),
        click(NOW - timedelta(hours=2), campaign="late_impression", impression=True, user_id="u2"),
        purchase(CONVERSION_AT, user_id="u2"),
        purchase(CONVERSION_AT, user_id="u3"),
        purchase(CONVERSION_AT - timedelta(hours=3), user_id="u5"),
        click(CONVERSION_AT - timedelta(hours=4), campaign="before_by_event_time", user_id="u5"),
    ]


def _in_event_time_order(docs: list[dict]) -> list[dict]:
    """As the backfill replays them: by event time, a touch before a conversion of the same time."""
    return sorted(docs, key=lambda doc: (doc["timestamp"], doc["event"] not in ("Deep Link Opened",)))


def _backfill(docs: list[dict]):
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner", "--direct_num_workers=1"]))
    lines = [orjson.dumps(doc) for doc in docs]
    routed = (pipeline | beam.Create([lines[:4], lines[4:]])
              | RouteArchiveChunks(SETTINGS, timedelta(minutes=10), 4))  # fmt: skip
    return pipeline, routed[EVENTS]


def _columns(rows) -> dict[str, dict[str, Any]]:
    return {row["segment_message_id"]: {column: row.get(column) for column in ATTRIBUTION_COLUMNS} for row in rows}


def test_the_backfill_decides_in_event_time_order_whatever_the_archive_order():
    docs = _scenario()
    expected = reference([(doc, None) for doc in _in_event_time_order(docs)])
    # u5's click came after its purchase in the stream, but is earlier in event time.
    assert expected[docs[8]["messageId"]]["last_attributed_touch_data_tilde_campaign"] == "before_by_event_time"
    pipeline, events = _backfill(list(reversed(docs)))
    assert_that(events, lambda rows: _check(_columns(rows), expected))
    pipeline.run().wait_until_finish()


def test_a_stream_in_event_time_order_and_its_backfill_attribute_alike():
    # Both are held to the same in-memory replay of that order, so to each other.
    docs = [(doc, None) for doc in _in_event_time_order(_scenario())]
    expected = reference(docs)
    assert any(columns["attributed"] for columns in expected.values())
    for pipeline, events in (run_pipeline(docs), _backfill([doc for doc, _ in docs])):
        assert_that(events, lambda rows: _check(_columns(rows), expected))
        pipeline.run().wait_until_finish()


class _InMemoryTouchesTable(beam.PTransform):
    """Stands in for ``ReadTouchesTable`` (whose query runs on the emulator in
    tests/e2e/test_touches_table_attribution.py): for each app asked, its rows of ``rows``. The
    time range asked is not applied here: the stages' own windows must leave old touches out."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self._rows = rows

    def expand(self, wanted):
        rows = self._rows
        return wanted | beam.FlatMap(lambda item: [row for row in rows if row["app_id"] == item[0]])


def _touch_rows(docs: list[dict]) -> list[dict[str, Any]]:
    """The ``touches`` rows of the touch messages among ``docs``, as a job wrote them."""
    touches = [process_message(orjson.dumps(doc), None, None, SETTINGS, NOW).touch for doc in docs]
    return [touch.row(NOW) for touch in touches if touch is not None]


def test_touches_read_from_the_table_attribute_as_if_they_had_arrived_first():
    docs = _scenario()
    table = _touch_rows(docs[:2])  # the first two clicks are only in the table ...
    assert len(table) == 2
    rest = [docs[2], docs[1], *docs[3:]]  # ... and the second also comes again (the same touch, counted once)
    too_old = click(NOW - timedelta(days=9), campaign="too_old_in_table", user_id="u3")
    table += _touch_rows([too_old])

    expected = reference([(doc, None) for doc in docs])
    assert expected[docs[3]["messageId"]]["last_attributed_touch_data_tilde_campaign"] == "app_ad"
    options = PipelineOptions(["--runner=BundleBasedDirectRunner"])
    options.view_as(StandardOptions).streaming = True
    pipeline = beam.Pipeline(options=options)
    routed = (
        pipeline
        | stream([(doc, None) for doc in rest])
        | RouteSegmentMessages(SETTINGS, timedelta(minutes=10), read_touches=_InMemoryTouchesTable(table))
    )
    assert_that(routed[EVENTS], lambda rows: _check(_columns(rows), expected))
    # The table's touches are read, not written again: the stream's touches are (and links).
    written = sorted(row["id"] for row in _touch_rows(rest))
    assert len(written) == 3
    assert_that(routed[TOUCHES], lambda rows: _check(sorted(row["id"] for row in rows if row["source"] != "link"),
                                                     written), label="OnlyTheStreamTouchesAreWritten")  # fmt: skip
    pipeline.run().wait_until_finish()

    expected = reference([(doc, None) for doc in _in_event_time_order(docs)])
    lines = [orjson.dumps(doc) for doc in reversed(rest)]
    for keyed in (None, KeyedPlan(2, timedelta(hours=6))):  # the backfill's two plans
        pipeline = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner", "--direct_num_workers=1"]))
        routed = (pipeline | beam.Create([lines[:4], lines[4:]])
                  | RouteArchiveChunks(SETTINGS, timedelta(minutes=10), 4, keyed=keyed,
                                       read_touches=_InMemoryTouchesTable(table)))  # fmt: skip
        assert_that(routed[EVENTS], lambda rows: _check(_columns(rows), expected))
        pipeline.run().wait_until_finish()


def test_the_jobs_read_the_touches_their_conversions_could_use():
    windows = {"a": Windows.of_days(7, 1), "off": Windows.of_days(0, 0), "c": Windows.of_days(0, 2)}
    # Streaming, from its start: the longest window plus the oldest accepted event age, a day ahead.
    assert list(touches_usable_from(NOW, windows, timedelta(hours=24))) == [
        ("a", (micros_of(NOW - timedelta(days=8)), micros_of(NOW + timedelta(days=1)))),
        ("c", (micros_of(NOW - timedelta(days=3)), micros_of(NOW + timedelta(days=1)))),
    ]
    # The backfill: from the longest window before its earliest conversion to its latest one.
    first, last = micros_of(NOW - timedelta(days=30)), micros_of(NOW)
    assert touches_usable_by(("a", (first, last)), windows) == ("a", (micros_of(NOW - timedelta(days=37)), last))


def _metrics(result) -> dict[str, Any]:
    """The job's counters and distributions. (Beam 2.77's DirectRunner keeps, in streaming, the
    metrics of a step's first bundle only: the tests below send their messages as one bundle.)"""
    from apache_beam.metrics import MetricsFilter

    from schemas.reasons import METRICS_NAMESPACE

    found = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    values: dict[str, Any] = {}
    for counter in found["counters"]:
        values[counter.key.metric.name] = values.get(counter.key.metric.name, 0) + counter.committed
    for distribution in found["distributions"]:
        values[distribution.key.metric.name] = distribution.committed
    return values


def _one_bundle(docs: list[dict], settings: ImportSettings = SETTINGS):
    """The messages as one bundle, each published at its event time, then the watermark to the end."""
    messages = []
    for doc in docs:
        published = parse_timestamp(doc["timestamp"], "timestamp")
        messages.append(TimestampedValue(PubsubMessage(orjson.dumps(doc), {}, publish_time=published),
                                         published.timestamp()))  # fmt: skip
    options = PipelineOptions(["--runner=BundleBasedDirectRunner"])
    options.view_as(StandardOptions).streaming = True
    pipeline = beam.Pipeline(options=options)
    test_stream = _TestStream().add_elements(messages).advance_watermark_to_infinity()
    return pipeline, pipeline | test_stream | RouteSegmentMessages(settings, timedelta(minutes=10))


def test_a_hot_key_holds_at_most_its_bound_and_decides_as_the_bounded_reference():
    """rules §11: 100 clicks of one user are at most 64 entries in its key's state (the latest,
    36 cut and counted), and its purchases are decided as the in-memory state, bounded alike."""
    clicks = [click(NOW - timedelta(days=6, hours=-n), campaign=f"c{n}", user_id="hot") for n in range(100)]
    # The second purchase's best click is the 31st: cut by the bound, in both forms.
    docs = [*clicks, purchase(user_id="hot"), purchase(NOW - timedelta(days=6, hours=-30.5), user_id="hot")]
    expected = reference([(doc, None) for doc in docs])
    assert sorted(map(str, (c["last_attributed_touch_data_tilde_campaign"] for c in expected.values()))) == [
        "None",
        "c99",
    ]
    pipeline, routed = _one_bundle(docs)
    assert_that(routed[EVENTS], lambda rows: _check(_columns(rows), expected))
    result = pipeline.run()
    result.wait_until_finish()
    metrics = _metrics(result)
    assert metrics["attribution_cut"] == 36
    assert metrics["attribution_key_entries"].max == 64


def test_a_key_touched_every_week_forgets_what_no_conversion_can_use():
    """Every write prunes a key's touches to the window plus max_event_age (rules §11): ten weekly
    clicks of one user never hold more than two at a time, however long the key lives."""
    settings = ImportSettings(load_config(), max_event_age=timedelta(hours=1))
    docs = [click(NOW - timedelta(weeks=10 - n), campaign=f"week{n}", user_id="weekly") for n in range(10)]
    pipeline, _ = _one_bundle([*docs, purchase(NOW - timedelta(minutes=5), user_id="weekly")], settings)
    result = pipeline.run()
    result.wait_until_finish()
    metrics = _metrics(result)
    assert metrics["attribution_key_entries"].max == 2
    assert metrics["attribution_expired"] == 8

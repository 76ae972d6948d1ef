"""RouteSegmentMessages, the import without I/O, on a stream (TestStream): every message
ends as exactly one outcome in the tables' rows, and a bug fails one message, not the job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import apache_beam as beam
import orjson
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream as _TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from domain.config import load_config
from schemas.tables import EVENTS, IMPORT_STATS, REJECTED_EVENTS, TOUCHES
from tests.support.mapping import FAULT_ATTRIBUTE, FaultInjectingSettings
from transforms.routing import RouteSegmentMessages

START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def _message(seconds: int, message_id: str, *, attributes: dict | None = None, **fields) -> TimestampedValue:
    """A Pub/Sub message published ``seconds`` after START (its element time)."""
    published = START + timedelta(seconds=seconds)
    event = {
        "type": "track",
        "event": "Order Completed",
        "messageId": message_id,
        "userId": "u-1",
        "timestamp": published.isoformat(),
        **fields,
    }
    return TimestampedValue(
        PubsubMessage(orjson.dumps(event), attributes or {}, publish_time=published), published.timestamp()
    )


def _route(stream: _TestStream):
    options = PipelineOptions(["--runner=BundleBasedDirectRunner"])
    options.view_as(StandardOptions).streaming = True
    pipeline = beam.Pipeline(options=options)
    settings = FaultInjectingSettings(load_config(), max_event_age=None)
    routed = pipeline | stream | RouteSegmentMessages(settings, timedelta(minutes=10))
    return pipeline, routed


def _outcome_totals(rows) -> dict[tuple[str, str | None], int]:
    totals: dict[tuple[str, str | None], int] = {}
    for row in rows:
        key = (row["outcome"], row["reason"])
        totals[key] = totals.get(key, 0) + row["count"]
    return {key: count for key, count in totals.items() if count}


def test_every_message_gets_one_outcome_and_a_repeat_across_a_minute_is_a_duplicate():
    stream = (
        _TestStream()
        .add_elements([_message(50, "m-1"), _message(55, "m-2", event="Product Viewed")])
        .advance_watermark_to((START + timedelta(seconds=61)).timestamp())
        .add_elements(
            [
                _message(70, "m-1"),  # the repeat, in the next minute
                _message(75, "m-3", type="identify"),
                _message(80, "m-4", userId=None),
            ]
        )
        .advance_watermark_to_infinity()
    )
    pipeline, routed = _route(stream)
    assert_that(
        routed[EVENTS] | beam.Map(lambda row: (row["segment_message_id"], row["name"])),
        equal_to([("m-1", "PURCHASE"), ("m-2", "VIEW_ITEM")]),
        label="Events",
    )
    assert_that(
        routed[REJECTED_EVENTS] | beam.Map(lambda row: (row["segment_message_id"], row["reason"])),
        equal_to([("m-4", "no_identifier")]),
        label="DeadLetters",
    )
    assert_that(
        routed[IMPORT_STATS],
        lambda rows: _check_totals(
            rows,
            {
                ("imported", None): 2,
                ("duplicate", None): 1,
                ("skipped", "unsupported_call_type"): 1,
                ("rejected", "no_identifier"): 1,
            },
        ),
        label="ImportStats",
    )
    pipeline.run().wait_until_finish()


def _check_totals(rows, expected) -> None:
    assert _outcome_totals(rows) == expected


def test_a_message_that_makes_the_mapping_raise_is_an_internal_error_dead_letter():
    poison = _message(10, "m-poison", attributes={FAULT_ATTRIBUTE: "boom"})
    stream = (
        _TestStream()
        .add_elements([_message(5, "m-before"), poison, _message(15, "m-after")])
        .advance_watermark_to_infinity()
    )
    pipeline, routed = _route(stream)

    def one_internal_error(rows) -> None:
        [row] = rows
        assert (row["reason"], row["stage"]) == ("internal_error", "internal")
        assert row["detail"].startswith("RuntimeError: injected fault: boom (at ")
        assert row["payload_string"] == poison.value.data.decode()  # the raw payload, as it arrived
        assert row["attributes"] == [{"key": FAULT_ATTRIBUTE, "value": "boom"}]

    assert_that(routed[REJECTED_EVENTS], one_internal_error, label="DeadLetter")
    # The messages around it are imported: the pipeline neither stopped nor retried.
    assert_that(
        routed[EVENTS] | beam.Map(lambda row: row["segment_message_id"]),
        equal_to(["m-before", "m-after"]),
        label="Events",
    )
    assert_that(
        routed[IMPORT_STATS],
        lambda rows: _check_totals(rows, {("imported", None): 2, ("rejected", "internal_error"): 1}),
        label="ImportStats",
    )
    pipeline.run().wait_until_finish()


def test_a_touch_source_is_skipped_and_its_touch_written_as_a_touches_row():
    touch = _message(20, "m-touch", event="Deep Link Opened",
                     properties={"url": "https://x.app.link/?~campaign=spring&~channel=email"})  # fmt: skip
    no_identity = _message(25, "m-anon", event="Install Attributed", userId=None, anonymousId="a-1")
    stream = _TestStream().add_elements([touch, no_identity, _message(30, "m-1")]).advance_watermark_to_infinity()
    pipeline, routed = _route(stream)
    assert_that(
        routed[TOUCHES]
        | beam.Map(
            lambda row: (
                row["id"] is not None,
                row["developer_identity"],
                row["last_attributed_touch_data_tilde_campaign"],
            )
        ),  # fmt: skip
        equal_to([(True, "u-1", "spring")]),
        label="Touches",
    )
    assert_that(routed[IMPORT_STATS], lambda rows: _check_totals(rows, {
        ("imported", None): 1, ("skipped", "not_imported_event"): 2}), label="ImportStats")  # fmt: skip
    pipeline.run().wait_until_finish()


def test_a_backlog_read_days_after_publish_keeps_on_time_events():
    """rules §10: stale_event is measured from the publish time, so messages Pub/Sub got three
    days before the pipeline reads them (an outage's backlog) are imported when they were on
    time then; one that was already a day old when published is still stale."""
    published = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)

    def backlog(message_id: str, age: timedelta) -> TimestampedValue:
        event = {
            "type": "track",
            "event": "Order Completed",
            "messageId": message_id,
            "userId": "u-1",
            "timestamp": (published - age).isoformat(),
        }
        return TimestampedValue(PubsubMessage(orjson.dumps(event), {}, publish_time=published), published.timestamp())

    stream = (
        _TestStream()
        .add_elements(
            [
                backlog("b-1", timedelta(minutes=5)),
                backlog("b-2", timedelta(hours=23)),
                backlog("b-3", timedelta(hours=25)),
            ]
        )
        .advance_watermark_to_infinity()
    )
    options = PipelineOptions(["--runner=BundleBasedDirectRunner"])
    options.view_as(StandardOptions).streaming = True
    pipeline = beam.Pipeline(options=options)
    settings = FaultInjectingSettings(load_config(), max_event_age=timedelta(hours=24))
    routed = pipeline | stream | RouteSegmentMessages(settings, timedelta(minutes=10))
    assert_that(
        routed[EVENTS] | beam.Map(lambda row: row["segment_message_id"]), equal_to(["b-1", "b-2"]), label="Events"
    )
    assert_that(
        routed[REJECTED_EVENTS] | beam.Map(lambda row: (row["segment_message_id"], row["reason"])),
        equal_to([("b-3", "stale_event")]),
        label="Stale",
    )
    pipeline.run().wait_until_finish()


def test_double_tracked_events_and_placeholder_ids_are_counted_in_beam_counters():
    """rules §4: an imported event the app also tracks with the Branch SDK is counted, not only
    warned; so is every message whose placeholder userId was dropped (imported or rejected)."""
    from apache_beam.metrics import MetricsFilter

    from schemas.reasons import METRICS_NAMESPACE

    stream = (
        _TestStream()
        .add_elements(
            [
                _message(5, "t-1", event="COMPLETE_TUTORIAL"),
                _message(6, "t-2"),
                _message(7, "t-3", event="COMPLETE_TUTORIAL"),
                _message(8, "p-1", userId="guest"),  # rejected no_identifier
                _message(9, "p-2", userId="null", context={"device": {"type": "android", "id": "a-1"}}),
            ]
        )
        .advance_watermark_to_infinity()
    )
    pipeline, routed = _route(stream)
    assert_that(
        routed[EVENTS] | beam.Map(lambda row: (row["name"], row["user_data_developer_identity"])),
        equal_to([("COMPLETE_TUTORIAL", "u-1"), ("PURCHASE", "u-1"), ("COMPLETE_TUTORIAL", "u-1"), ("PURCHASE", None)]),
    )
    result = pipeline.run()
    result.wait_until_finish()

    def committed(name: str) -> int:
        counters = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE).with_name(name))
        return sum(c.committed for c in counters["counters"])

    assert committed("double_tracking") == 2
    assert committed("placeholder_identity") == 2


def test_the_raw_message_skips_dedup_and_joins_its_row_where_it_is_decided():
    """The raw message (a refused row's dead letter needs it) does not ride dedup's shuffle: the
    mapping sends it apart, and the events rows leave with it, the first copy's."""
    import base64

    from domain.dead_letters import RAW_FIELDS, RAW_PAYLOAD
    from transforms.map_messages import MapSegmentMessages
    from transforms.tags import RAW

    first, repeat = _message(5, "r-1"), _message(6, "r-1", properties={"note": "a repeat"})
    stream = _TestStream().add_elements([first, repeat, _message(7, "r-2")]).advance_watermark_to_infinity()
    pipeline, routed = _route(stream)
    assert_that(
        routed[EVENTS] | beam.Map(lambda row: (row["segment_message_id"], base64.b64decode(row[RAW_PAYLOAD]))),
        equal_to([("r-1", first.value.data), ("r-2", _message(7, "r-2").value.data)]),
    )
    pipeline.run().wait_until_finish()

    options = PipelineOptions(["--runner=BundleBasedDirectRunner"])
    options.view_as(StandardOptions).streaming = True
    pipeline = beam.Pipeline(options=options)
    outputs = (pipeline | _TestStream().add_elements([first]).advance_watermark_to_infinity()
               | MapSegmentMessages(FaultInjectingSettings(load_config(), max_event_age=None)))  # fmt: skip
    assert_that(outputs.mapped | beam.Map(lambda kv: sorted(set(kv[1][1]) & set(RAW_FIELDS))),
                equal_to([[]]), label="NoRawIntoDedup")  # fmt: skip
    assert_that(outputs[RAW] | beam.MapTuple(lambda event_id, fields: sorted(fields)),
                equal_to([sorted(RAW_FIELDS)]), label="RawApart")  # fmt: skip
    pipeline.run().wait_until_finish()

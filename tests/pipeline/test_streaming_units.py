"""TestStream tests of the streaming stages: dedup across windows, late data, minute stats."""

from __future__ import annotations

from datetime import timedelta

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream as _TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from domain.dedup import split_copies
from domain.import_stats import StatKey
from transforms.counting import CountOutcomesPerMinute
from transforms.dedup import DropDuplicates
from transforms.tags import DUPLICATE

SECOND = 1_000_000  # micros


def _streaming_pipeline() -> beam.Pipeline:
    options = PipelineOptions(["--runner=BundleBasedDirectRunner"])
    options.view_as(StandardOptions).streaming = True
    return beam.Pipeline(options=options)


def _copy(key: str, seconds: float, label: str):
    """A keyed copy as DropDuplicates takes it: (key, (time_micros, value)) at that time."""
    return TimestampedValue((key, (int(seconds * SECOND), label)), seconds)


def _run_dedup(stream: _TestStream, window: timedelta):
    pipeline = _streaming_pipeline()
    result = pipeline | stream | DropDuplicates(window)
    return pipeline, result


def test_repeat_across_a_minute_boundary_is_a_duplicate():
    stream = (
        _TestStream()
        .add_elements([_copy("a", 50, "a@50"), _copy("b", 55, "b@55")])
        .advance_watermark_to(61)
        .add_elements([_copy("a", 70, "a@70"), _copy("b", 300, "b@300")])
        .advance_watermark_to_infinity()
    )
    pipeline, result = _run_dedup(stream, timedelta(minutes=10))
    assert_that(result.unique, equal_to(["a@50", "b@55"]), label="unique")
    assert_that(result[DUPLICATE], equal_to(["a@70", "b@300"]), label="duplicates")
    pipeline.run().wait_until_finish()


def test_repeat_after_the_window_is_imported_again():
    stream = (
        _TestStream()
        .add_elements([_copy("a", 0, "a@0")])
        .advance_watermark_to(100)
        .add_elements([_copy("a", 90, "a@90")])
        .advance_watermark_to(700)
        .add_elements([_copy("a", 700, "a@700")])
        .advance_watermark_to_infinity()
    )
    pipeline, result = _run_dedup(stream, timedelta(minutes=10))
    assert_that(result.unique, equal_to(["a@0", "a@700"]), label="unique")
    assert_that(result[DUPLICATE], equal_to(["a@90"]), label="duplicates")
    pipeline.run().wait_until_finish()


def test_late_copy_within_the_window_is_still_a_duplicate_until_the_state_expires():
    # The watermark passed the copy's time (it is late), but not the first copy's expiry.
    stream = (
        _TestStream()
        .add_elements([_copy("a", 100, "a@100")])
        .advance_watermark_to(400)
        .add_elements([_copy("a", 150, "late a@150")])
        .advance_watermark_to_infinity()
    )
    pipeline, result = _run_dedup(stream, timedelta(minutes=10))
    assert_that(result.unique, equal_to(["a@100"]), label="unique")
    assert_that(result[DUPLICATE], equal_to(["late a@150"]), label="duplicates")
    pipeline.run().wait_until_finish()


@pytest.mark.parametrize(
    ("copies", "kept", "duplicates"),
    [
        ([(0, "x"), (5, "y")], ["x"], ["y"]),
        ([(5, "y"), (0, "x")], ["x"], ["y"]),  # order of arrival does not matter in batch
        ([(0, "x"), (10, "y"), (12, "z")], ["x", "y"], ["z"]),
        ([(0, "x"), (9, "y"), (15, "z")], ["x", "z"], ["y"]),  # the window runs from the last kept copy
    ],
)
def test_batch_rule_keeps_a_copy_per_window_from_the_last_kept(copies, kept, duplicates):
    assert split_copies([(t * SECOND, v) for t, v in copies], 10 * SECOND) == (kept, duplicates)


def _stat(minute: str, outcome: str, reason: str | None = None) -> StatKey:
    return StatKey(f"2026-11-28T12:{minute}:00.000000Z", "app", "IOS", outcome, reason, "PURCHASE")


def _summed(rows: list[dict]) -> dict[tuple, int]:
    totals: dict[tuple, int] = {}
    for row in rows:
        key = (row["minute"], row["outcome"], row["reason"])
        totals[key] = totals.get(key, 0) + row["count"]
    return totals


def test_minute_stats_sum_per_key_including_late_data_and_negative_corrections():
    minute0, minute1 = _stat("00", "imported"), _stat("01", "imported")
    skipped = _stat("00", "skipped", "not_imported_event")
    sink_error = _stat("01", "rejected", "sink_error")
    stream = (
        _TestStream()
        .add_elements(
            [TimestampedValue((minute0, 1), 10), TimestampedValue((minute0, 1), 20), TimestampedValue((skipped, 1), 30)]
        )
        .advance_watermark_to(65)
        .add_elements([TimestampedValue((minute1, 1), 70), TimestampedValue((minute1, 1), 75)])
        .advance_watermark_to(200)
        # Late: behind the watermark. Counts never wait for (or drop on) the watermark.
        .add_elements(
            [
                TimestampedValue((minute0, 1), 40),
                TimestampedValue((minute1, -1), 80),
                TimestampedValue((sink_error, 1), 80),
            ]
        )
        .advance_watermark_to_infinity()
    )
    pipeline = _streaming_pipeline()
    rows = pipeline | stream | CountOutcomesPerMinute()
    expected = {
        ("2026-11-28T12:00:00.000000Z", "imported", None): 3,
        ("2026-11-28T12:00:00.000000Z", "skipped", "not_imported_event"): 1,
        ("2026-11-28T12:01:00.000000Z", "imported", None): 1,
        ("2026-11-28T12:01:00.000000Z", "rejected", "sink_error"): 1,
    }

    def sums_match(actual_rows):
        actual_rows = list(actual_rows)
        assert _summed(actual_rows) == expected
        assert all(row["count"] != 0 for row in actual_rows)  # a cancelled-out key writes no row

    assert_that(rows, sums_match)
    pipeline.run().wait_until_finish()


def test_minute_stats_with_flush_zero_write_one_row_per_key_when_the_stream_ends():
    """``flush_seconds=0``: no processing-time firing (for runners without one), one sum per key
    at the end of a bounded stream."""
    minute0 = _stat("00", "imported")
    stream = (
        _TestStream()
        .add_elements([TimestampedValue((minute0, 1), 10)])
        .advance_watermark_to(65)
        .add_elements([TimestampedValue((minute0, 1), 70)])
        .advance_watermark_to_infinity()
    )
    pipeline = _streaming_pipeline()
    rows = pipeline | stream | CountOutcomesPerMinute(flush_seconds=0)
    assert_that(rows | beam.Map(lambda row: (row["outcome"], row["count"])), equal_to([("imported", 2)]))
    pipeline.run().wait_until_finish()

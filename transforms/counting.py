"""Outcome counts: summed per bundle, written as ``import_stats`` increment rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from domain.import_stats import stats_row
from domain.timestamps import to_bq_timestamp


class BundleCounts:
    """Deltas per key, summed within a bundle, output at its end: ``(key, sum)`` per key.

    Beam's cost is per element, so a count element per message costs far more than the
    count. A DoFn adds its deltas here and outputs the sums from ``finish_bundle``: each sum
    keeps its elements' window and the latest timestamp among them.
    """

    def __init__(self) -> None:
        self._sums: dict[tuple[Any, Any], list] = {}

    def add(self, key: Any, delta: int, timestamp: Any, window: Any) -> None:
        entry = self._sums.get((key, window))
        if entry is None:
            self._sums[(key, window)] = [delta, timestamp]
        else:
            entry[0] += delta
            if timestamp > entry[1]:
                entry[1] = timestamp

    def drain(self) -> Iterator[tuple[Any, int, Any, Any]]:
        """``(key, sum, latest timestamp, window)`` of each key counted; then starts over."""
        sums, self._sums = self._sums, {}
        for (key, window), (count, timestamp) in sums.items():
            yield key, count, timestamp, window

    def windowed(self, tag: str | None = None) -> Iterator[Any]:
        """:meth:`drain` as ``finish_bundle`` outputs ``(key, sum)`` (to ``tag`` if given)."""
        for key, count, timestamp, window in self.drain():
            value = WindowedValue((key, count), timestamp, (window,))
            yield value if tag is None else beam.pvalue.TaggedOutput(tag, value)


class _SumPerBundleFn(beam.DoFn):
    """Sums ``(StatKey, delta)`` per key within a bundle; one increment row per key at its end.

    No shuffle, no window, no timer: a count is written as soon as its bundle is done, and
    does not wait for the watermark (which the dedup timers hold back by the dedup window).
    """

    def start_bundle(self) -> None:
        self._sums = BundleCounts()

    def process(self, element, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        key, delta = element
        self._sums.add(key, delta, timestamp, window)

    def finish_bundle(self):
        written_at = to_bq_timestamp(datetime.now(UTC))
        for key, count, timestamp, window in self._sums.drain():
            if count:
                yield WindowedValue(stats_row(key, count, written_at), timestamp, (window,))


class CountOutcomesPerMinute(beam.PTransform):
    """``(StatKey, delta)`` elements -> ``import_stats`` rows (the key holds the minute).

    Rows are increments, one per key and bundle: readers sum ``count`` per key, each
    ``row_id`` once (``import_stats_dedup``). Bundles are large on Dataflow (and in batch), so
    this writes far fewer rows than messages.
    """

    def expand(self, counts):
        return counts | "SumPerKeyAndBundle" >> beam.ParDo(_SumPerBundleFn())

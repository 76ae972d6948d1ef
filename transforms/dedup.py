"""Drop repeats of a Segment message: key (app_id, messageId) = the event id.

A copy is a duplicate when an earlier copy of the same key was kept less than ``window``
before (in element time: the publish time when streaming, the event time in backfills).
State lives in the global window, so a repeat is caught across any window boundary, and a
key's state is cleared by an event-time timer once the watermark passes ``window`` after
its kept copy: the state holds only the keys seen within the horizon.

Streaming uses a stateful DoFn (one state cell and one timer per key). Batch sorts each
key's copies and applies the same rule, so a replayed backfill decides identically.
(Beam's ``DeduplicatePerKey`` drops repeats silently; we must count them as outcomes.)
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Iterable

import apache_beam as beam
import orjson
from apache_beam.coders import VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration

DUPLICATE = "duplicate"


def split_copies(copies: Iterable[tuple[int, Any]], window_micros: int) -> tuple[list[Any], list[Any]]:
    """Batch rule: ``(time_micros, value)`` copies of one key -> (kept, duplicates).

    Sorted by time (ties by the value's repr, for determinism), a copy is kept when it is
    ``window`` or more after the last kept copy.
    """
    copies = list(copies)
    if len(copies) == 1:  # the common case: no sort, so no repr of a whole row (~14 us)
        return [copies[0][1]], []
    kept, duplicates = [], []
    last_kept = None
    for micros, value in sorted(copies, key=lambda c: (c[0], repr(c[1]))):
        if last_kept is not None and micros - last_kept < window_micros:
            duplicates.append(value)
        else:
            kept.append(value)
            last_kept = micros
    return kept, duplicates


class _DedupFn(beam.DoFn):
    def __init__(self, window: timedelta) -> None:
        self._window_micros = int(window.total_seconds() * 1_000_000)
        self._imported = Metrics.counter("segment_import", "imported")
        self._duplicates = Metrics.counter("segment_import", "duplicate")


@beam.typehints.with_output_types(Any)
class _DedupStreamingFn(_DedupFn):
    """Keyed by event id; outputs the first copy, tags later copies within the window."""

    KEPT_AT = ReadModifyWriteStateSpec("kept_at_micros", VarIntCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def process(self, element, timestamp=beam.DoFn.TimestampParam,
                kept_at=beam.DoFn.StateParam(KEPT_AT), expiry=beam.DoFn.TimerParam(EXPIRY)):
        _, (micros, value) = element
        previous = kept_at.read()
        if previous is not None and abs(micros - previous) < self._window_micros:
            self._duplicates.inc()
            yield beam.pvalue.TaggedOutput(DUPLICATE, value)
            return
        kept_at.write(micros)
        # Cleared once the watermark passes the window after this copy's element time.
        expiry.set(timestamp + Duration(micros=self._window_micros))
        self._imported.inc()
        yield value

    @on_timer(EXPIRY)
    def expire(self, kept_at=beam.DoFn.StateParam(KEPT_AT)):
        kept_at.clear()


@beam.typehints.with_output_types(Any)
class _DedupBatchFn(_DedupFn):

    def __init__(self, window: timedelta, *, json_values: bool) -> None:
        super().__init__(window)
        self._json_values = json_values

    def process(self, element):
        _, copies = element
        if self._json_values:  # decoded before the rule: ties still sort by the value's repr
            copies = [(micros, orjson.loads(packed)) for micros, packed in copies]
        kept, duplicates = split_copies(copies, self._window_micros)
        self._imported.inc(len(kept))
        yield from kept
        self._duplicates.inc(len(duplicates))
        for value in duplicates:
            yield beam.pvalue.TaggedOutput(DUPLICATE, value)


class DropDuplicates(beam.PTransform):
    """``(key, (time_micros, value))`` -> values; repeats within ``window`` go to ``duplicate``.

    ``streaming`` picks the stateful implementation, else :func:`split_copies` over groups.
    ``json_values`` promises values made only of dicts, lists, str, int (64-bit), float,
    bool and None (as events rows are): batch then moves them through the GroupByKey as
    orjson bytes, which the runner copies as is, instead of Beam's generic coder decoding
    and re-encoding every field of every row (measured: about half the cost of the batch job).
    """

    def __init__(self, window: timedelta, *, streaming: bool, json_values: bool = False) -> None:
        super().__init__()
        self._window = window
        self._streaming = streaming
        self._json_values = json_values

    def expand(self, keyed):
        if self._streaming:
            return keyed | "FirstCopyPerKey" >> beam.ParDo(_DedupStreamingFn(self._window)).with_outputs(
                DUPLICATE, main="unique")
        if self._json_values:
            keyed = keyed | "PackCopies" >> beam.Map(_pack_copy).with_output_types(tuple[str, tuple[int, bytes]])
        return (
            keyed
            | "GroupCopies" >> beam.GroupByKey()
            | "FirstCopyPerKey" >> beam.ParDo(_DedupBatchFn(self._window, json_values=self._json_values)).with_outputs(
                DUPLICATE, main="unique")
        )


def _pack_copy(element: tuple[str, tuple[int, Any]]) -> tuple[str, tuple[int, bytes]]:
    key, (micros, value) = element
    return key, (micros, orjson.dumps(value))

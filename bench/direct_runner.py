"""A local-harness fix for Beam's DirectRunner (bench and load test only; the jobs never use it)."""
from __future__ import annotations


def scan_only_keys_with_timers() -> None:
    """Make the DirectRunner look for due timers only among keys that have a timer set.

    Beam 2.77's ``_TransformWatermarks.extract_transform_timers`` asks *every* key the
    stateful step has ever seen for due timers, at every step of the runner's loop, and
    keys are never forgotten: with the dedup's state per event id, a run's cost grows with
    the square of the messages. py-spy on a stock 100k run, ~9k messages in: 71% of the
    job's time in that scan, ~20 msg/s and falling (est. ~5 h for 100k). A key without a
    timer has none due, so skipping it gives the same firings (the scan still runs under
    the runner's lock). Local harness only: Dataflow keeps timers in its own state backend.
    """
    from apache_beam.runners.direct import watermark_manager

    transform_watermarks = watermark_manager._TransformWatermarks
    if getattr(transform_watermarks, "_only_keys_with_timers", False):
        return
    stock = transform_watermarks.extract_transform_timers

    class _KeysWithTimers:
        """``self`` for the stock method, its keyed states narrowed to those with timers."""

        def __init__(self, watermarks) -> None:
            self._watermarks = watermarks

        def __getattr__(self, name):
            return getattr(self._watermarks, name)

        @property
        def _keyed_states(self):
            return {key: state for key, state in self._watermarks._keyed_states.items() if state.timers}

    def extract_transform_timers(self):
        return stock(_KeysWithTimers(self))

    transform_watermarks.extract_transform_timers = extract_transform_timers
    transform_watermarks._only_keys_with_timers = True

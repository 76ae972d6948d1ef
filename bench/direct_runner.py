"""A local-harness fix for Beam's DirectRunner (bench and load test only; the jobs never use it)."""

from __future__ import annotations

import threading
from typing import Any


class TimerIndexedStates(dict):
    """One stateful transform's keyed states (key -> state), indexing the keys with timers.

    The runner stores a key's state only by assignment (``states[key] = state``: when a key is
    first seen, and when a bundle commits its copy), and a committed state loses timers only
    when a firing's bundle commits the state without them. So the index is updated on
    assignment and pruned (under the same lock) when read.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._with_timers: set[Any] = set()

    def __setitem__(self, key: Any, state: Any) -> None:
        with self._lock:
            super().__setitem__(key, state)
            if state.timers:
                self._with_timers.add(key)

    def with_timers(self) -> dict[Any, Any]:
        """The keys whose state has a timer set, with their states."""
        with self._lock:
            self._with_timers = {key for key in self._with_timers if self[key].timers}
            return {key: self[key] for key in self._with_timers}


def scan_only_keys_with_timers() -> None:
    """Make the DirectRunner look for due timers only among keys that have a timer set.

    Beam 2.77's ``_TransformWatermarks.extract_transform_timers`` asks *every* key the
    stateful step has ever seen for due timers, at every step of the runner's loop, and
    keys are never forgotten: with the dedup's state per event id, a run's cost grows with
    the square of the messages. py-spy on a stock 100k run, ~9k messages in: 71% of the
    job's time in that scan, ~20 msg/s and falling (est. ~5 h for 100k). A key without a
    timer has none due, so skipping it gives the same firings (the scan still runs under
    the runner's lock). The keyed states are :class:`TimerIndexedStates`, so the narrowed
    scan costs the keys with timers (~rate x dedup window), not every key ever seen: a first
    version filtered all keys at every step and still spent 46% of the job in that filter
    75k messages into a 100k run. Local harness only: Dataflow keeps timers in its own
    state backend.
    """
    from apache_beam.runners.direct import evaluation_context, watermark_manager

    transform_watermarks = watermark_manager._TransformWatermarks
    if getattr(transform_watermarks, "_only_keys_with_timers", False):
        return
    stock_extract = transform_watermarks.extract_transform_timers
    stock_initialize = evaluation_context.EvaluationContext._initialize_keyed_states

    def _initialize_keyed_states(self, root_transforms, value_to_consumers):
        states = stock_initialize(self, root_transforms, value_to_consumers)
        return {transform: TimerIndexedStates() for transform in states}

    class _KeysWithTimers:
        """``self`` for the stock method, its keyed states narrowed to those with timers."""

        def __init__(self, watermarks) -> None:
            self._watermarks = watermarks
            self._keyed_states = watermarks._keyed_states.with_timers()

        def __getattr__(self, name):
            return getattr(self._watermarks, name)

    def extract_transform_timers(self):
        # States made before the patch (none in the bench or load test) keep the stock scan.
        if not isinstance(self._keyed_states, TimerIndexedStates):
            return stock_extract(self)
        return stock_extract(_KeysWithTimers(self))

    evaluation_context.EvaluationContext._initialize_keyed_states = _initialize_keyed_states
    transform_watermarks.extract_transform_timers = extract_transform_timers
    transform_watermarks._only_keys_with_timers = True

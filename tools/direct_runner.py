"""Local-harness fixes for Beam 2.77's DirectRunner: the local run, the e2e tests, the bench and
the load test apply them (:func:`speed_up_local_runs`) before starting the streaming job; the
jobs never import this module, and on Dataflow none of it applies.

Each fix narrows work the runner repeats, never what it computes: the same elements reach the
same steps and the same timers fire (``tests/pipeline/test_direct_runner_harness.py``).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

PULL_MESSAGES = 500  # Pub/Sub messages the local streaming read pulls per bundle (Beam's: 10)


def speed_up_local_runs() -> None:
    """Every fix below (idempotent)."""
    scan_only_keys_with_timers()
    pull_more_per_bundle()
    memoize_dofn_specs()


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


class LargerPulls:
    """A Pub/Sub subscriber client whose ``pull`` asks for at least ``max_messages``."""

    def __init__(self, client: Any, max_messages: int) -> None:
        self._client, self._max_messages = client, max_messages

    def pull(self, *, subscription: str, max_messages: int, timeout: float) -> Any:
        wanted = max(max_messages, self._max_messages)
        return self._client.pull(subscription=subscription, max_messages=wanted, timeout=timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def pull_more_per_bundle(max_messages: int = PULL_MESSAGES) -> None:
    """Make the DirectRunner's Pub/Sub read pull up to ``max_messages`` per bundle.

    Beam 2.77's ``_PubSubReadEvaluator`` pulls 10 messages per bundle (a constant in its
    ``_read_from_pubsub``), and every bundle then starts each step of the graph once: a
    pickle round trip of its DoFn and an ``inspect.signature`` of every DoFn method (py-spy
    on ``./run_local.sh``: 55% of the runner's threads in ``_ParDoEvaluator.start_bundle``).
    With 10 messages a bundle, that per-bundle cost is the job's cost. The subscriber client
    the read uses is wrapped (:class:`LargerPulls`) so that its ``pull`` asks for more; a
    backlog then runs in bundles of that size, and a trickle as it arrives. Local harness
    only: Dataflow sizes bundles itself.
    """
    from apache_beam.runners.direct.transform_evaluator import _PubSubReadEvaluator

    if getattr(_PubSubReadEvaluator, "_larger_pulls", False):
        return
    stock_client = _PubSubReadEvaluator._get_subscriber_client.__func__

    def _get_subscriber_client(cls, transform):
        return LargerPulls(stock_client(cls, transform), max_messages)

    _PubSubReadEvaluator._get_subscriber_client = classmethod(_get_subscriber_client)
    _PubSubReadEvaluator._larger_pulls = True


def memoize_dofn_specs() -> None:
    """Make the DirectRunner introspect each DoFn class's state and timer specs once.

    ``userstate.get_dofn_specs`` walks every method of a DoFn (``dir(dofn)``, an
    ``inspect.signature`` each) and Beam 2.77's DirectRunner calls it, through
    ``is_stateful_dofn``, for every bundle of every ParDo, at start and when it schedules
    it. The specs are class attributes (the defaults of the methods' parameters), so they
    are the same for every instance of a class: memoised per class.
    """
    from apache_beam.runners.direct import direct_runner, transform_evaluator
    from apache_beam.transforms import userstate

    if getattr(userstate, "_specs_memoized", False):
        return
    stock_specs = userstate.get_dofn_specs
    # Weak: the runner unpickles a copy of each DoFn per bundle, and a DoFn class defined in a
    # function (Beam's GroupIntoBatches) comes back as a new class each time.
    known: weakref.WeakKeyDictionary[type, Any] = weakref.WeakKeyDictionary()
    lock = threading.Lock()

    def get_dofn_specs(dofn):
        specs = known.get(type(dofn))
        if specs is None:
            specs = stock_specs(dofn)
            with lock:
                known[type(dofn)] = specs
        return specs

    def is_stateful_dofn(dofn) -> bool:
        state_specs, timer_specs = get_dofn_specs(dofn)
        return bool(state_specs or timer_specs)

    userstate.get_dofn_specs, userstate.is_stateful_dofn = get_dofn_specs, is_stateful_dofn
    transform_evaluator.get_dofn_specs, transform_evaluator.is_stateful_dofn = get_dofn_specs, is_stateful_dofn
    assert direct_runner.userstate is userstate  # (it reads them off the module)
    userstate._specs_memoized = True

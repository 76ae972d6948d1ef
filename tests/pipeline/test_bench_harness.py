"""The bench/load-test harness's DirectRunner timer index (tools/direct_runner.py) on Beam's real state."""

from __future__ import annotations

from apache_beam.runners.direct.evaluation_context import DirectUnmergedState
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.window import GlobalWindow

from tools.direct_runner import TimerIndexedStates


def _state(timer_at: int | None = None) -> DirectUnmergedState:
    state = DirectUnmergedState()
    if timer_at is not None:
        state.set_timer(GlobalWindow(), "expiry", TimeDomain.WATERMARK, timer_at)
    return state


def test_only_keys_whose_committed_state_has_a_timer_are_scanned() -> None:
    states = TimerIndexedStates()
    states[b"a"] = _state()  # first seen: no timer yet
    states[b"b"] = _state(10)
    assert set(states.with_timers()) == {b"b"}

    committed = _state()
    committed.set_timer(GlobalWindow(), "expiry", TimeDomain.WATERMARK, 20)
    states[b"a"] = committed  # a bundle commits a timer for a
    assert set(states.with_timers()) == {b"a", b"b"}

    fired = states[b"b"].copy()
    fired.clear_timer(GlobalWindow(), "expiry", TimeDomain.WATERMARK)
    states[b"b"] = fired  # the firing's bundle commits b without its timer
    assert set(states.with_timers()) == {b"a"}
    assert set(states) == {b"a", b"b"}  # the runner's view of the states is unchanged
    assert states.with_timers()[b"a"] is committed


def test_a_due_timer_is_still_found_by_the_stock_scan() -> None:
    states = TimerIndexedStates()
    states[b"k"] = _state(5)
    due, _ = states.with_timers()[b"k"].get_timers(watermark=7)
    assert [(name, timestamp) for _, (name, _, timestamp, _) in due] == [("expiry", 5)]

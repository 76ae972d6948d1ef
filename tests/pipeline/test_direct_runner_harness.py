"""The local harness's DirectRunner fixes (tools/direct_runner.py), on Beam's real classes: they
narrow repeated work and never change what the runner computes."""

from __future__ import annotations

from datetime import timedelta

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


def test_memoized_dofn_specs_are_the_stock_specs_of_every_stateful_step() -> None:
    from apache_beam.transforms import userstate

    from tools import direct_runner
    from transforms.dedup import _DedupStreamingFn
    from transforms.streaming_attribution import _DecideFn, _DirectTouchesFn, _FirstHopFn, _LinkedTouchesFn

    stock = userstate.get_dofn_specs
    fns = [
        _DirectTouchesFn({}, None, 64, gated=True),
        _FirstHopFn({}),
        _LinkedTouchesFn({}, None, 64, gated=False),
        _DecideFn({}, True, timedelta(hours=1)),
        _DedupStreamingFn(timedelta(minutes=1), None),
    ]
    expected = [stock(fn) for fn in fns]
    direct_runner.memoize_dofn_specs()
    assert [userstate.get_dofn_specs(fn) for fn in fns] == expected
    assert [userstate.get_dofn_specs(fn) for fn in fns] == expected  # (the memo's answers)
    assert all(userstate.is_stateful_dofn(fn) for fn in fns)


def test_the_local_pubsub_read_asks_for_more_messages_per_pull() -> None:
    from tools.direct_runner import LargerPulls

    asked = []

    class Client:
        def pull(self, *, subscription, max_messages, timeout):
            asked.append((subscription, max_messages, timeout))
            return "response"

        def acknowledge(self, **_):
            return "acked"

    client = LargerPulls(Client(), 500)
    assert client.pull(subscription="s", max_messages=10, timeout=30) == "response"
    assert client.pull(subscription="s", max_messages=900, timeout=30) == "response"
    assert client.acknowledge(subscription="s", ack_ids=[]) == "acked"
    assert asked == [("s", 500, 30), ("s", 900, 30)]

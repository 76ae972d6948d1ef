"""transforms/collector.py: the cycle collector is off inside a paused block and as it was after."""

from __future__ import annotations

import gc

import pytest

from transforms.collector import collector_paused


@pytest.fixture
def collector_restored():
    was_enabled = gc.isenabled()
    yield
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_off_in_the_block_and_back_on_after_it_even_when_the_block_raises(collector_restored):
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("a step's bug")
    assert gc.isenabled()


def test_a_block_inside_a_pause_or_with_the_collector_off_leaves_it_off(collector_restored):
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()

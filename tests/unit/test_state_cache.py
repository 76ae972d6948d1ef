"""The state cache's weights (transforms/state_cache.py): with objsize's walk over every module's
globals off, what our stateful stages cache weighs the same, and a StatefulDoFn turns it off."""

from __future__ import annotations

import objsize
import pytest
from apache_beam.runners.worker.statecache import get_deep_size

from domain.attribution import KeyTouches
from tests.unit.test_message_coder import MESSAGES, TOUCH
from transforms.state_cache import StatefulDoFn


@pytest.fixture
def walk_restored():
    before = objsize.default_settings.exclude_modules_globals
    yield
    objsize.default_settings.update(exclude_modules_globals=before)


def _weights(values: list) -> list[int]:
    return [get_deep_size(value) for value in values]


def test_cached_state_values_weigh_the_same_without_the_walk(walk_restored):
    held = KeyTouches()
    held.add(TOUCH, None, max_per_type=64)
    values = [
        held.to_bytes(),  # the identity stages' store
        1_765_000_000_000_000,  # dedup's and the tail's micros
        *MESSAGES,  # the event stages' bags hold messages
        list(MESSAGES),
    ]
    objsize.default_settings.update(exclude_modules_globals=True)
    with_walk = _weights(values)
    StatefulDoFn().setup()
    assert objsize.default_settings.exclude_modules_globals is False
    assert _weights(values) == with_walk

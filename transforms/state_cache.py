"""StatefulDoFn: the base of the jobs' stateful DoFns, so that the SDK worker's state cache
weighs what it caches cheaply.

Beam's Python SDK worker caches state values (``--max_cache_memory_usage_mb``) and weighs
every value it puts there, on every state write, with objsize. objsize by default first walks
the globals of every loaded module (to leave shared objects out of the weight): about 390 µs
a write on a worker that has Beam and Google's clients loaded, measured here, more than the
rest of an event's work; with the walk off, 17 µs. The values in our state (bytes, numbers,
our messages' strings and tuples) hold nothing from a module's globals but singletons such as
``UTC``, so their weights are the same either way (tests/unit/test_state_cache.py). The
setting is the process's: the first stateful DoFn set up turns the walk off for the cache and
for Beam's own stateful steps (``GroupIntoBatches``) alike.
"""

from __future__ import annotations

import apache_beam as beam
import objsize


def weigh_state_without_module_globals() -> None:
    """objsize's default for this process: no walk over every module's globals per weighing."""
    objsize.default_settings.update(exclude_modules_globals=False)


class StatefulDoFn(beam.DoFn):
    """A DoFn with state: its ``setup`` turns off the per-write walk (see the module)."""

    def setup(self) -> None:
        super().setup()
        weigh_state_without_module_globals()

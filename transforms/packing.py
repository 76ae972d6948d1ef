"""A list that crosses a batch shuffle as one bytes object: a pickle, optionally compressed.

The backfill's graph moves its data in batches (a chunk's copies per dedup shard, a group's
messages per destination), and what a shuffle carries of a batch is best one bytes object:

- the coder and the shuffle handle one opaque value, not thousands of tuples;
- whatever decodes a group (the SDK worker, or the FnApiRunner, which holds every group of a
  stage in memory) makes one object per batch, which Python's cycle collector never walks. A
  group decoded as nested tuples made millions of tracked containers at once, and the full
  collections they triggered grew with the archive (bench/README.md, SCALE_BATCH);
- with ``compress`` (zstd at ``LEVEL``), a batch of similar values (rows of one app, touches
  found by many conversions) shrinks several times: Dataflow's batch shuffle charges by the
  byte.

Only our own steps read these batches, within one job: a pickle is the fast, exact encoding
of the tuples, lists, strings, numbers and bytes they hold.
"""

from __future__ import annotations

import pickle
from typing import Any

import zstandard

# zstd's fastest level: a batch of rows shrinks about ten times for about 2 us a row.
LEVEL = 1
_PICKLE = pickle.HIGHEST_PROTOCOL
_PICKLE_START = b"\x80"  # a pickle of protocol 2 or later starts with PROTO; a zstd frame never does


def pack(value: Any, *, compress: bool = False) -> bytes:
    """``value`` (built of Python primitives) as one bytes object; with ``compress``, smaller."""
    blob = pickle.dumps(value, protocol=_PICKLE)
    return zstandard.compress(blob, LEVEL) if compress else blob


def unpack(blob: bytes) -> Any:
    """The value :func:`pack` was given, compressed or not."""
    if blob[:1] != _PICKLE_START:
        blob = zstandard.decompress(blob)
    return pickle.loads(blob)

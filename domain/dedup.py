"""The duplicate rule (rules §6): a copy of a Segment message (same app and messageId,
i.e. the same event id) within ``window`` of a kept copy is a duplicate."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def split_copies(copies: Iterable[tuple[int, Any]], window_micros: int) -> tuple[list[Any], list[Any]]:
    """All ``(time_micros, value)`` copies of one key at once -> (kept, duplicates).

    Sorted by time (ties by the value's repr, for determinism), a copy is kept when it is
    ``window`` or more after the last kept copy: so a replay decides identically.
    """
    copies = list(copies)
    if len(copies) == 1:  # the common case: no sort, so no repr of a whole row
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


def is_repeat(micros: int, kept_at: int | None, window_micros: int) -> bool:
    """The streaming form of the rule: a copy arriving after the kept one (at ``kept_at``)."""
    return kept_at is not None and abs(micros - kept_at) < window_micros

"""The hot helpers of the mapping in pure Python: the twin of ``_fast.pyx`` (same API, same answers).

``domain.speedups`` picks this module when the compiled one is not built (a pure install, or
a development checkout: see docs/compiled.md). tests/unit/test_speedups.py holds the two to
the same answers wherever both exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from domain.column_types import RECORD_TYPES, TYPE_CHECKS

# Numbers orjson would round: 20 characters of [0-9.] in a row, or "-" and 19 (see
# decoder.decode). Searched with digits and "." mapped to "0", "-" kept, all else "x".
_LONG_DIGIT_RUN = b"0" * 20
_LONG_NEGATIVE_RUN = b"-" + b"0" * 19
_DIGITS_AS_ZERO = bytes(
    0x30 if 0x30 <= byte <= 0x39 or byte == 0x2E else byte if byte == 0x2D else 0x78 for byte in range(256)
)


def has_long_number(data: bytes) -> bool:
    """True if ``data`` (bytes-like) holds 20 of ``[0-9.]`` in a row, or ``-`` and 19."""
    digits = bytes(data).translate(_DIGITS_AS_ZERO)
    # Both runs hold 19 zeros: one search rules both out in most documents.
    return _LONG_DIGIT_RUN[1:] in digits and (_LONG_DIGIT_RUN in digits or _LONG_NEGATIVE_RUN in digits)


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))


def to_bq_timestamp(value: datetime) -> str:
    """``2026-11-28T12:00:00.123456Z``: BigQuery's JSON timestamp text, always UTC."""
    if value.tzinfo is UTC and type(value) is datetime and value.year >= 1000:
        two = _TWO_DIGITS
        return (
            f"{value.year}-{two[value.month]}-{two[value.day]}T{two[value.hour]}:{two[value.minute]}:"
            f"{two[value.second]}.{value.microsecond:06d}Z"
        )
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


# Segment's own form, e.g. 2026-11-28T12:00:00.123Z (ASCII digits only).
_SEGMENT_FORM = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)


def segment_timestamp(text: Any) -> datetime | None:
    """The UTC datetime ``datetime.fromisoformat`` gives for a text of Segment's form, or None
    (another form, or a date or time out of range: for fromisoformat to refuse, and say why)."""
    if type(text) is not str or not _SEGMENT_FORM.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def segment_text(text: Any) -> str | None:
    """BigQuery's text of a valid timestamp of Segment's form (the same but for the
    microseconds' padding), without a datetime; None for any other text."""
    return text[:23] + "000Z" if segment_timestamp(text) is not None else None


def bq_timestamp_of(text: Any, parsed: datetime) -> str:
    """``to_bq_timestamp(parsed)``, where ``parsed`` is the time ``text`` gave.

    Segment's own form is already that text but for the microseconds' padding: once
    ``fromisoformat`` has accepted a text with this punctuation at these places, every other
    character is a digit of the field it stands for.
    """
    if type(text) is str and len(text) == 24 and text[23] == "Z" and text[4:20:3] == "--T::.":
        return text[:23] + "000Z"
    return to_bq_timestamp(parsed)


class RowPredicate:
    """True only if a row has exactly the schema's columns, in the schema's order, and every
    value fits its column; any other row gives False (``RowValidator`` then decides).

    ``columns``: (name, BigQuery type, mode, nested columns or None) per column, in order;
    ``is_numeric``: the NUMERIC text test.
    """

    def __init__(self, columns: Sequence[tuple[str, str, str, Any]], is_numeric: Callable[[str], bool]) -> None:
        self._names = tuple(column[0] for column in columns)
        self._checks = tuple(self._check(column, is_numeric) for column in columns)
        self._modes = tuple(column[2] for column in columns)

    @staticmethod
    def _check(column: tuple[str, str, str, Any], is_numeric: Callable[[str], bool]) -> Callable[[Any], bool]:
        kind, nested = column[1], column[3]
        if kind in RECORD_TYPES:
            record = RowPredicate(nested, is_numeric)
            return lambda value: type(value) is dict and record(value)
        if kind == "NUMERIC":
            return lambda value: type(value) is str and is_numeric(value)
        return TYPE_CHECKS[kind]

    def __call__(self, row: Any) -> bool:
        if type(row) is not dict or len(row) != len(self._names):
            return False
        for (key, value), name, check, mode in zip(row.items(), self._names, self._checks, self._modes, strict=True):
            if key != name:
                return False
            if value is None:
                if mode == "REQUIRED":
                    return False
            elif mode == "REPEATED":
                if type(value) is not list or not all(element is not None and check(element) for element in value):
                    return False
            elif not check(value):
                return False
        return True


def without_nulls(row: dict[str, Any]) -> dict[str, Any]:
    """A row without its null columns (in its order): what BigQuery loads as the same row."""
    return {name: value for name, value in row.items() if value is not None}

"""Message data to a JSON document: fast where it can be, exact where orjson would round."""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from orjson import JSONDecodeError, loads

from domain.speedups import has_long_number

# Numbers orjson would round: an integer outside its exact range [-2**63, 2**64 - 1], or a
# decimal longer than a double holds (NUMERIC keeps 38 digits). ``has_long_number`` finds
# the runs of digits that may be one (a false alarm only costs the exact decoder's time).
_LONG_LITERAL = 20  # digits and points: has_long_number's run
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1
_DOUBLE_DIGITS = 15  # significant digits a double always round-trips


def decode(data: bytes) -> Any:
    """Parse message data as JSON; raises ValueError with a readable detail.

    orjson is the fast path. It refuses some valid JSON (numbers beyond double range) and
    rounds integers beyond 64 bits, so those documents get the exact standard library.
    """
    try:
        doc = loads(data)
    except JSONDecodeError as error:
        return _decode_exact(data, error)
    if has_long_number(data):
        return _decode_exact(data, None)
    return doc


def _decode_exact(data: bytes, fast_error: Exception | None) -> Any:
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"invalid UTF-8 at byte {error.start}") from None
    try:
        doc = json.loads(text, parse_constant=_reject_constant, parse_float=_exact_float, parse_int=_exact_int)
        # Lone surrogate escapes (\ud800) parse but can never be stored as UTF-8.
        json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8")
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except (ValueError, UnicodeEncodeError) as error:
        raise ValueError(f"invalid JSON: {fast_error or error}") from None
    return doc


def _exact_float(text: str) -> float | Decimal:
    """Floats as floats (as orjson gives them), except numbers beyond a double's range and
    long literals a double cannot hold: kept as Decimal.

    Long means what sends a document here: a mantissa of 20 digits and points or more (the
    search in :func:`decode`). A shorter literal is a float whichever decoder reads it, so a
    value never depends on what else the document holds.
    """
    value = float(text)
    mantissa = text.lower().partition("e")[0].lstrip("-")
    if math.isfinite(value) and (
        len(mantissa) < _LONG_LITERAL or sum(c.isdigit() for c in mantissa.lstrip("0.")) <= _DOUBLE_DIGITS
    ):
        return value
    try:
        return Decimal(text)
    except InvalidOperation:  # beyond even Decimal's exponent range: not a number we can keep
        raise ValueError(f"number out of range: {text[:40]}") from None


def _exact_int(text: str) -> int | Decimal:
    """Integers as ints within orjson's range (so they encode back), else exact Decimals."""
    value = int(text)
    return value if _INT64_MIN <= value <= _UINT64_MAX else Decimal(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")

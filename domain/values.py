"""Lenient, never-raising coercions of Segment JSON values to column values.

Segment sends numbers as strings ("12.50"), strings as numbers, and worse. Each helper
returns the column value or ``None`` (the caller adds a warning when a present value was
dropped); none raises on any JSON value.
"""

from __future__ import annotations

import json
import math
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any, cast

from orjson import Fragment, JSONEncodeError, dumps

# BigQuery NUMERIC: 38 digits, 9 after the decimal point.
_NUMERIC_LIMIT = Decimal("1e29")
_NUMERIC_QUANTUM = Decimal("1e-9")
# Wide enough to round any in-range NUMERIC (38 digits) exactly; the default context has 28.
_NUMERIC_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)
_INT64_MAX = 2**63 - 1


def to_json_text(value: Any) -> str | None:
    """Compact JSON text of a parsed JSON value; None if nested deeper than orjson's 255 levels.

    One fixed bound, whatever the caller's stack depth, so a message maps to the same row
    in the CLI and on a worker. Numbers orjson cannot hold arrive as Decimal (see
    ``decoder.decode``) and are written back digit for digit.
    """
    # Scalars (most custom data besides strings) the short way: the text orjson writes
    # (tests/unit/test_values_timestamps.py holds them to it).
    kind = type(value)
    if kind is int:
        return str(value)  # past 64 bits orjson refuses and json.dumps below writes str() too
    if kind is float:
        encoded: bytes = dumps(value)  # (without the default hook: a float never needs it)
        return encoded.decode()
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    try:
        encoded = dumps(value, default=_decimal_fragment)
        return encoded.decode()
    except JSONEncodeError as error:
        if "ecursion" in str(error):
            return None
    # A Python int beyond 64 bits (never from decoder.decode, which makes those Decimal).
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _decimal_fragment(value: Any) -> Any:
    if isinstance(value, Decimal):
        return Fragment(str(value).encode())
    raise TypeError


def to_text(value: Any) -> str | None:
    """A string column: strings as sent, numbers as their JSON text; else None."""
    if type(value) is str:
        return value
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return to_json_text(value)
    return None


def to_decimal(value: Any) -> Decimal | None:
    """A finite decimal from a JSON number or numeric string; None for anything else."""
    if isinstance(value, bool):
        return None
    try:
        if type(value) is int:
            number = Decimal(value)
        elif type(value) is float:
            if not math.isfinite(value):
                return None
            number = Decimal(repr(value))
        elif type(value) is str or isinstance(value, Decimal):
            number = Decimal(value.strip() if type(value) is str else value)
        else:
            return None
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def to_numeric(value: Any, *, allow_negative: bool = True) -> str | None:
    """A BigQuery NUMERIC as its decimal string (rounded to 9 places); None if out of range."""
    if type(value) is int and -_INT64_MAX <= value <= _INT64_MAX:
        return str(value) if allow_negative or value >= 0 else None
    if type(value) is float:
        number: float = value  # (typed for the compiled form: a C double)
        if 1e-4 <= abs(number) < 1e16 and (allow_negative or number > 0):
            # Prices: in this range repr() has no exponent and is exactly what the decimal
            # path below formats, unless it has more than 9 decimals (then rounded below).
            # orjson writes the same shortest digits as repr() here, in half its time (tested).
            encoded: bytes = dumps(value)  # (typed for the compiled form)
            text: str = encoded.decode()
            if len(text) - text.index(".") <= 10:
                return text
        elif number == 0:  # 0.0 and -0.0, as the decimal path below formats them
            return "0"
    exact = to_decimal(value)
    if exact is None or exact.copy_abs() >= _NUMERIC_LIMIT or (exact < 0 and not allow_negative):
        return None
    if cast(int, exact.as_tuple().exponent) < -9:  # (an int: exact is finite)
        exact = exact.quantize(_NUMERIC_QUANTUM, context=_NUMERIC_CONTEXT)
        if exact.copy_abs() >= _NUMERIC_LIMIT:  # 99...9.9999999999 rounds up out of range
            return None
    return "0" if exact == 0 else format(exact, "f")


def to_float(value: Any, *, allow_negative: bool = True) -> float | None:
    """A finite FLOAT64 from a JSON number or numeric string."""
    if type(value) is float:
        number = value
    elif type(value) is int:
        number = float(value) if abs(value) < 1e308 else math.inf
    else:
        decimal = to_decimal(value)
        if decimal is None:
            return None
        try:
            number = float(decimal)
        except OverflowError:
            return None
    if not math.isfinite(number) or (number < 0 and not allow_negative):
        return None
    return number


_TRUE, _FALSE = frozenset(("true", "1")), frozenset(("false", "0"))


def to_bool(value: Any) -> bool | None:
    """A boolean as SDKs send it: true/false, "true"/"false" (any case), 1/0 or "1"/"0";
    None for anything else (the caller warns: a value it cannot read is not a choice)."""
    if value is True or value is False:
        return bool(value)
    if type(value) is int:
        return True if value == 1 else False if value == 0 else None
    if type(value) is str:
        text = value.strip().lower()
        return True if text in _TRUE else False if text in _FALSE else None
    return None


def to_int(value: Any) -> int | None:
    """An INT64 from an integral JSON number or numeric string (1080, 1080.0, "1080")."""
    if type(value) is int:
        return value if -_INT64_MAX <= value <= _INT64_MAX else None
    number = to_decimal(value)
    if number is None or number != number.to_integral_value() or abs(number) > _INT64_MAX:
        return None
    return int(number)

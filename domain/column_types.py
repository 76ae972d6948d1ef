"""The values a BigQuery column of each type takes, as the pipeline sends them (JSON rows).

One source of the type checks: ``row_schema``'s walk and the pure row predicate use these;
the compiled predicate (``_fast.pyx``) has C forms of them, held to these by tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

_INT64 = 2**63

Check = Callable[[Any], bool]


def is_str(value: Any) -> bool:
    return type(value) is str


def is_int64(value: Any) -> bool:
    return type(value) is int and -_INT64 <= value < _INT64


def is_float64(value: Any) -> bool:
    return (type(value) is float and math.isfinite(value)) or is_int64(value)


def is_bool(value: Any) -> bool:
    return type(value) is bool


def is_numeric(value: Any) -> bool:
    """NUMERIC travels as decimal text: at most 29 integer and 9 fraction digits."""
    if type(value) is not str:
        return False
    whole, _, fraction = value.lstrip("-").partition(".")
    return 0 < len(whole) <= 29 and whole.isdigit() and len(fraction) <= 9 and (not fraction or fraction.isdigit())


TYPE_CHECKS: dict[str, Check] = {
    "STRING": is_str,
    "JSON": is_str,  # JSON columns travel as JSON text (the emulator 500s on objects).
    "BYTES": is_str,  # base64 text
    "TIMESTAMP": is_str,
    "DATE": is_str,
    "INT64": is_int64,
    "INTEGER": is_int64,
    "FLOAT64": is_float64,
    "FLOAT": is_float64,
    "BOOL": is_bool,
    "BOOLEAN": is_bool,
    "NUMERIC": is_numeric,
}
RECORD_TYPES = ("RECORD", "STRUCT")

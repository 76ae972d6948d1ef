"""Validate rows against a BigQuery table schema before the sink.

The BigQuery emulator accepts rows real BigQuery refuses, and a refused row in production
costs a retry loop: so every row is checked here, against the same schema file the table
was created from, and a misfit becomes a ``schema_violation`` rejection.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from schemas.tables import EVENTS, schema_fields

_INT64 = 2**63

Check = Callable[[Any], bool]


def _is_str(value: Any) -> bool:
    return type(value) is str


def _is_int(value: Any) -> bool:
    return type(value) is int and -_INT64 <= value < _INT64


def _is_float(value: Any) -> bool:
    return (type(value) is float and math.isfinite(value)) or _is_int(value)


def _is_bool(value: Any) -> bool:
    return type(value) is bool


def _is_numeric(value: Any) -> bool:
    # NUMERIC travels as decimal text: at most 29 integer and 9 fraction digits.
    if type(value) is not str:
        return False
    whole, _, fraction = value.lstrip("-").partition(".")
    return 0 < len(whole) <= 29 and whole.isdigit() and len(fraction) <= 9 and (not fraction or fraction.isdigit())


_TYPE_CHECKS: dict[str, Check] = {
    "STRING": _is_str,
    "JSON": _is_str,  # JSON columns travel as JSON text (the emulator 500s on objects).
    "BYTES": _is_str,  # base64 text
    "TIMESTAMP": _is_str,
    "DATE": _is_str,
    "INT64": _is_int,
    "INTEGER": _is_int,
    "FLOAT64": _is_float,
    "FLOAT": _is_float,
    "BOOL": _is_bool,
    "BOOLEAN": _is_bool,
    "NUMERIC": _is_numeric,
}


class RowValidator:
    """A schema compiled to per-column checks; :meth:`validate` returns the first misfit.

    Every imported row goes through here, so the common case is made cheap: a column whose
    whole check is "exactly this type" (strings, timestamps, JSON text, booleans: most of an
    events row) passes with one dict lookup when its value has that type, and misfit paths
    are only formatted for a misfit. The checks and messages are the same either way.
    """

    def __init__(self, fields: list[dict[str, Any]]) -> None:
        self._columns: dict[str, tuple[str, Check | RowValidator, bool]] = {}
        self._required = []
        self._exact_type: dict[str, type] = {}
        for field in fields:
            mode = field.get("mode", "NULLABLE")
            check = RowValidator(field["fields"]) if field["type"] in ("RECORD", "STRUCT") else _TYPE_CHECKS[field["type"]]
            self._columns[field["name"]] = (field["type"], check, mode == "REPEATED")
            if mode == "REQUIRED":
                self._required.append(field["name"])
            if mode != "REPEATED" and check in _EXACT_TYPE_CHECKS:
                self._exact_type[field["name"]] = _EXACT_TYPE_CHECKS[check]

    def validate(self, row: Any, path: str = "") -> str | None:
        if type(row) is not dict:
            return f"{path or 'row'}: expected a record"
        for name in self._required:
            if row.get(name) is None:
                return f"{path}{name}: required column is null"
        exact_type, columns = self._exact_type, self._columns
        for name, value in row.items():
            if exact_type.get(name) is type(value):  # never true for None or an unknown column
                continue
            column = columns.get(name)
            if column is None:
                return f"{path}{name}: no such column"
            if value is None:
                continue
            error = self._column_misfit(column, value, path, name)
            if error:
                return error
        return None

    @staticmethod
    def _column_misfit(column: tuple[str, Check | RowValidator, bool], value: Any, path: str, name: str) -> str | None:
        type_name, check, repeated = column
        if not repeated:
            return _misfit(type_name, check, value, path, name, None)
        if type(value) is not list:
            return f"{path}{name}: expected a list"
        for index, element in enumerate(value):
            error = _misfit(type_name, check, element, path, name, index)
            if error:
                return error
        return None


def _misfit(type_name: str, check: Check | RowValidator, element: Any, path: str, name: str,
            index: int | None) -> str | None:
    """The misfit of one (element of a) column value; its location is only formatted on error."""
    if isinstance(check, RowValidator):
        if type(element) is not dict:
            return f"{_where(path, name, index)}.: expected a record"
        error = check.validate(element)
        # Nested messages all start with their path: prefix the record's location.
        return f"{_where(path, name, index)}.{error}" if error else None
    if element is None or not check(element):
        return f"{_where(path, name, index)}: not a valid {type_name}: {str(element)[:40]!r}"
    return None


def _where(path: str, name: str, index: int | None) -> str:
    return f"{path}{name}" if index is None else f"{path}{name}[{index}]"


# Checks that are exactly a type test, and that type: RowValidator's fast path.
_EXACT_TYPE_CHECKS: dict[Check, type] = {_is_str: str, _is_bool: bool}


def validator_for(table: str) -> RowValidator:
    return RowValidator(schema_fields(table))


EVENTS_VALIDATOR = validator_for(EVENTS)

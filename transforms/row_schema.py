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
    """A schema compiled to per-column checks; :meth:`validate` returns the first misfit."""

    def __init__(self, fields: list[dict[str, Any]]) -> None:
        self._columns: dict[str, tuple[str, Check | RowValidator, bool]] = {}
        self._required = []
        for field in fields:
            mode = field.get("mode", "NULLABLE")
            check = RowValidator(field["fields"]) if field["type"] in ("RECORD", "STRUCT") else _TYPE_CHECKS[field["type"]]
            self._columns[field["name"]] = (field["type"], check, mode == "REPEATED")
            if mode == "REQUIRED":
                self._required.append(field["name"])

    def validate(self, row: Any, path: str = "") -> str | None:
        if type(row) is not dict:
            return f"{path or 'row'}: expected a record"
        for name in self._required:
            if row.get(name) is None:
                return f"{path}{name}: required column is null"
        for name, value in row.items():
            column = self._columns.get(name)
            if column is None:
                return f"{path}{name}: no such column"
            if value is None:
                continue
            type_name, check, repeated = column
            values = value if repeated else (value,)
            if repeated and type(value) is not list:
                return f"{path}{name}: expected a list"
            for index, element in enumerate(values):
                where = f"{path}{name}[{index}]" if repeated else f"{path}{name}"
                if isinstance(check, RowValidator):
                    error = check.validate(element, where + ".")
                    if error:
                        return error
                elif element is None or not check(element):
                    return f"{where}: not a valid {type_name}: {str(element)[:40]!r}"
        return None


def validator_for(table: str) -> RowValidator:
    return RowValidator(schema_fields(table))


EVENTS_VALIDATOR = validator_for(EVENTS)

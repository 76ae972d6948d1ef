"""Validate rows against a BigQuery table schema before the sink.

The BigQuery emulator accepts rows real BigQuery refuses, and a refused row in production
costs a retry loop: so every row is checked here, against the same schema file the table
was created from, and a misfit becomes a ``schema_violation`` rejection.
"""

from __future__ import annotations

import sys
from typing import Any

from domain.column_types import RECORD_TYPES, TYPE_CHECKS, Check, is_numeric
from domain.speedups import RowPredicate
from schemas.tables import schema_fields


class RowValidator:
    """A schema compiled to per-column checks; :meth:`validate` returns the first misfit.

    Every imported row goes through here, so a valid row is recognised in one pass by
    ``fits`` (``speedups.RowPredicate``: the row's columns in the schema's order, each value
    of its column's type). A row it refuses (or cannot decide: a column missing or an extra
    one, or the columns in another order) goes through the walk below, which finds the first
    misfit (required columns first, then in row order) and formats its message. The messages
    therefore come from one place only; the predicate merely proves there is none.
    """

    def __init__(self, fields: list[dict[str, Any]]) -> None:
        self._columns: dict[str, tuple[str, Check | RowValidator, bool]] = {}
        self._required = []
        for field in fields:
            mode = field.get("mode", "NULLABLE")
            check = RowValidator(field["fields"]) if field["type"] in RECORD_TYPES else TYPE_CHECKS[field["type"]]
            self._columns[field["name"]] = (field["type"], check, mode == "REPEATED")
            if mode == "REQUIRED":
                self._required.append(field["name"])
        self.fits = RowPredicate(_predicate_columns(fields), is_numeric)  # True: no misfit

    def validate(self, row: Any, path: str = "") -> str | None:
        if type(row) is dict and self.fits(row):
            return None
        return self._first_misfit(row, path)

    def _first_misfit(self, row: Any, path: str) -> str | None:
        if type(row) is not dict:
            return f"{path or 'row'}: expected a record"
        for name in self._required:
            if row.get(name) is None:
                return f"{path}{name}: required column is null"
        columns = self._columns
        for name, value in row.items():
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


def _misfit(
    type_name: str, check: Check | RowValidator, element: Any, path: str, name: str, index: int | None
) -> str | None:
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


def _predicate_columns(fields: list[dict[str, Any]]) -> tuple:
    """The schema as ``RowPredicate`` takes it: (name, type, mode, nested) per column, names
    interned (the mapping's row and content item templates' keys are the same objects)."""
    return tuple(
        (
            sys.intern(field["name"]),
            field["type"],
            field.get("mode", "NULLABLE"),
            _predicate_columns(field["fields"]) if field["type"] in RECORD_TYPES else None,
        )
        for field in fields
    )


def validator_for(table: str) -> RowValidator:
    return RowValidator(schema_fields(table))

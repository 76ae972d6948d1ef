"""Validate rows against a BigQuery table schema before the sink.

The BigQuery emulator accepts rows real BigQuery refuses, and a refused row in production
costs a retry loop: so every row is checked here, against the same schema file the table
was created from, and a misfit becomes a ``schema_violation`` rejection.
"""
from __future__ import annotations

import hashlib
import math
import sys
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

    Every imported row goes through here (45 columns, ~5 us per row interpreted: a tenth of
    the mapping chain), so valid rows are decided by a predicate generated from the schema
    at import time, the way ``dataclasses`` and ``namedtuple`` generate their methods:
    straight-line code that reads each column once by a constant key and tests its type
    inline, with no per-column dict lookup, tuple unpacking or call (see
    :func:`_emit_record`; ``.source`` holds the generated code). Compiled, the same tests
    run as a C loop over the row (``speedups.RowPredicate``, see :func:`_compile_predicate`).

    A row the predicate refuses (or cannot decide: a column missing or an extra one, or,
    compiled, the columns in another order than the schema's) goes
    through the interpretive walk below, which finds the first misfit (required columns
    first, then in row order) and formats its message. The messages therefore come from one
    place only; the predicate merely proves there is none.
    """

    def __init__(self, fields: list[dict[str, Any]]) -> None:
        self._columns: dict[str, tuple[str, Check | RowValidator, bool]] = {}
        self._required = []
        for field in fields:
            mode = field.get("mode", "NULLABLE")
            check = RowValidator(field["fields"]) if field["type"] in ("RECORD", "STRUCT") else _TYPE_CHECKS[field["type"]]
            self._columns[field["name"]] = (field["type"], check, mode == "REPEATED")
            if mode == "REQUIRED":
                self._required.append(field["name"])
        self.source, self.fits = _compile_predicate(fields)  # fits(row): validate(row) is None, if True

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


# --------------------------------------------------------------------------- compiled predicate

# The inline form of each type check: an expression over the non-None value ``{v}``.
_INLINE_INT = f"(type({{v}}) is int and {-_INT64} <= {{v}} < {_INT64})"
_INLINE_CHECKS: dict[Check, str] = {
    _is_str: "type({v}) is str",
    _is_int: _INLINE_INT,
    _is_float: f"((type({{v}}) is float and _isfinite({{v}})) or {_INLINE_INT})",
    _is_bool: "type({v}) is bool",
    _is_numeric: "_is_numeric({v})",
}


def _compile_predicate(fields: list[dict[str, Any]]) -> tuple[str, Callable[[dict], bool]]:
    """Source and function of ``is_valid(row)``: True only if :meth:`RowValidator.validate`
    would find no misfit. Rows with exactly the schema's columns are decided; any other key
    set gives False (the interpretive walk then decides, and names the misfit).

    Compiled, the predicate is ``speedups.RowPredicate``: the same tests in one C pass over
    the row, for rows whose columns are in the schema's order (the mapping's rows are; any
    other row it refuses, for the walk to decide). Pure, the events table's predicate
    (every imported row) is a generated module, ``transforms/events_row_predicate.py``,
    used whenever its source is this source (else the ``exec`` form is)."""
    source, entry = _predicate_source(fields)
    if RowPredicate is not None:  # compiled: the same tests as a C loop over the row
        return source, RowPredicate(_predicate_columns(fields), _is_numeric)
    from transforms import events_row_predicate

    if events_row_predicate.SOURCE_SHA256 == hashlib.sha256(source.encode()).hexdigest():
        return source, events_row_predicate.predicate(math.isfinite, _is_numeric)
    namespace: dict[str, Any] = {"_isfinite": math.isfinite, "_is_numeric": _is_numeric}
    exec(compile(source, "<row_schema predicate>", "exec"), namespace)
    return source, namespace[entry]


def _predicate_columns(fields: list[dict[str, Any]]) -> tuple:
    """The schema as ``speedups.RowPredicate`` takes it: (name, type, mode, nested) per column,
    names interned (the row and content item templates' keys are the same objects)."""
    return tuple(
        (sys.intern(field["name"]), field["type"], field.get("mode", "NULLABLE"),
         _predicate_columns(field["fields"]) if field["type"] in ("RECORD", "STRUCT") else None)
        for field in fields)


try:  # the predicate as a C loop, built with the compiled modules (setup.py)
    from transforms.speedups import RowPredicate
except ImportError:  # a pure Python install: the generated predicate
    RowPredicate = None


def _predicate_source(fields: list[dict[str, Any]]) -> tuple[str, str]:
    """The predicate's functions as source text, and the name of its entry function."""
    functions: list[str] = []
    entry = _emit_record(fields, functions)
    return "\n\n".join(functions), entry


def predicate_module_source(fields: list[dict[str, Any]]) -> str:
    """The text of ``transforms/events_row_predicate.py`` for a table's fields
    (``scripts/generate_row_predicate.py`` writes it; a test checks it is current)."""
    source, entry = _predicate_source(fields)
    body = "\n".join(f"    {line}" if line else "" for line in source.splitlines())
    return (
        '"""GENERATED by scripts/generate_row_predicate.py from the events table schema: do not edit.\n\n'
        "The events row predicate of transforms/row_schema.py as a module, so that setup.py compiles\n"
        'it with the other mapping modules. row_schema uses it only while SOURCE_SHA256 matches.\n"""\n\n'
        f'SOURCE_SHA256 = "{hashlib.sha256(source.encode()).hexdigest()}"\n\n\n'
        "def predicate(_isfinite, _is_numeric):  # noqa: C901 - generated straight-line checks\n"
        f"{body}\n\n    return {entry}\n"
    )


def _emit_record(fields: list[dict[str, Any]], functions: list[str]) -> str:
    """Append the predicate of one record type (and of its nested records); return its name.

    For example, a NULLABLE STRING column ``name`` becomes::

        v = row['name']
        if v is not None and not (type(v) is str):
            return False
    """
    name = f"_valid_{len(functions)}"
    slot = len(functions)
    functions.append("")  # reserved: nested records are appended while this one is built
    lines = [
        f"def {name}(row):",
        # Right length and every column present: no unknown column (dict keys are distinct).
        f"    if len(row) != {len(fields)}:",
        "        return False",
        "    try:",
    ]
    for field in fields:
        if field["type"] in ("RECORD", "STRUCT"):
            element = "type({v}) is dict and " + _emit_record(field["fields"], functions) + "({v})"
        else:
            element = _INLINE_CHECKS[_TYPE_CHECKS[field["type"]]]
        lines.append(f"        v = row[{field['name']!r}]")
        mode = field.get("mode", "NULLABLE")
        if mode == "REPEATED":  # null, or a list of valid elements (a null element is a misfit)
            lines += [
                "        if v is not None:",
                "            if type(v) is not list:",
                "                return False",
                "            for e in v:",
                f"                if e is None or not ({element.format(v='e')}):",
                "                    return False",
            ]
        else:
            test = "v is None or" if mode == "REQUIRED" else "v is not None and"
            lines += [f"        if {test} not ({element.format(v='v')}):", "            return False"]
    lines += ["    except KeyError:", "        return False", "    return True"]
    functions[slot] = "\n".join(lines)
    return name


def validator_for(table: str) -> RowValidator:
    return RowValidator(schema_fields(table))


EVENTS_VALIDATOR = validator_for(EVENTS)

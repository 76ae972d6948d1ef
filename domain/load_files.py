"""Rows as BigQuery load files need them (pure): JSON columns as JSON values, not text.

The pipeline carries a JSON column (``custom_data``, ``content_items[].custom_fields``) as
JSON text, which a streaming insert parses into the column. A load job does not: Beam's
FILE_LOADS writes each row with ``json.dumps``, so text stays a JSON *string* in the file, and
BigQuery loads ``"{\\"k\\":\\"v\\"}"`` (an escaped string), not ``{"k": "v"}`` (Beam 2.77 warns of
this; tests/e2e/test_load_files.py shows it on a real load job). Rows bound for load files
therefore get their JSON text parsed back into values first.
"""

from __future__ import annotations

from typing import Any

import orjson

from schemas.tables import schema_fields


def _json_paths(fields: list[dict[str, Any]]) -> tuple[tuple[str, ...], dict[str, tuple]]:
    """(the JSON columns, {record column: its own paths}) of a schema."""
    columns = tuple(f["name"] for f in fields if f["type"] == "JSON")
    records = {
        f["name"]: _json_paths(f["fields"])
        for f in fields
        if f["type"] in ("RECORD", "STRUCT") and _has_json(f["fields"])
    }
    return columns, records


def _has_json(fields: list[dict[str, Any]]) -> bool:
    return any(f["type"] == "JSON" or (f["type"] in ("RECORD", "STRUCT") and _has_json(f["fields"])) for f in fields)


def _parsed(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


def _with_values(row: dict[str, Any], paths: tuple[tuple[str, ...], dict[str, tuple]]) -> dict[str, Any]:
    columns, records = paths
    out = dict(row)
    for name in columns:
        if out.get(name) is not None:
            out[name] = _parsed(out[name])
    for name, inner in records.items():
        value = out.get(name)
        if isinstance(value, list):
            out[name] = [_with_values(item, inner) if isinstance(item, dict) else item for item in value]
        elif isinstance(value, dict):
            out[name] = _with_values(value, inner)
    return out


class LoadFileRows:
    """One table's rows as its load files need them (see the module doc)."""

    def __init__(self, table: str) -> None:
        self._paths = _json_paths(schema_fields(table))

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        return _with_values(row, self._paths)

"""Helpers of the tests that run against the local emulators."""

from __future__ import annotations

STACK_PROJECT = "local-project"


def query_rows(client, sql: str) -> list[dict]:
    """A query's rows as dicts."""
    return [dict(row.items()) for row in client.query(sql).result()]


def rows_by(rows: list[dict], column: str) -> dict:
    """Rows grouped by one column's value (lists, in query order)."""
    groups: dict = {}
    for row in rows:
        groups.setdefault(row[column], []).append(row)
    return groups

"""Daily Export files: Branch's export columns and one events row as one CSV line (pure)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain.event_names import TOPICS
from schemas.tables import EVENTS, schema_fields

MAX_ROWS_PER_FILE = 200_000
MANIFEST = "manifest.json"

# Branch's export columns: identity and time first, then every user_data_* and event_data_*
# column of the events table (so new ones flow into the export), then the JSON columns.
# Internal bookkeeping (app_id, topic, ingest times, Segment ids) stays out; the Segment
# anonymous id travels inside custom_data as the seed asks.
_SCHEMA_COLUMNS = [field["name"] for field in schema_fields(EVENTS)]
EXPORT_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "timestamp",
    "timestamp_iso",
    "origin",
    "customer_event_alias",
    *(c for c in _SCHEMA_COLUMNS if c.startswith(("user_data_", "event_data_"))),
    "content_items",
    "custom_data",
)
PLAIN_COLUMNS = [c for c in EXPORT_COLUMNS if c not in ("timestamp", "timestamp_iso", "content_items", "custom_data")]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):  # the emulator pads NUMERIC to 9 decimals; BigQuery does not
        return format(value.normalize(), "f")
    return str(value)


def csv_line(row: dict[str, Any]) -> str:
    """One events_dedup row (as :func:`export_sql` selects it) as a CSV line in EXPORT_COLUMNS order."""
    moment: datetime = row["timestamp"]
    custom_data = json.loads(row["custom_data"]) if row["custom_data"] else {}
    if row["segment_anonymous_id"] is not None:
        custom_data = {**(custom_data or {}), "segment_anonymous_id": row["segment_anonymous_id"]}
    values = {
        **{c: _cell(row[c]) for c in PLAIN_COLUMNS},
        "timestamp": str(int(moment.timestamp() * 1000)),
        "timestamp_iso": moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "content_items": row["content_items"] or "[]",
        "custom_data": json.dumps(custom_data, separators=(",", ":"), ensure_ascii=False) if custom_data else "",
    }
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([values[c] for c in EXPORT_COLUMNS])
    return out.getvalue()


def manifest(entries: list[tuple[str, str, Any]], output: str, app_id: str, day: str) -> dict[str, Any]:
    """The export's manifest: files (relative to ``output``) and row counts per topic, from
    ``("file", topic, path)`` and ``("rows", topic, n)`` entries."""
    prefix = output.rstrip("/") + "/"
    return {
        "app_id": app_id,
        "export_date": day,
        "generated_at": datetime.now(UTC).isoformat(),
        "files": {
            t: sorted(p.removeprefix(prefix) for kind, topic, p in entries if kind == "file" and topic == t)
            for t in TOPICS
        },
        "row_counts": {t: sum(n for kind, topic, n in entries if kind == "rows" and topic == t) for t in TOPICS},
    }

"""Daily Export files (rules §8, 10), pure: Branch's v2 columns and value formats, one events
row as one CSV line, the file names, the readiness rule and the staleness decision.

Branch's readers (Kachit/branch-sdk-go's ``csv.go``/``types.go``, the Singer taps, position-
based Java readers) parse these files strictly, so every value format here follows Branch's
own sample files: integer ``id``, epoch-ms ``timestamp``, ``YYYY-MM-DD HH:MM:SS+0000``
times, ``true``/``false``, JSON text for arrays and objects, an empty string where we have
no value.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import operator
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import orjson

from domain.mapping import DEFAULT_MAX_EVENT_AGE
from domain.timestamps import EPOCH
from schemas.branch_export import BRANCH_V2_COLUMNS
from schemas.tables import EVENTS, schema_fields

MAX_ROWS_PER_FILE = 200_000
MANIFEST = "manifest.json"
# A day is exported once the streaming job can no longer accept events of it
# (``--max_event_age``) plus this much, for the pipeline's own lag (rules §10).
SAFETY_LAG = timedelta(hours=2)
DEFAULT_READY_AFTER = DEFAULT_MAX_EVENT_AGE + SAFETY_LAG
DEFAULT_LOOKBACK_DAYS = 7

# The Daily Export API's keys: Branch's 15 event topics (rules §8), whether or not we import them.
EXPORT_TOPICS: tuple[str, ...] = (
    "eo_branch_cta_view",
    "eo_click",
    "eo_commerce_event",
    "eo_content_event",
    "eo_custom_event",
    "eo_dismissal",
    "eo_impression",
    "eo_install",
    "eo_open",
    "eo_pageview",
    "eo_reinstall",
    "eo_sms_sent",
    "eo_user_lifecycle_event",
    "eo_web_session_start",
    "eo_web_to_app_auto_redirect",
)

_SCHEMA_COLUMNS = tuple(field["name"] for field in schema_fields(EVENTS))
_BRANCH = frozenset(BRANCH_V2_COLUMNS)
# Ours, after Branch's so position-based readers still find Branch's columns: the event id
# Branch's integer ``id`` is derived from, our attribution columns, the touch's link id as
# sent (Branch's ``~id`` column holds integers only), the user_data_* / event_data_* columns
# of the events table Branch has no name for (new ones follow the schema file), content items.
EXTRA_COLUMNS: tuple[str, ...] = (
    "event_id",
    "attributed",
    "attribution_match",
    "last_attributed_touch_link_id",
    *(c for c in _SCHEMA_COLUMNS if c.startswith(("user_data_", "event_data_")) and c not in _BRANCH),
    "content_items",
)
EXPORT_COLUMNS: tuple[str, ...] = (*BRANCH_V2_COLUMNS, *EXTRA_COLUMNS)

# Columns of events_dedup the export reads: each file column of the same name, plus the
# view's currency columns. The others are derived below.
_DERIVED = frozenset(
    {"id", "timestamp", "last_attributed_touch_timestamp", "last_attributed_touch_data_tilde_id"}
    | {"custom_data", "content_items"}
)
VIEW_COLUMNS: tuple[str, ...] = (
    "id",
    "app_id",
    "timestamp",
    "segment_anonymous_id",
    "last_attributed_touch_timestamp",
    "last_attributed_touch_data_tilde_id",
    "event_data_revenue_in_usd",
    "event_data_exchange_rate",
    *(c for c in _SCHEMA_COLUMNS if c in EXPORT_COLUMNS and c not in _DERIVED),
)
JSON_COLUMNS = ("custom_data", "content_items")  # read as JSON text
_COPIED = tuple(c for c in VIEW_COLUMNS if c in EXPORT_COLUMNS and c not in _DERIVED)

_ID_MASK = (1 << 63) - 1
_HOUR, _MINUTE, _SECOND = timedelta(hours=1), timedelta(minutes=1), timedelta(seconds=1)


def export_id(app_id: str, event_id: str) -> int:
    """Branch's integer ``id`` for one of our events: the first 8 bytes of
    sha256("<app_id>/<event id>") as a big-endian integer, masked to 63 bits (a positive
    int64 every reader can parse). Stable: the same event always gets the same id, so a
    re-exported day replaces rows instead of adding new ones in a client's table."""
    digest = hashlib.sha256(f"{app_id}/{event_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & _ID_MASK


def epoch_ms(moment: datetime) -> int:
    """Whole milliseconds since the epoch (floored, as Branch's ``timestamp``)."""
    since = moment - EPOCH
    return since.days * 86_400_000 + since.seconds * 1_000 + since.microseconds // 1_000


def branch_time(moment: datetime) -> str:
    """Branch's ``*_timestamp_iso`` form, Go layout ``2006-01-02 15:04:05-0700``, always UTC."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return utc.isoformat(" ", "seconds")[:19] + "+0000"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):  # the emulator pads NUMERIC to 9 decimals; BigQuery does not
        return format(value.normalize(), "f")
    if isinstance(value, list | tuple):  # repeated columns (tags): JSON text, empty when none
        return json.dumps(list(value), ensure_ascii=False, separators=(",", ":")) if value else ""
    return str(value)


def _integer_link_id(value: str | None) -> str:
    """Branch's ``~id`` is an integer (readers parse it as one); any other link id stays in
    our ``last_attributed_touch_link_id`` column only."""
    if value and value.isascii() and value.isdigit() and int(value) <= _ID_MASK:
        return str(int(value))
    return ""


def _touch_cells(row: Mapping[str, Any]) -> tuple[str, ...]:
    """The last attributed touch's time columns: epoch ms, ISO and the elapsed whole units
    (``_DERIVED_COLUMNS``' first five)."""
    touched: datetime | None = row["last_attributed_touch_timestamp"]
    if touched is None:
        return _NO_TOUCH
    elapsed = row["timestamp"] - touched
    return (
        str(epoch_ms(touched)),
        branch_time(touched),
        str(elapsed // _HOUR),
        str(elapsed // _MINUTE),
        str(elapsed // _SECOND),
    )


def _json_value(value: Any) -> Any:
    """A JSON column's value: as read (BigQuery's client parses JSON), or from its JSON text."""
    return orjson.loads(value) if isinstance(value, str) else value


def _json_text(value: Any) -> str:
    """Compact JSON text, UTF-8 as it is (numbers, as the emulator's NUMERIC, as floats)."""
    return orjson.dumps(value, default=_json_default).decode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def _custom_data(row: Mapping[str, Any]) -> str:
    """A JSON object, ``{}`` when empty; the Segment anonymous id travels in it (the seed asks so)."""
    custom = _json_value(row["custom_data"]) if row["custom_data"] else {}
    if row["segment_anonymous_id"] is not None:
        custom = {**(custom or {}), "segment_anonymous_id": row["segment_anonymous_id"]}
    return _json_text(custom or {})


def _content_items(row: Mapping[str, Any]) -> str:
    """The products as a JSON array, ``[]`` when none."""
    items = row["content_items"]
    if not items:
        return "[]"
    return items if isinstance(items, str) else _json_text(items)


def export_values(row: Mapping[str, Any]) -> dict[str, str]:
    """One events_dedup row (``VIEW_COLUMNS``; JSON columns as read, or as JSON text) -> a value per file column."""
    return {c: _cell(v) for c, v in zip(EXPORT_COLUMNS, export_cells(row), strict=True)}


# The derived file columns, in the order export_cells makes them.
_DERIVED_COLUMNS = (
    "last_attributed_touch_timestamp",
    "last_attributed_touch_timestamp_iso",
    "hours_from_last_attributed_touch_to_event",
    "minutes_from_last_attributed_touch_to_event",
    "seconds_from_last_attributed_touch_to_event",
    "id",
    "event_id",
    "timestamp",
    "timestamp_iso",
    "event_timestamp",
    "last_attributed_touch_data_tilde_id",
    "last_attributed_touch_link_id",
    "custom_data",
    "content_items",
)
_COPIED_VALUES = operator.itemgetter(*_COPIED)
# The copied columns whose values CSV would not write as Branch does (bools, NUMERIC, arrays,
# and the view's own columns): the others are text, integers or NULL, which the CSV writer
# writes as they are (NULL as an empty field).
_PLAIN_TYPES = frozenset({("STRING", "NULLABLE"), ("STRING", "REQUIRED"), ("INT64", "NULLABLE"), ("INT64", "REQUIRED")})
_FIELD_TYPES = {field["name"]: (field["type"], field.get("mode", "NULLABLE")) for field in schema_fields(EVENTS)}
_CONVERTED = tuple(i for i, c in enumerate(_COPIED) if _FIELD_TYPES.get(c) not in _PLAIN_TYPES)
_NO_TOUCH = ("",) * 5
# A row's cells are made as [copied..., derived..., ""]; this picks each file column's cell.
_CELL_INDEX = {
    **{c: len(_COPIED) + i for i, c in enumerate(_DERIVED_COLUMNS)},
    **{c: i for i, c in enumerate(_COPIED)},
}
_TO_FILE_ORDER = operator.itemgetter(
    *(_CELL_INDEX.get(c, len(_COPIED) + len(_DERIVED_COLUMNS)) for c in EXPORT_COLUMNS)
)


def export_cells(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """One events_dedup row as its file's cells, in ``EXPORT_COLUMNS`` order, for a CSV writer
    (None an empty field, an integer its digits)."""
    return _TO_FILE_ORDER(_cells(row))


def export_line(row: Mapping[str, Any]) -> str:
    """One events_dedup row as its file's line, ``\n`` ended: what Python's CSV writer (RFC
    4180) writes for :func:`export_cells`, made without it for every exported row (the writer
    took half the time). Only text cells can hold a comma or a quote: they are quoted as the
    writer quotes them, and the cells joined. A line break in any cell: through the writer."""
    cells = _cells(row)
    for index in _TEXT_CELLS:
        text = cells[index]
        if text is None:
            cells[index] = ""
        elif "," in text or '"' in text:
            cells[index] = '"' + text.replace('"', '""') + '"'
    for index in _INTEGER_CELLS:
        value = cells[index]
        cells[index] = "" if value is None else str(value)
    line = ",".join(_TO_FILE_ORDER(cells))
    if "\n" in line or "\r" in line:
        return _csv(export_cells(row)) + "\n"
    return line + "\n"


def _cells(row: Mapping[str, Any]) -> list[Any]:
    """The row's cells as made: the copied columns (read at once; only those a CSV writer would
    write otherwise converted), then ``_DERIVED_COLUMNS``, then an empty one."""
    moment: datetime = row["timestamp"]
    ms = str(epoch_ms(moment))
    link_id = row["last_attributed_touch_data_tilde_id"]
    cells: list[Any] = list(_COPIED_VALUES(row))
    for index in _CONVERTED:
        cells[index] = _cell(cells[index])
    cells += _touch_cells(row)
    cells += (
        str(export_id(row["app_id"], row["id"])),
        row["id"],
        ms,
        branch_time(moment),
        ms,
        _integer_link_id(link_id),
        _cell(link_id),
        _custom_data(row),
        _content_items(row),
        "",
    )
    return cells


# export_line's cells (in _cells' order) that may hold any text: all the copied ones but the
# integers, and the derived ones not made of digits and times here.
_INTEGER_CELLS = tuple(
    i for i, c in enumerate(_COPIED) if _FIELD_TYPES.get(c) in {("INT64", "NULLABLE"), ("INT64", "REQUIRED")}
)
_TEXT_CELLS = (
    *(i for i in range(len(_COPIED)) if i not in _INTEGER_CELLS),
    *(_CELL_INDEX[c] for c in ("event_id", "last_attributed_touch_link_id", "custom_data", "content_items")),
)


def csv_line(row: Mapping[str, Any]) -> str:
    """One row as an RFC 4180 CSV line in ``EXPORT_COLUMNS`` order, empty where we have no value."""
    return export_line(row).removesuffix("\n")


def header_line() -> str:
    return _csv(EXPORT_COLUMNS)


def _csv(cells: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue().removesuffix("\n")


def export_shards(rows: int, max_rows_per_file: int) -> int:
    """How many hash shards of the event id an app-day of (at most) ``rows`` rows is read in:
    each about three quarters of a file, so that a shard's topic rarely needs a second file."""
    return max(1, math.ceil(rows / max(1, max_rows_per_file * 3 // 4)))


def file_name(app_id: str, day: date, topic: str, token: str, n: int) -> str:
    """Branch's naming (rules §8): ``<app_id>-<YYYY-MM-DD>-<topic>-v2-<hash>-<n>.csv.gz``."""
    return f"{app_id}-{day.isoformat()}-{topic}-v2-{token}-{n}.csv.gz"


def export_token(app_id: str, day: date, run_id: str) -> str:
    """The ``<hash>`` of one export of a day: new for every run, so a re-export (stale day)
    never overwrites a file a client may be downloading from an earlier answer."""
    return hashlib.sha256(f"{app_id}/{day.isoformat()}/{run_id}".encode()).hexdigest()[:16]


def ready_at(day: date, ready_after: timedelta = DEFAULT_READY_AFTER) -> datetime:
    """When day D is complete (rules §10): D + 1 day + max event age + safety lag."""
    return datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=1) + ready_after


def is_complete(day: date, now: datetime, ready_after: timedelta = DEFAULT_READY_AFTER) -> bool:
    return now >= ready_at(day, ready_after)


def complete_days(now: datetime, ready_after: timedelta, lookback_days: int) -> list[date]:
    """The ``lookback_days`` most recent complete days, oldest first."""
    newest = (now - ready_after - timedelta(days=1)).astimezone(UTC).date()
    return [newest - timedelta(days=back) for back in reversed(range(lookback_days))]


@dataclasses.dataclass(frozen=True)
class DaySnapshot:
    """What the events table held for an app's day: a late event (backfill, replay) changes it."""

    rows: int = 0
    max_ingested_at: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> DaySnapshot | None:
        if not isinstance(data, Mapping):
            return None
        return cls(int(data.get("rows", 0)), data.get("max_ingested_at"))


@dataclasses.dataclass(frozen=True)
class PartitionSnapshot:
    """What a day's partition of the events table held (every app), from its metadata: a run
    reads an app's rows of a day only when this changed since the app's export."""

    rows: int = 0
    last_modified: str | None = None


@dataclasses.dataclass(frozen=True)
class DayExport:
    """One app's day to (re-)export: its file token, its snapshot, and whether it was complete."""

    app_id: str
    day: date
    token: str
    snapshot: DaySnapshot
    complete: bool
    partition: PartitionSnapshot | None = None


def partition_unchanged(existing: Mapping[str, Any] | None, partition: PartitionSnapshot) -> bool:
    """Whether a day's partition is as it was when the app's day was exported complete (then
    its rows are too, and nothing is read)."""
    if existing is None or not existing.get("complete"):
        return False
    return existing.get("partition") == dataclasses.asdict(partition)


def needs_export(existing: Mapping[str, Any] | None, current: DaySnapshot) -> bool:
    """Whether a complete day must be (re-)exported: never exported, exported before it was
    complete (an explicit ``--export_date``), or its events changed since (rules §10)."""
    if existing is None or not existing.get("complete"):
        return True
    return DaySnapshot.from_json(existing.get("snapshot")) != current


def manifest(plan: DayExport, files: Iterable[tuple[str, str, int]], generated_at: datetime) -> dict[str, Any]:
    """The manifest of one app's day from its ``(topic, file name, rows)`` files; written last,
    so its presence means the export is finished."""
    ordered = sorted(files)
    return {
        "app_id": plan.app_id,
        "export_date": plan.day.isoformat(),
        "generated_at": generated_at.astimezone(UTC).isoformat(),
        "complete": plan.complete,
        "snapshot": dataclasses.asdict(plan.snapshot),
        "partition": None if plan.partition is None else dataclasses.asdict(plan.partition),
        "files": {t: [name for topic, name, _ in ordered if topic == t] for t in EXPORT_TOPICS},
        "row_counts": {t: sum(n for topic, _, n in ordered if topic == t) for t in EXPORT_TOPICS},
    }


def served_files(
    existing: Mapping[str, Any] | None, day: date, now: datetime, ready_after: timedelta
) -> dict[str, list[str]]:
    """The Export API's answer, file names per topic: every topic, ``[]`` unless the day is
    complete and was exported complete (a partial export, e.g. the local demo's, is not served)."""
    listed = (
        existing.get("files", {})
        if existing and existing.get("complete") and is_complete(day, now, ready_after)
        else {}
    )
    return {t: list(listed.get(t, [])) for t in EXPORT_TOPICS}

"""Read Daily Export files the way Kachit/branch-sdk-go does (``csv.go``, ``types.go``).

Its reader: gunzip (required), Go's ``encoding/csv`` with ``LazyQuotes``, a header row mapped
to struct fields by name, then per column type: ``CustomInteger`` (``strconv.Atoi``),
``CustomFloat64`` (``strconv.ParseFloat``), ``CustomTimestamp`` (``time.Parse`` with the
layout ``2006-01-02 15:04:05-0700``), ``CustomBoolean`` (true/false, anything else silently
false: held strict here, since a silent false is still a wrong value). An empty cell is the
zero value. The column types are those of its ``Event`` struct.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from datetime import datetime
from typing import Any

INTEGER_COLUMNS = (
    "id",  # a CustomInteger in older versions of the client, a string now: both must work
    "timestamp",
    "last_attributed_touch_timestamp",
    "last_attributed_touch_data_tilde_id",
    "days_from_last_attributed_touch_to_event",
    "last_cta_view_timestamp",
    "di_match_click_token",
    "event_timestamp",
)
FLOAT_COLUMNS = ("event_data_revenue_in_usd", "event_data_exchange_rate", "event_data_revenue")
TIME_COLUMNS = ("timestamp_iso", "last_attributed_touch_timestamp_iso", "last_cta_view_timestamp_iso")
BOOLEAN_COLUMNS = ("deep_linked", "first_event_for_user", "user_data_opted_in")

_ATOI = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")  # what ParseFloat takes, minus inf/NaN/exponents we never write
_GO_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]\d{4}")


def parse_like_kachit(data: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    """(header, typed rows) of a gzipped export file; raises where the Go client would fail."""
    text = gzip.decompress(data).decode("utf-8")  # strict UTF-8; a BOM would become part of "id"
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    header, *lines = list(reader)
    rows = []
    for line in lines:
        assert len(line) == len(header), "Go's csv.Reader refuses a row with another field count"
        rows.append({name: _typed(name, value) for name, value in zip(header, line, strict=True)})
    return header, rows


def _typed(name: str, value: str) -> Any:
    if value == "":
        return None
    if name in INTEGER_COLUMNS:
        if not _ATOI.fullmatch(value) or not -(2**63) <= int(value) < 2**63:
            raise ValueError(f"{name}: strconv.Atoi fails on {value!r}")
        return int(value)
    if name in FLOAT_COLUMNS:
        if not _FLOAT.fullmatch(value):
            raise ValueError(f"{name}: strconv.ParseFloat fails on {value!r}")
        return float(value)
    if name in TIME_COLUMNS:
        if not _GO_TIME.fullmatch(value):
            raise ValueError(f"{name}: time.Parse(2006-01-02 15:04:05-0700) fails on {value!r}")
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S%z")
    if name in BOOLEAN_COLUMNS:
        if value.lower() not in ("true", "false"):
            raise ValueError(f"{name}: not a boolean: {value!r}")
        return value.lower() == "true"
    return value

"""Dated exchange rates to USD, read from an operator's CSV (pure, no I/O).

The CSV has a header and the columns ``day,currency,usd_per_unit`` (``date`` is accepted for
``day``, ``rate`` for ``usd_per_unit``): one row per currency and first day of the rate,
``usd_per_unit`` the US dollars one unit of the currency is worth. A rate applies from its
day until the currency's next dated rate (``schemas/sql/events_dedup.sql`` joins them), so a
file may hold one row per currency (a fixed rate) or a daily history.

Every bad line is reported with its line number; nothing is loaded from a file with errors,
so a half-read file never leaves the table with some days' rates and not others.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from domain.currencies import ISO_4217

BUNDLED_RATES = Path(__file__).with_name("data") / "exchange_rates.csv"
_DAY_COLUMNS = ("day", "date")
_RATE_COLUMNS = ("usd_per_unit", "rate")
# NUMERIC holds 9 decimal places; smaller rates would round to 0.
MIN_RATE = Decimal("0.000000001")
MAX_RATE = Decimal("1000000")


@dataclasses.dataclass(frozen=True)
class Rate:
    currency: str
    day: date
    usd_per_unit: Decimal


class RatesError(ValueError):
    """The file's problems, one per line (``line N: ...``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _column(header: list[str], names: tuple[str, ...]) -> str | None:
    return next((name for name in names if name in header), None)


def _rate(line: int, row: dict[str, str | None], day_col: str, rate_col: str) -> Rate | str:
    currency = (row.get("currency") or "").strip().upper()
    if currency not in ISO_4217:
        return f"line {line}: currency {currency or '(empty)'!r} is not an ISO 4217 code"
    try:
        day = date.fromisoformat((row.get(day_col) or "").strip())
    except ValueError:
        return f"line {line}: {day_col} must be YYYY-MM-DD"
    try:
        value = Decimal((row.get(rate_col) or "").strip())
    except InvalidOperation:
        return f"line {line}: {rate_col} is not a number"
    if not value.is_finite() or not MIN_RATE <= value <= MAX_RATE:
        return f"line {line}: {rate_col} must be between {MIN_RATE} and {MAX_RATE}"
    return Rate(currency, day, value.quantize(MIN_RATE))


def parse_rates(lines: Iterable[str]) -> list[Rate]:
    """The rates of a CSV, or :class:`RatesError` naming every bad line (and repeats)."""
    reader = csv.DictReader(lines)
    header = [name.strip().lower() for name in reader.fieldnames or []]
    reader.fieldnames = header
    day_col, rate_col = _column(header, _DAY_COLUMNS), _column(header, _RATE_COLUMNS)
    if "currency" not in header or day_col is None or rate_col is None:
        raise RatesError(["header: needs the columns day (or date), currency, usd_per_unit (or rate)"])
    rates, problems, seen = [], [], set()
    for row in reader:
        parsed = _rate(reader.line_num, row, day_col, rate_col)
        if isinstance(parsed, str):
            problems.append(parsed)
        elif (parsed.currency, parsed.day) in seen:
            problems.append(f"line {reader.line_num}: a second rate for {parsed.currency} on {parsed.day}")
        else:
            seen.add((parsed.currency, parsed.day))
            rates.append(parsed)
    if problems:
        raise RatesError(problems)
    return rates

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

import bisect
import csv
import dataclasses
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

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


_NUMERIC_PLACES = Decimal("0.000000001")  # BigQuery NUMERIC: 9 decimal places
USD = "USD"


class RateBook:
    """Dated rates to USD, looked up as ``events_dedup`` joins them: a currency's latest rate
    on or before the event's UTC day; USD is 1; no rate, no USD value."""

    def __init__(self, rates: Iterable[Rate]) -> None:
        by_currency: dict[str, list[tuple[date, Decimal]]] = {}
        for rate in rates:
            by_currency.setdefault(rate.currency, []).append((rate.day, rate.usd_per_unit))
        self._days = {currency: [day for day, _ in sorted(dated)] for currency, dated in by_currency.items()}
        self._rates = {currency: [value for _, value in sorted(dated)] for currency, dated in by_currency.items()}

    def __len__(self) -> int:
        return sum(len(days) for days in self._days.values())

    def usd_per_unit(self, currency: str | None, day: date) -> Decimal | None:
        if currency == USD:
            return Decimal(1)
        days = self._days.get(currency or "")
        if not days:
            return None
        index = bisect.bisect_right(days, day) - 1
        return self._rates[currency or ""][index] if index >= 0 else None

    def usd_columns(self, row: Mapping[str, Any]) -> dict[str, str | None]:
        """``event_data_exchange_rate`` and ``event_data_revenue_in_usd`` of an events row (the
        columns ``events_dedup`` adds), as NUMERIC text."""
        rate = self.usd_per_unit(row.get("event_data_currency"), date.fromisoformat(str(row["timestamp"])[:10]))
        revenue = row.get("event_data_revenue")
        in_usd = None
        if rate is not None and revenue is not None:
            in_usd = (Decimal(str(revenue)) * rate).quantize(_NUMERIC_PLACES, rounding=ROUND_HALF_UP).normalize()
        return {
            "event_data_exchange_rate": None if rate is None else f"{rate.normalize():f}",
            "event_data_revenue_in_usd": None if in_usd is None else f"{in_usd:f}",
        }

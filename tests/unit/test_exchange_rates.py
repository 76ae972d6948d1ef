"""Dated exchange rates (domain.exchange_rates): the CSV and the lookup the webhooks use, which
must agree with the join of schemas/sql/events_dedup.sql (checked on the emulator by
tests/e2e/test_webhooks.py and tests/e2e/test_query_api.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.exchange_rates import RateBook, RatesError, parse_rates

CSV = ["day,currency,usd_per_unit", "2026-01-01,EUR,1.10", "2026-06-01,EUR,1.20", "2026-03-01,JPY,0.0067"]


def test_a_rate_applies_from_its_day_until_the_currencys_next_one():
    book = RateBook(parse_rates(CSV))
    assert book.usd_per_unit("EUR", date(2025, 12, 31)) is None  # before the first rate
    assert book.usd_per_unit("EUR", date(2026, 1, 1)) == Decimal("1.10")
    assert book.usd_per_unit("EUR", date(2026, 5, 31)) == Decimal("1.10")
    assert book.usd_per_unit("EUR", date(2026, 6, 1)) == Decimal("1.20")
    assert book.usd_per_unit("EUR", date(2030, 1, 1)) == Decimal("1.20")
    assert book.usd_per_unit("GBP", date(2026, 6, 1)) is None  # no rate: no USD value
    assert book.usd_per_unit("USD", date(1999, 1, 1)) == 1  # always 1, with or without rates
    assert len(book) == 3


@pytest.mark.parametrize(
    ("currency", "revenue", "day", "rate", "in_usd"),
    [
        ("EUR", "10", "2026-07-04", "1.2", "12"),
        ("JPY", "1500", "2026-03-02", "0.0067", "10.05"),
        ("USD", "9.99", "2026-07-04", "1", "9.99"),
        ("GBP", "5", "2026-07-04", None, None),
        ("EUR", None, "2026-07-04", "1.2", None),  # no revenue: a rate, no amount
        (None, "5", "2026-07-04", None, None),
    ],
)
def test_the_usd_columns_of_a_row_are_the_views(currency, revenue, day, rate, in_usd):
    row = {"event_data_currency": currency, "event_data_revenue": revenue, "timestamp": f"{day}T23:59:59.000000Z"}
    assert RateBook(parse_rates(CSV)).usd_columns(row) == {
        "event_data_exchange_rate": rate,
        "event_data_revenue_in_usd": in_usd,
    }


def test_a_usd_amount_keeps_nine_places_as_numeric_does():
    row = {"event_data_currency": "JPY", "event_data_revenue": "0.123456789", "timestamp": "2026-03-02T00:00:00Z"}
    assert RateBook(parse_rates(CSV)).usd_columns(row)["event_data_revenue_in_usd"] == "0.00082716"  # 0.0008271604863


def test_a_file_with_a_bad_line_loads_nothing():
    with pytest.raises(RatesError) as raised:
        parse_rates([*CSV, "2026-13-01,EUR,1", "2026-01-01,EUR,1.3"])
    assert len(raised.value.problems) == 2

"""The hot helpers, compiled (``domain/_fast.pyx``) and pure (``domain/_slow.py``): each form
gives what the helper's definition gives, so the two give the same answers.

Every test runs on each form present: the pure one always, the compiled one in the compiled
run (``./run_tests.sh compiled``, which CI runs), where ``speedups`` must have picked it.
"""

from __future__ import annotations

import copy
import importlib
import os
import re
from datetime import UTC, datetime, timedelta, timezone
from importlib.machinery import EXTENSION_SUFFIXES

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import _slow, speedups
from domain.column_types import RECORD_TYPES, TYPE_CHECKS, is_numeric
from domain.config import load_config
from domain.mapping import MAPPED_FIELDS, MAPPED_VALIDATOR, ImportSettings, process_message
from domain.row_schema import _predicate_columns
from tests.support import REPO
from tools.samples import generate_corpus

EXPECT_COMPILED = os.environ.get("SEGMENT_BRANCH_EXPECT_COMPILED") == "1"
FORMS = [_slow] + ([importlib.import_module("domain._fast")] if EXPECT_COMPILED else [])
each_form = pytest.mark.parametrize("form", FORMS, ids=lambda form: form.__name__.rsplit(".", 1)[1])


def test_the_build_in_use_is_the_one_asked_for():
    """The compiled tier runs on what ``pip install .`` builds in a fresh virtualenv
    (scripts/build_compiled.py): an ordinary install compiles the domain modules."""
    from domain import mapping

    compiled_mapping = mapping.__file__.endswith(tuple(EXTENSION_SUFFIXES))
    assert (speedups.COMPILED, compiled_mapping) == (EXPECT_COMPILED, EXPECT_COMPILED)
    if EXPECT_COMPILED:  # the keyed build beside the checkout, never the checkout itself
        assert ".local/compiled/" in mapping.__file__


def test_the_checkout_holds_no_compiled_module_that_could_shadow_a_source():
    built = [path.name for path in (REPO / "domain").iterdir() if path.name.endswith(tuple(EXTENSION_SUFFIXES))]
    assert built == []


# ------------------------------------------------------------------ has_long_number


def long_number_definition(data: bytes) -> bool:
    """20 of [0-9.] in a row, or "-" and 19: a number orjson might round (decoder.decode)."""
    return re.search(rb"[0-9.]{20}|-[0-9.]{19}", data) is not None


_RUN_BYTES = st.sampled_from(b"0123456789.-x:")


@each_form
@given(
    data=st.lists(st.one_of(st.binary(max_size=30), st.lists(_RUN_BYTES, max_size=45).map(bytes)), max_size=8).map(
        b"".join
    )
)
def test_the_long_number_search_is_its_definition(form, data):
    assert form.has_long_number(data) is long_number_definition(data)
    assert form.has_long_number(bytearray(data)) is long_number_definition(data)


@each_form
@pytest.mark.parametrize("run", [b"1" * 19, b"1" * 20, b"-" + b"1" * 19, b"-" + b"1" * 18, b"1.2" * 7, b"-1" * 10])
@pytest.mark.parametrize("before,after", [(b"", b""), (b'{"a":', b"}"), (b"x" * 37, b"9"), (b"7", b"-" * 40)])
def test_the_long_number_search_at_every_offset(form, run, before, after):
    for pad in range(40):
        data = before + b"a" * pad + run + after
        assert form.has_long_number(data) is long_number_definition(data), data


# ------------------------------------------------------------------ timestamps


def isoformat_text(value: datetime) -> str:
    """to_bq_timestamp's definition: isoformat() of the UTC time, microseconds, "Z"."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@each_form
@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(0))])))
def test_bq_timestamp_text_is_the_isoformat_text(form, value):
    try:
        expected = isoformat_text(value)
    except OverflowError:  # beyond datetime's range once in UTC
        return
    assert form.to_bq_timestamp(value) == expected


_SEGMENT_FORM = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)
_SEGMENT_FORM_TEXT = st.tuples(
    st.integers(0, 9999),
    st.integers(0, 19),
    st.integers(0, 39),
    st.integers(0, 29),
    st.integers(0, 69),
    st.integers(0, 69),
    st.integers(0, 999),
).map(lambda t: "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z".format(*t))
_LOOKALIKES = st.text(st.sampled_from("0123456789-T:.Z+ \u0663"), min_size=22, max_size=26)
_CALENDAR_EDGES = [
    "1900-02-29T00:00:00.000Z",
    "2000-02-29T00:00:00.000Z",
    "2024-02-29T23:59:59.999Z",
    "2023-02-29T00:00:00.000Z",
    "2026-04-31T00:00:00.000Z",
    "2026-12-31T00:00:00.000Z",
    "0001-01-01T00:00:00.000Z",
    "0000-01-01T00:00:00.000Z",
    "2026-11-28T24:00:00.000Z",
    "2026-11-28T12:60:00.000Z",
    "2026-11-28T12:00:60.000Z",
    "2026-00-10T00:00:00.000Z",
]


def _check_segment_form_reader(form, text: str) -> None:
    """Segment's form is read as fromisoformat reads it; any other text is left to it."""
    try:
        expected = datetime.fromisoformat(text)
    except ValueError:
        expected = None
    if expected is None or not _SEGMENT_FORM.fullmatch(text):
        assert form.segment_timestamp(text) is None and form.segment_text(text) is None
    else:
        parsed = form.segment_timestamp(text)
        assert parsed == expected and parsed.tzinfo is UTC
        assert form.segment_text(text) == isoformat_text(expected)
    if expected is not None:
        assert form.bq_timestamp_of(text, expected) == isoformat_text(expected)


@each_form
@given(st.one_of(_SEGMENT_FORM_TEXT, _LOOKALIKES))
def test_the_segment_form_reader_gives_what_fromisoformat_gives(form, text):
    _check_segment_form_reader(form, text)


@each_form
@pytest.mark.parametrize("text", _CALENDAR_EDGES)
def test_segment_form_calendar_edges_are_decided_as_fromisoformat_decides(form, text):
    _check_segment_form_reader(form, text)


@each_form
@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T12:00:00.123Z",
        "2026-11-28T12:00:00.000Z",
        "0999-01-01T00:00:00.001Z",
        "2026-11-28T12:00:00Z",
        "2026-11-28T12:00:00.123+00:00",
        "2026-11-28T12:00:00.123+05:30",
        "2026-11-28T12:00:00.1234Z",
        "2026-11-28 12:00:00.123Z",
        "2026-11-28T12:00:00,123Z",
        "20261128T120000.123Z",
        "2026-11-28T12:00:00.123",
    ],
)
def test_a_timestamp_text_is_the_text_of_the_time_it_gives(form, text):
    parsed = datetime.fromisoformat(text)
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    assert form.bq_timestamp_of(text, parsed) == isoformat_text(parsed)


# ------------------------------------------------------------------ the row predicate

FIELDS = MAPPED_FIELDS  # the columns of a mapped row (the attribution stage adds the rest)
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def fits_definition(fields: list[dict], row) -> bool:
    """The predicate's definition: exactly the schema's columns, in its order, each value fitting."""
    if type(row) is not dict or list(row) != [field["name"] for field in fields]:
        return False
    for field in fields:
        value, mode = row[field["name"]], field.get("mode", "NULLABLE")
        if value is None:
            if mode == "REQUIRED":
                return False
            continue
        values = value if mode == "REPEATED" else [value]
        if mode == "REPEATED" and type(value) is not list:
            return False
        for element in values:
            if field["type"] in RECORD_TYPES:
                if not fits_definition(field["fields"], element):
                    return False
            elif element is None or not TYPE_CHECKS[field["type"]](element):
                return False
    return True


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    settings_ = ImportSettings(load_config(None), max_event_age=None)
    outcomes = (process_message(data, None, None, settings_, NOW) for data in generate_corpus(400, 5, NOW))
    return [outcome.row for outcome in outcomes if outcome.row is not None]


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["12.5", "-0.000000001", "1" * 30, "1.1234567891", "١٢", "--1", "1.", ".5", "²"]),
    st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=2),
    st.dictionaries(st.text(max_size=3), st.none(), max_size=1),
)


@each_form
def test_every_mapped_row_fits(form, rows):
    predicate = form.RowPredicate(_predicate_columns(FIELDS), is_numeric)
    assert len(rows) > 300
    assert all(predicate(row) and fits_definition(FIELDS, row) for row in rows)


@each_form
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_row_predicate_is_its_definition(form, rows, data):
    predicate = form.RowPredicate(_predicate_columns(FIELDS), is_numeric)
    row = copy.deepcopy(data.draw(st.sampled_from(rows)))
    for _ in range(data.draw(st.integers(1, 3))):
        column = data.draw(st.sampled_from(list(row)))
        row[column] = data.draw(_VALUES)
        items = row.get("content_items")
        if type(items) is list and items and type(items[0]) is dict and data.draw(st.booleans()):
            items[0][data.draw(st.sampled_from(list(items[0])))] = data.draw(_VALUES)
    assert predicate(row) == fits_definition(FIELDS, row)
    if predicate(row):  # a row the predicate passes has no misfit
        assert MAPPED_VALIDATOR._first_misfit(row, "") is None


@each_form
@given(st.one_of(st.text(max_size=40), st.text("-0123456789.", max_size=40)))
def test_numeric_text_is_decided_as_is_numeric_does(form, text):
    predicate = form.RowPredicate(
        _predicate_columns([{"name": "n", "type": "NUMERIC", "mode": "REQUIRED"}]), is_numeric
    )
    assert predicate({"n": text}) == is_numeric(text)


def test_a_row_in_another_order_goes_to_the_walk(rows):
    reordered = dict(reversed(list(rows[0].items())))
    assert MAPPED_VALIDATOR.fits(reordered) is False
    assert MAPPED_VALIDATOR.validate(reordered) is None


# ------------------------------------------------------------------ without_nulls


@each_form
@given(data=st.data())
def test_without_nulls_keeps_every_other_column_in_order(form, rows, data):
    row = dict(data.draw(st.sampled_from(rows)))
    for column in data.draw(st.lists(st.sampled_from(list(row)), max_size=5)):
        row[column] = data.draw(_VALUES)
    expected = [(name, value) for name, value in row.items() if value is not None]
    assert list(form.without_nulls(row).items()) == expected
    assert None in row.values()  # the case is not trivial: mapped rows hold nulls

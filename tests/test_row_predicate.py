"""The events row predicate: the compiled form (``speedups.RowPredicate``, a C pass over the
row) decides exactly as the generated one (``row_schema``'s source) on rows in the schema's
order, and neither ever passes a row the interpretive walk finds a misfit in."""
from __future__ import annotations

import copy
import math
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.tables import EVENTS, schema_fields
from segment_branch.samples import generate_corpus
from transforms import row_schema
from transforms.mapping import ImportSettings, process_message
from transforms.row_schema import EVENTS_VALIDATOR, _is_numeric

NOW = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)
FIELDS = schema_fields(EVENTS)


def _generated_predicate(fields):
    source, entry = row_schema._predicate_source(fields)
    namespace = {"_isfinite": math.isfinite, "_is_numeric": _is_numeric}
    exec(compile(source, "<generated predicate>", "exec"), namespace)
    return namespace[entry]


GENERATED = _generated_predicate(FIELDS)
COMPILED = EVENTS_VALIDATOR.fits


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    from schemas.config import load_config

    settings_ = ImportSettings(load_config(None), max_event_age=None)
    outcomes = (process_message(data, None, None, settings_, NOW) for data in generate_corpus(400, 5, NOW))
    return [outcome.row for outcome in outcomes if outcome.row is not None]


def test_every_mapped_row_is_in_the_schema_order_and_decided_by_the_predicate(rows):
    columns = [field["name"] for field in FIELDS]
    items = [field["name"] for field in FIELDS if field["name"] == "content_items"]
    assert len(rows) > 300 and items
    for row in rows:
        assert list(row) == columns
        assert COMPILED(row) is True and GENERATED(row) is True


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.floats(), st.text(max_size=12),
    st.sampled_from(["12.5", "-0.000000001", "1" * 30, "1.1234567891", "١٢", "--1", "1.", ".5", "²"]),
    st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=2), st.dictionaries(st.text(max_size=3), st.none(), max_size=1),
)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_the_c_predicate_decides_as_the_generated_one(rows, data):
    row = copy.deepcopy(data.draw(st.sampled_from(rows)))
    for _ in range(data.draw(st.integers(1, 3))):
        column = data.draw(st.sampled_from(list(row)))
        row[column] = data.draw(_VALUES)
        items = row.get("content_items")
        if type(items) is list and items and type(items[0]) is dict and data.draw(st.booleans()):
            items[0][data.draw(st.sampled_from(list(items[0])))] = data.draw(_VALUES)
    fits = COMPILED(row)
    assert fits == GENERATED(row)
    if fits:
        assert EVENTS_VALIDATOR._first_misfit(row, "") is None


@given(st.one_of(st.text(max_size=40), st.text("-0123456789.", max_size=40)))
def test_numeric_text_is_decided_as_is_numeric_does(text):
    predicate = row_schema._compile_predicate([{"name": "n", "type": "NUMERIC", "mode": "REQUIRED"}])[1]
    assert predicate({"n": text}) == _is_numeric(text)


def test_a_row_in_another_order_goes_to_the_walk(rows):
    row = rows[0]
    reordered = dict(reversed(list(row.items())))
    assert COMPILED(reordered) is (row_schema.RowPredicate is None)  # the generated one takes any order
    assert EVENTS_VALIDATOR.validate(reordered) is None

"""Rows for load files: JSON columns parsed into values, everything else untouched (pure)."""

from __future__ import annotations

from domain.load_files import LoadFileRows
from schemas.tables import EVENTS


def test_json_text_becomes_values_top_level_and_in_repeated_records():
    row = {
        "id": "e",
        "custom_data": '{"k":"v","n":1}',
        "content_items": [{"sku": "s", "custom_fields": '{"colour":"red"}'}, {"sku": "t", "custom_fields": None}],
        "name": '{"not":"json column"}',
    }
    converted = LoadFileRows(EVENTS)(row)
    assert converted["custom_data"] == {"k": "v", "n": 1}
    assert converted["content_items"] == [
        {"sku": "s", "custom_fields": {"colour": "red"}},
        {"sku": "t", "custom_fields": None},
    ]
    assert converted["name"] == '{"not":"json column"}'  # a STRING column stays text
    assert row["custom_data"] == '{"k":"v","n":1}'  # the input row is not changed


def test_rows_without_json_values_pass_through():
    assert LoadFileRows(EVENTS)({"id": "e", "custom_data": None, "content_items": []}) == {
        "id": "e",
        "custom_data": None,
        "content_items": [],
    }

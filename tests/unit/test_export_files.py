"""Daily Export files and rules (rules §8, 10): Branch's v2 header, value formats a Go reader
parses, file names, readiness, staleness and what the API serves."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.export_files import (
    DEFAULT_READY_AFTER,
    EXPORT_COLUMNS,
    EXPORT_TOPICS,
    EXTRA_COLUMNS,
    MAX_ROWS_PER_FILE,
    VIEW_COLUMNS,
    DayExport,
    DaySnapshot,
    PartitionSnapshot,
    complete_days,
    csv_line,
    export_cells,
    export_id,
    export_line,
    export_shards,
    file_name,
    header_line,
    is_complete,
    manifest,
    needs_export,
    partition_unchanged,
    served_files,
)
from schemas.tables import EVENTS, schema_fields
from tests.support import REPO
from tests.support.branch_csv import parse_like_kachit

# A copy of ../shared/branch/export_v2_columns.txt (Branch's reference header), so a clone
# outside this workspace (CI) checks against it too; the test below holds the two equal
# wherever the original is present.
BRANCH_HEADER = REPO / "tests" / "data" / "branch_export_v2_columns.txt"
SHARED_HEADER = REPO.parent / "shared" / "branch" / "export_v2_columns.txt"
MOMENT = datetime(2021, 2, 14, 1, 0, 12, 345000, tzinfo=UTC)
INTEGER_COLUMNS = [f["name"] for f in schema_fields(EVENTS) if f["type"] == "INT64" and f["name"] in VIEW_COLUMNS]


def view_row(**columns) -> dict:
    """An events_dedup row as the export query returns it (JSON columns as JSON text)."""
    row = dict.fromkeys(VIEW_COLUMNS)
    row.update(
        id="evt-1", app_id="app", timestamp=MOMENT, name="PURCHASE", origin="segment", custom_data=None,
        content_items=None, last_attributed_touch_data_tilde_tags=[], attributed=False,
    )  # fmt: skip
    row.update(columns)
    return row


def gz_file(*rows: dict) -> bytes:
    return gzip.compress("\n".join([header_line(), *(csv_line(r) for r in rows)]).encode() + b"\n")


def test_the_header_is_branchs_v2_header_then_our_columns():
    branch = [line.strip() for line in BRANCH_HEADER.read_text().splitlines() if line.strip()]
    assert len(branch) == 133
    if SHARED_HEADER.exists():
        assert SHARED_HEADER.read_text() == BRANCH_HEADER.read_text()
    assert list(EXPORT_COLUMNS) == [*branch, *EXTRA_COLUMNS]
    assert not set(EXTRA_COLUMNS) & set(branch)


def test_an_attributed_purchase_parses_the_way_the_go_client_reads_it():
    touched = MOMENT - timedelta(days=2, hours=3, minutes=4, seconds=5)
    row = view_row(
        event_data_revenue=Decimal("12.500000000"), event_data_currency="EUR",
        event_data_revenue_in_usd=Decimal("13.55"), event_data_exchange_rate=1.084,
        user_data_limit_ad_tracking=True, user_data_os="IOS", customer_event_alias='say "hi", ok',
        attributed=True, last_attributed_touch_type="CLICK", last_attributed_touch_timestamp=touched,
        last_attributed_touch_data_tilde_id="563212345678901234", last_attributed_touch_data_tilde_campaign="spring",
        last_attributed_touch_data_tilde_tags=["a", "b"], days_from_last_attributed_touch_to_event=2,
        custom_data='{"plan":"pro"}', segment_anonymous_id="anon-1", content_items='[{"$sku":"1"}]',
    )  # fmt: skip
    header, [parsed] = parse_like_kachit(gz_file(row))
    assert header == list(EXPORT_COLUMNS)
    assert parsed["id"] == export_id("app", "evt-1") and parsed["event_id"] == "evt-1"
    assert parsed["timestamp"] == 1613264412345 == parsed["event_timestamp"]
    assert parsed["timestamp_iso"] == MOMENT.replace(microsecond=0)
    assert parsed["last_attributed_touch_timestamp"] == 1613264412345 - (((2 * 24 + 3) * 60 + 4) * 60 + 5) * 1000
    assert parsed["last_attributed_touch_timestamp_iso"] == touched.replace(microsecond=0)
    assert parsed["days_from_last_attributed_touch_to_event"] == 2
    assert parsed["hours_from_last_attributed_touch_to_event"] == "51"
    assert parsed["seconds_from_last_attributed_touch_to_event"] == str(((51 * 60) + 4) * 60 + 5)
    assert parsed["last_attributed_touch_data_tilde_id"] == 563212345678901234
    assert json.loads(parsed["last_attributed_touch_data_tilde_tags"]) == ["a", "b"]
    assert parsed["event_data_revenue"] == 12.5 and parsed["event_data_revenue_in_usd"] == 13.55
    assert parsed["event_data_exchange_rate"] == 1.084
    assert parsed["user_data_limit_ad_tracking"] == "true" and parsed["attributed"] == "true"
    assert parsed["customer_event_alias"] == 'say "hi", ok'
    assert json.loads(parsed["custom_data"]) == {"plan": "pro", "segment_anonymous_id": "anon-1"}
    assert json.loads(parsed["content_items"]) == [{"$sku": "1"}]


def test_missing_values_are_empty_strings_and_custom_data_is_an_empty_object():
    text = gzip.decompress(gz_file(view_row())).decode()
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["custom_data"] == "{}" and row["content_items"] == "[]"
    assert row["attributed"] == "false"
    for column in ("last_attributed_touch_type", "last_attributed_touch_timestamp", "event_data_revenue_in_usd",
                   "last_attributed_touch_data_tilde_tags", "deep_linked", "user_data_browser"):  # fmt: skip
        assert row[column] == "", column
    assert not re.search(r"(?i)\b(null|none|nan)\b", text.splitlines()[1])
    assert not text.startswith("\ufeff")


def test_a_link_id_that_is_no_integer_stays_out_of_branchs_integer_column():
    _, [parsed] = parse_like_kachit(gz_file(view_row(last_attributed_touch_data_tilde_id="abc-123")))
    assert parsed["last_attributed_touch_data_tilde_id"] is None
    assert parsed["last_attributed_touch_link_id"] == "abc-123"


def test_the_integer_id_is_stable_positive_63_bit_and_per_app():
    assert export_id("app", "evt-1") == export_id("app", "evt-1")
    assert export_id("app", "evt-1") != export_id("other", "evt-1")
    assert all(0 <= export_id("app", str(n)) < 2**63 for n in range(1000))
    assert export_id("local-app", "abc") == 178313595352428860  # pinned: ids must never change


def test_file_names_follow_branchs_naming():
    name = file_name("local-app", date(2026, 11, 19), "eo_commerce_event", "0123456789abcdef", 2)
    assert name == "local-app-2026-11-19-eo_commerce_event-v2-0123456789abcdef-2.csv.gz"


def test_a_day_is_complete_one_day_plus_max_event_age_plus_the_safety_lag_after_it_ends():
    day = date(2026, 11, 19)
    ready = datetime(2026, 11, 20, tzinfo=UTC) + timedelta(hours=26)
    assert timedelta(hours=26) == DEFAULT_READY_AFTER
    assert not is_complete(day, ready - timedelta(seconds=1))
    assert is_complete(day, ready)
    assert complete_days(ready, DEFAULT_READY_AFTER, 3) == [date(2026, 11, 17), date(2026, 11, 18), day]
    assert complete_days(ready - timedelta(seconds=1), DEFAULT_READY_AFTER, 1) == [date(2026, 11, 18)]


def plan(complete: bool = True, snapshot: DaySnapshot = DaySnapshot(3, "2026-11-20T01:00:00+00:00")) -> DayExport:
    return DayExport("app", date(2026, 11, 19), "tok", snapshot, complete)


def test_a_day_is_exported_again_when_a_late_event_changed_it_or_it_was_exported_early():
    written = manifest(plan(), [], datetime(2026, 11, 21, 3, tzinfo=UTC))
    same = DaySnapshot(3, "2026-11-20T01:00:00+00:00")
    assert not needs_export(written, same)
    assert needs_export(None, same)
    assert needs_export(written, DaySnapshot(4, "2026-11-22T09:00:00+00:00"))  # a backfill added a row
    assert needs_export(written, DaySnapshot(3, "2026-11-22T09:00:00+00:00"))  # a replay rewrote one
    assert needs_export(manifest(plan(complete=False), [], datetime(2026, 11, 19, tzinfo=UTC)), same)


def test_the_manifest_lists_every_topic_and_the_api_serves_only_complete_days():
    files = [
        ("eo_custom_event", "b-1.csv.gz", 2),
        ("eo_custom_event", "b-0.csv.gz", 5),
        ("eo_commerce_event", "a-0.csv.gz", 1),
    ]
    written = manifest(plan(), files, datetime(2026, 11, 21, 3, tzinfo=UTC))
    assert list(written["files"]) == list(EXPORT_TOPICS) and len(EXPORT_TOPICS) == 15
    assert written["files"]["eo_custom_event"] == ["b-0.csv.gz", "b-1.csv.gz"]
    assert written["row_counts"]["eo_custom_event"] == 7 and written["files"]["eo_click"] == []
    day, later = date(2026, 11, 19), datetime(2026, 11, 25, tzinfo=UTC)
    assert served_files(written, day, later, DEFAULT_READY_AFTER) == written["files"]
    too_early = datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert served_files(written, day, too_early, DEFAULT_READY_AFTER) == {t: [] for t in EXPORT_TOPICS}
    partial = manifest(plan(complete=False), files, datetime(2026, 11, 19, 12, tzinfo=UTC))
    assert served_files(partial, day, later, DEFAULT_READY_AFTER) == {t: [] for t in EXPORT_TOPICS}
    assert served_files(None, day, later, DEFAULT_READY_AFTER) == {t: [] for t in EXPORT_TOPICS}


@pytest.mark.parametrize("value", ["a,b", 'quote "x"', "line\nbreak", "ünï", ""])
def test_text_values_round_trip_through_rfc_4180_quoting(value):
    _, [parsed] = parse_like_kachit(gz_file(view_row(user_data_user_agent=value)))
    assert parsed["user_data_user_agent"] == (value or None)


_TEXT = st.text(st.sampled_from('a,"\r\n \x00é{}[]'))


@given(
    agent=st.one_of(st.none(), _TEXT),
    model=st.one_of(st.none(), _TEXT),
    event_id=_TEXT.filter(bool),
    link_id=st.one_of(st.none(), _TEXT, st.integers(0, 2**64).map(str)),
    tags=st.lists(_TEXT, max_size=2),
    custom=st.one_of(st.none(), st.dictionaries(_TEXT, _TEXT, max_size=2)),
    items=st.one_of(st.none(), _TEXT),
    integer=st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
)
def test_a_line_is_what_pythons_csv_writer_writes_for_any_cell_values(
    agent, model, event_id, link_id, tags, custom, items, integer
):
    row = view_row(
        user_data_user_agent=agent, user_data_model=model, id=event_id, last_attributed_touch_data_tilde_id=link_id,
        last_attributed_touch_data_tilde_tags=tags, custom_data=custom, content_items=items,
    )  # fmt: skip
    for column in INTEGER_COLUMNS:
        row[column] = integer
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\n").writerow(export_cells(row))
    assert export_line(row) == expected.getvalue()


@pytest.mark.parametrize(
    ("rows", "shards"), [(0, 1), (1, 1), (150_000, 1), (150_001, 2), (1_000_000, 7), (800_000_000, 5334)]
)
def test_an_app_day_is_read_in_shards_of_about_three_quarters_of_a_file(rows, shards):
    assert export_shards(rows, MAX_ROWS_PER_FILE) == shards


def test_an_unchanged_partition_skips_the_count_only_after_a_complete_export():
    partition = PartitionSnapshot(120, "2026-11-20T03:00:00+00:00")
    exported = {"complete": True, "partition": {"rows": 120, "last_modified": "2026-11-20T03:00:00+00:00"}}
    assert partition_unchanged(exported, partition)
    assert not partition_unchanged(exported, PartitionSnapshot(121, "2026-11-20T04:00:00+00:00"))
    assert not partition_unchanged({**exported, "complete": False}, partition)
    assert not partition_unchanged(None, partition)
    assert not partition_unchanged({"complete": True, "snapshot": {}}, partition)  # exported before this field

"""Touches from Branch's v2 export rows (rules §9): identity, type, time, link data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.branch_exports import InvalidExportRow, topic_of, touch_of_export_row
from domain.identifiers import Placeholders

MS = 1_764_331_200_000  # 2025-11-28T12:00:00Z


def row(**columns: str) -> dict[str, str]:
    return {"id": "563212345678901234", "timestamp": str(MS), "user_data_developer_identity": "", **columns}


@pytest.mark.parametrize(("name", "topic"), [
    ("app-2026-11-19-eo_click-v2-abc-0.csv.gz", "eo_click"),
    ("gs://b/x/2021-02-14-eo_install-v2.csv", "eo_install"),
    ("eo_open.csv", "eo_open"),
    ("eo_reinstall-v2-1.csv", "eo_reinstall"),
    ("2021-02-14-eo_commerce_event-v2.csv", None),
    ("eo_click_extra.csv", None),
])  # fmt: skip
def test_the_topic_comes_from_the_file_name(name, topic):
    assert topic_of(name) == topic


def test_a_click_row_gives_its_identity_link_data_and_time():
    touch, warnings = touch_of_export_row(row(
        user_data_developer_identity="user-1", user_data_idfa="IDFA-1", user_data_android_id="",
        last_attributed_touch_data_tilde_campaign="spring", last_attributed_touch_data_tilde_channel="facebook",
        last_attributed_touch_data_tilde_tags='["a","b"]', last_attributed_touch_data_tilde_id="123"),
        "app", "eo_click")  # fmt: skip
    assert touch is not None and warnings == []
    assert touch.id == "eo_click:563212345678901234" and touch.app_id == "app" and touch.source == "eo_click"
    assert touch.type == "CLICK" and touch.timestamp == datetime(2025, 11, 28, 12, tzinfo=UTC)
    assert touch.keys == (("developer_identity", "user-1"), ("advertising_id", "IDFA-1"))
    assert touch.link_data() == {"id": "123", "campaign": "spring", "channel": "facebook", "tags": ("a", "b")}


def test_the_touch_time_and_type_are_the_last_attributed_touchs_when_given():
    touch, _ = touch_of_export_row(row(user_data_aaid="AAID", last_attributed_touch_type="impression",
                                       last_attributed_touch_timestamp=str(MS - 3_600_000)), "app", "eo_install")  # fmt: skip
    assert touch is not None and touch.type == "IMPRESSION"
    assert touch.timestamp == datetime(2025, 11, 28, 11, tzinfo=UTC)


def test_a_row_without_identity_is_no_touch():
    assert touch_of_export_row(row(user_data_browser="Chrome"), "app", "eo_open") == (None, [])


@pytest.mark.parametrize(
    "columns", [{"id": ""}, {"timestamp": ""}, {"timestamp": "yesterday"}, {"timestamp": "9" * 40}]
)
def test_a_row_without_id_or_time_is_invalid(columns):
    with pytest.raises(InvalidExportRow):
        touch_of_export_row(row(user_data_developer_identity="u", **columns), "app", "eo_click")


def test_link_data_of_the_wrong_shape_is_dropped_with_a_warning():
    touch, warnings = touch_of_export_row(row(
        user_data_developer_identity="u", last_attributed_touch_data_tilde_tags="not json",
        last_attributed_touch_data_tilde_campaign="x" * 10_000, last_attributed_touch_type="SWIPE"),
        "app", "eo_click")  # fmt: skip
    assert touch is not None and touch.link_data() == {} and touch.type == "CLICK"
    assert sorted(warnings) == ["invalid_value:last_attributed_touch_data_tilde_campaign",
                                "invalid_value:last_attributed_touch_data_tilde_tags",
                                "invalid_value:last_attributed_touch_type"]  # fmt: skip


def test_placeholder_ids_in_an_export_row_are_no_identity_keys():
    touch, warnings = touch_of_export_row(
        row(user_data_developer_identity="guest", user_data_idfv="0", user_data_idfa="IDFA-1"), "app", "eo_click"
    )
    assert touch is not None and touch.keys == (("advertising_id", "IDFA-1"),)
    assert warnings == ["placeholder_identity"]
    only, warnings = touch_of_export_row(row(user_data_developer_identity="Undefined"), "app", "eo_click")
    assert (only, warnings) == (None, ["placeholder_identity"])
    own, _ = touch_of_export_row(row(user_data_developer_identity="demo"), "app", "eo_click", Placeholders(("Demo",)))
    assert own is None

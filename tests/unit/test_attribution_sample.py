"""The attribution sample's ground truth (tools/attribution_sample.py, known by construction)
is what the rules decide, phase by phase; and the random sample carries no touch."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, datetime, timedelta

from beam_jobs.cli import map_message
from domain.attribution import AttributionState
from domain.branch_exports import topic_of, touch_of_export_row
from domain.config import load_config
from domain.mapping import ImportSettings
from tools.attribution_sample import EXPORT_FILE_NAME, Expected, attribution_sample
from tools.samples import generate_sample

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
LATER = timedelta(minutes=30)
SETTINGS = ImportSettings(load_config())  # the streaming job's defaults (24 h max event age)


def _decided(sample, state: AttributionState) -> tuple[dict[str, Expected], int]:
    """Each conversion's attribution by message id, the phases in order through ``state``; and
    the number of touches the messages carried."""
    decided, touches = {}, 0
    for phase in sample.phases:
        for message in phase:
            # Mapped half an hour after the sample was made, as a local run may: still in time.
            result, _ = map_message(message.data, message.attributes, SETTINGS, NOW + LATER, attribution=state)
            touches += result.touch is not None
            if result.row is not None:
                row = result.row
                decided[row["segment_message_id"]] = Expected(
                    row["last_attributed_touch_data_tilde_campaign"], row["last_attributed_touch_data_tilde_channel"],
                    row["last_attributed_touch_type"], row["attribution_match"])  # fmt: skip
    return decided, touches


def test_the_rules_decide_the_ground_truth_of_every_conversion():
    sample = attribution_sample(NOW, instances=3)
    decided, touches = _decided(sample, AttributionState())
    assert decided == sample.expected
    assert touches == len(sample.touches)  # every touch has an identity
    kinds = {(e.touch_type, e.match) for e in sample.expected.values()}
    assert {("CLICK", "advertising_id"), ("CLICK", "developer_identity"), ("CLICK", "browser_fingerprint"),
            ("IMPRESSION", "developer_identity"), (None, None)} <= kinds  # fmt: skip


def test_the_touches_of_the_branch_file_attribute_their_conversions_once_loaded_first():
    sample = attribution_sample(NOW, instances=2, branch_files=True)
    header, *rows = list(csv.reader(io.StringIO(gzip.decompress(sample.export_file()).decode())))
    assert len(rows) == len(sample.export_rows) == 2
    state = AttributionState()
    for values in rows:  # as load_touches reads the file, then the job reads the table back
        touch, warnings = touch_of_export_row(dict(zip(header, values, strict=True)), "local-app", "eo_click")
        assert touch is not None and not warnings
        state.add_touch(touch)
    assert _decided(sample, state)[0] == sample.expected
    assert {e.campaign for e in sample.expected.values()} >= {"branch_file_0", "branch_file_1"}
    assert topic_of(EXPORT_FILE_NAME) == "eo_click"


def test_the_random_sample_carries_no_touch():
    state = AttributionState()
    for message in generate_sample(1200, 42, NOW):
        result, _ = map_message(message.data, message.attributes, SETTINGS, NOW, attribution=state)
        assert result.touch is None

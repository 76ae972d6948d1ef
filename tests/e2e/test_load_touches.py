"""``beam_jobs.load_touches`` on the emulator: Branch export files -> ``touches``, bad rows
dead-lettered, files of other topics skipped."""

from __future__ import annotations

import csv
import gzip
import io

from beam_jobs import load_touches
from tests.support.stack import STACK_PROJECT, query_rows

HEADER = ["id", "name", "timestamp", "last_attributed_touch_type", "last_attributed_touch_timestamp",
          "last_attributed_touch_data_tilde_campaign", "last_attributed_touch_data_tilde_tags",
          "user_data_developer_identity", "user_data_idfa"]  # fmt: skip
MS = "1764331200000"


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    for row in [HEADER, *rows]:
        writer.writerow(row)
    return out.getvalue().encode()


def test_export_files_load_as_touches_and_bad_rows_are_dead_lettered(bq_client, fresh_dataset, tmp_path, capsys):
    (tmp_path / "app-2025-11-28-eo_click-v2-a-0.csv.gz").write_bytes(gzip.compress(_csv([
        ["1001", "CLICK", MS, "CLICK", MS, "spring", '["a"]', "user-1", ""],
        ["1002", "CLICK", MS, "", "", "summer", "", "", "IDFA-2"],
        ["1003", "CLICK", MS, "", "", "no_identity", "", "", ""],
        ["1004", "CLICK", "yesterday", "", "", "bad_time", "", "user-4", ""],
        ["1005", "CLICK", MS],  # too few columns
    ])))  # fmt: skip
    (tmp_path / "app-2025-11-28-eo_install-v2-a-0.csv").write_bytes(_csv([
        ["2001", "INSTALL", MS, "IMPRESSION", MS, "autumn", "", "user-1", ""]]))  # fmt: skip
    (tmp_path / "app-2025-11-28-eo_commerce_event-v2-a-0.csv").write_bytes(_csv([
        ["3001", "PURCHASE", MS, "", "", "", "", "user-1", ""]]))  # fmt: skip

    load_touches.main([f"--project={STACK_PROJECT}", f"--dataset={fresh_dataset}", f"--input={tmp_path}/*"])
    assert capsys.readouterr().out.strip().endswith("LOAD_TOUCHES rows=6 touches=3 no_identity=1 rejected=2")
    ds = f"`{STACK_PROJECT}.{fresh_dataset}`"
    touches = query_rows(bq_client, f"SELECT id, type, last_attributed_touch_data_tilde_campaign AS campaign, "
                                    f"developer_identity, advertising_id FROM {ds}.touches ORDER BY id")  # fmt: skip
    assert [(t["id"], t["type"], t["campaign"], t["developer_identity"], t["advertising_id"]) for t in touches] == [
        ("eo_click:1001", "CLICK", "spring", "user-1", None),
        ("eo_click:1002", "CLICK", "summer", None, "IDFA-2"),
        ("eo_install:2001", "IMPRESSION", "autumn", "user-1", None),
    ]
    rejected = query_rows(bq_client, f"SELECT reason, payload_string FROM {ds}.rejected_events_dedup ORDER BY detail")
    assert [row["reason"] for row in rejected] == ["invalid_touch_row"] * 2
    assert {row["payload_string"].split(",")[0] for row in rejected} == {"1004", "1005"}

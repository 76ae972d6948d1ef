"""Touches loaded from Branch's export files attribute the conversions of later runs (rules §9):
``load_touches`` writes them to ``touches``, and the backfill and the streaming job read that
table back at start (``--read_touches_table``, on by default)."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from beam_jobs import backfill, load_touches
from tests.support.stack import STACK_PROJECT, query_rows
from tools.local_run import publish_in_phases, streaming_job
from tools.samples import SampleMessage

HEADER = ["id", "name", "timestamp", "last_attributed_touch_type", "last_attributed_touch_data_tilde_campaign",
          "last_attributed_touch_data_tilde_channel", "user_data_developer_identity"]  # fmt: skip


def _load_clicks(dataset: str, directory: Path, now: datetime) -> None:
    """Two clicks from a Branch eo_click file: user 1's two hours ago, user 2's nine days ago
    (outside the 7-day click window)."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    for row in [HEADER,
                ["501", "CLICK", _ms(now - timedelta(hours=2)), "CLICK", "from_branch_file", "email", "tt-user-1"],
                ["502", "CLICK", _ms(now - timedelta(days=9)), "CLICK", "too_old", "email", "tt-user-2"]]:  # fmt: skip
        writer.writerow(row)
    (directory / "app-eo_click-v2-a-0.csv.gz").write_bytes(gzip.compress(out.getvalue().encode()))
    load_touches.main([f"--project={STACK_PROJECT}", f"--dataset={dataset}", f"--input={directory}/*.csv.gz"])


def _ms(when: datetime) -> str:
    return str(int(when.timestamp() * 1000))


def _purchases(now: datetime) -> list[SampleMessage]:
    """One purchase an hour ago by each of users 1, 2 and 3 (user 3 has no touch at all)."""
    return [
        SampleMessage(
            orjson.dumps(
                {
                    "type": "track",
                    "event": "Order Completed",
                    "messageId": f"tt-purchase-{n}",
                    "userId": f"tt-user-{n}",
                    "timestamp": (now - timedelta(hours=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "properties": {"revenue": 10 * n, "currency": "USD"},
                }
            ),
            {},
            "valid",
        )  # fmt: skip
        for n in (1, 2, 3)
    ]


def _attribution(client, dataset: str) -> dict[str, tuple]:
    rows = query_rows(client, f"""
        SELECT user_data_developer_identity AS user, attributed, last_attributed_touch_data_tilde_id AS touch,
               last_attributed_touch_data_tilde_campaign AS campaign, attribution_match AS matched
        FROM `{client.project}.{dataset}.events_dedup` WHERE timestamp >= TIMESTAMP '2000-01-01'""")  # fmt: skip
    return {row["user"]: (row["attributed"], row["campaign"], row["matched"]) for row in rows}


EXPECTED = {
    "tt-user-1": (True, "from_branch_file", "developer_identity"),
    "tt-user-2": (False, None, None),  # its click is outside the window
    "tt-user-3": (False, None, None),
}


def _backfill(dataset: str, archive: Path, *options: str) -> None:
    backfill.run(["--runner=FnApiRunner", "--direct_num_workers=1", f"--project={STACK_PROJECT}",
                  f"--dataset={dataset}", f"--input={archive}", *options])  # fmt: skip


def _archive(directory: Path, now: datetime) -> Path:
    path = directory / "segment.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(m.data + b"\n" for m in _purchases(now))))
    return path


def test_a_backfill_attributes_with_the_touches_loaded_from_branch_files(bq_client, fresh_dataset, tmp_path):
    now = datetime.now(UTC)
    _load_clicks(fresh_dataset, tmp_path, now)
    _backfill(fresh_dataset, _archive(tmp_path, now))
    assert _attribution(bq_client, fresh_dataset) == EXPECTED
    # The table's touches are read, not written again.
    touches = query_rows(bq_client, f"SELECT id FROM `{STACK_PROJECT}.{fresh_dataset}.touches` ORDER BY id")
    assert [row["id"] for row in touches] == ["eo_click:501", "eo_click:502"]


def test_without_the_table_a_backfill_has_only_the_archive_touches(bq_client, fresh_dataset, tmp_path):
    now = datetime.now(UTC)
    _load_clicks(fresh_dataset, tmp_path, now)
    _backfill(fresh_dataset, _archive(tmp_path, now), "--read_touches_table=false")
    assert all(attributed is False for attributed, _, _ in _attribution(bq_client, fresh_dataset).values())


def test_the_streaming_job_starts_with_the_touches_loaded_from_branch_files(bq_client, fresh_dataset, tmp_path,
                                                                            fresh_subscription):  # fmt: skip
    topic, subscription = (path.rsplit("/", 1)[1] for path in fresh_subscription)
    now = datetime.now(UTC)
    _load_clicks(fresh_dataset, tmp_path, now)
    with streaming_job(bq_client.project, fresh_dataset, subscription):
        accounting = publish_in_phases(bq_client, fresh_dataset, topic, [_purchases(now)], timeout=120)
    assert accounting.consistent(3), accounting
    assert _attribution(bq_client, fresh_dataset) == EXPECTED


def _purchase(message_id: str, now: datetime, **identity) -> SampleMessage:
    event = {"type": "track", "event": "Order Completed", "messageId": message_id,
             "timestamp": (now - timedelta(minutes=30)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
             "properties": {"revenue": 5, "currency": "USD"}, **identity}  # fmt: skip
    return SampleMessage(orjson.dumps(event), {}, "valid")


def test_touches_loaded_while_the_streaming_job_runs_attribute_within_its_refresh(
    bq_client, fresh_dataset, tmp_path, fresh_subscription
):
    """``--touches_refresh_seconds``: the job tails the table, so a file loaded after it started
    attributes later conversions without a restart. The job is asked with a new conversion each
    second (a condition with a deadline: the first one attributed proves it)."""
    from tools.local_run import publish, wait_until_accounted

    topic, subscription = (path.rsplit("/", 1)[1] for path in fresh_subscription)
    now = datetime.now(UTC)
    with streaming_job(bq_client.project, fresh_dataset, subscription, "--touches_refresh_seconds=2"):
        before = [_purchase("tail-before", now, userId="tt-user-1")]
        assert wait_until_accounted(bq_client, fresh_dataset, 0, timeout=1, progress=False) is not None
        publish(STACK_PROJECT, topic, before, progress=False)
        assert wait_until_accounted(bq_client, fresh_dataset, 1, timeout=60, progress=False).consistent(1)
        _load_clicks(fresh_dataset, tmp_path, now)  # while the job runs
        deadline, probes = datetime.now(UTC) + timedelta(seconds=90), 0
        while datetime.now(UTC) < deadline:
            probes += 1
            publish(STACK_PROJECT, topic, [_purchase(f"tail-probe-{probes}", now, userId="tt-user-1")], progress=False)
            wait_until_accounted(bq_client, fresh_dataset, 1 + probes, timeout=30, progress=False)
            decided = {
                row["id"]: row
                for row in query_rows(
                    bq_client,
                    f"""
                SELECT segment_message_id AS id, attributed, last_attributed_touch_data_tilde_campaign AS campaign
                FROM `{STACK_PROJECT}.{fresh_dataset}.events_dedup` WHERE timestamp >= TIMESTAMP '2000-01-01'""",
                )
            }
            if decided.get(f"tail-probe-{probes}", {}).get("attributed"):
                break
    assert decided["tail-before"]["attributed"] is False  # decided before the file was loaded: never again
    assert decided[f"tail-probe-{probes}"]["campaign"] == "from_branch_file"


def test_links_taught_before_a_restart_attribute_after_it(bq_client, fresh_dataset, fresh_subscription):
    """A link (a touch known under another key of the user, rules §9) is written to ``touches``
    and read back by the next job: a web purchase by user id, after the restart, is credited to
    the app click its user's earlier app purchase taught."""
    topic, subscription = (path.rsplit("/", 1)[1] for path in fresh_subscription)
    now = datetime.now(UTC)
    click = {"type": "track", "event": "Deep Link Opened", "messageId": "link-click",
             "timestamp": (now - timedelta(hours=3)).isoformat(), "context": {"device": {"type": "ios",
             "advertisingId": "LINK-IDFA"}}, "properties": {"url": "https://x.app.link/a?~campaign=app_campaign"}}  # fmt: skip
    teacher = _purchase("link-teacher", now - timedelta(hours=1), userId="link-user",
                        context={"device": {"type": "ios", "advertisingId": "LINK-IDFA"}})  # fmt: skip
    with streaming_job(bq_client.project, fresh_dataset, subscription):
        accounting = publish_in_phases(bq_client, fresh_dataset, topic,
                                       [[SampleMessage(orjson.dumps(click), {}, "valid")], [teacher]], timeout=120)  # fmt: skip
    assert accounting.consistent(2), accounting
    links = query_rows(bq_client, f"""SELECT developer_identity, taught_by FROM `{STACK_PROJECT}.{fresh_dataset}.touches`
                                      WHERE source = 'link' AND timestamp >= TIMESTAMP '2000-01-01'""")  # fmt: skip
    assert [row["developer_identity"] for row in links] == ["link-user"]
    web = _purchase("link-web", now, userId="link-user",
                    context={"userAgent": "Mozilla/5.0 (Windows NT 10.0)"})  # fmt: skip
    from tools.local_run import publish, wait_until_accounted

    with streaming_job(bq_client.project, fresh_dataset, subscription):  # a new job: only the table knows the link
        publish(STACK_PROJECT, topic, [web], progress=False)
        assert wait_until_accounted(bq_client, fresh_dataset, 3, timeout=120, progress=False).consistent(3)
    decided = {row["id"]: row for row in query_rows(bq_client, f"""
        SELECT segment_message_id AS id, attributed, last_attributed_touch_data_tilde_campaign AS campaign,
               attribution_match AS matched
        FROM `{STACK_PROJECT}.{fresh_dataset}.events_dedup` WHERE timestamp >= TIMESTAMP '2000-01-01'""")}  # fmt: skip
    assert decided["link-web"] == {"id": "link-web", "attributed": True, "campaign": "app_campaign",
                                   "matched": "developer_identity"}  # fmt: skip

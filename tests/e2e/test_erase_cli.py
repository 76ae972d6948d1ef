"""``segment-branch erase``: one user's rows of one app leave every table; nobody else's do.

Two users of ``local-app`` (and the first user in another app) in all four tables, as the jobs
write them: events rows and touches from the mapping, dead letters from ``rejected_row``,
webhook failures from ``failure_row`` (POST bodies from ``event_body``, one GET query string).
Each stored row names its user in a column erase does not read for that table (identity
columns, ``detail``, ``last_error``), so the checks count rows independently of erase's SQL.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from google.cloud import bigquery

from adapters.webhook_delivery import Delivery
from beam_jobs import cli
from domain.dead_letters import rejected_row
from domain.webhooks import event_body
from schemas.reasons import Reason
from schemas.tables import TABLES as TABLE_SPECS
from tests.support.attribution import click, ios, message, purchase
from tests.support.mapping import mapping_process
from tests.support.stack import STACK_PROJECT
from transforms.webhooks import failure_row

APP, OTHER_APP = "local-app", "local-web-app"
USER, OTHER_USER = "erase-user-1", "erase-user-2"
DEVICE = "erase-device-1"
TABLES = ("events", "touches", "rejected_events", "webhook_failures")
# What each table holds of USER in APP (the counts erase must find):
#   events: a purchase and an iOS product view with DEVICE; touches: one click;
#   rejected_events: a JSON message (rejected by its app's platforms) and a truncated one;
#   webhook_failures: the POST of the purchase and a GET naming the user.
USER_ROWS = {"events": 2, "touches": 1, "rejected_events": 2, "webhook_failures": 2}


def _mapped(doc: dict, now: datetime):
    result = mapping_process(doc, now=now)
    assert result.reason in (None, Reason.NOT_IMPORTED_EVENT), result  # imported, or a touch only
    return result


def _failure(row: dict, now: datetime, owner: str, *, body: str | None = None) -> dict:
    """A given-up delivery of ``row`` (its POST body unless ``body``); ``last_error`` names whose it is."""
    delivery = Delivery(row["app_id"], "orders", row["id"], "https://hooks.example/orders", False, 3, 500,
                        owner, body if body is not None else orjson.dumps(event_body(row)).decode(), 1.0)  # fmt: skip
    return failure_row(delivery, now)


def _rejected(data: bytes, now: datetime, owner: str, app_id: str = APP) -> dict:
    """A dead letter of ``data``; ``detail`` names whose it is."""
    return rejected_row(data, {}, now, Reason.NO_IDENTIFIER, owner, now, max_stored_bytes=1 << 20, app_id=app_id)


def store_users(bq_client, dataset: str, *, ingested: datetime) -> None:
    """USER_ROWS of USER in APP, the same of OTHER_USER, and some of USER's rows in OTHER_APP."""
    event_time = ingested - timedelta(minutes=5)
    rows: dict[str, list[dict]] = {table: [] for table in TABLES}
    for user, device in ((USER, DEVICE), (OTHER_USER, "erase-device-2")):
        bought = _mapped(purchase(event_time, user_id=user), ingested).row
        viewed = _mapped(message("Product Viewed", event_time, user_id=user, context=ios(id=device)), ingested).row
        touch = _mapped(click(event_time - timedelta(minutes=1), user_id=user), ingested).touch
        assert bought and viewed and touch
        rows["events"] += [bought, viewed]
        rows["touches"].append(touch.row(ingested))
        rows["rejected_events"] += [
            _rejected(
                orjson.dumps({"type": "track", "event": "Order Completed", "userId": f" {user} "}), ingested, user
            ),
            _rejected(b'{"type": "track", "userId": "' + user.encode() + b'", "event": "Order Compl', ingested, user),
        ]
        rows["webhook_failures"] += [
            _failure(bought, ingested, user),
            # A GET whose event was erased before: found by its query string.
            _failure({"app_id": APP, "id": f"erased-{user}"}, ingested, user, body=f"uid={user}&name=PURCHASE"),
        ]
    # Not USER's: a user whose id starts with USER's (and whose properties hold it), and USER in another app.
    rows["rejected_events"] += [
        _rejected(orjson.dumps({"type": "track", "userId": USER + "0", "properties": {"note": USER}}), ingested,
                  "nobody"),
        _rejected(b"userId=" + USER.encode(), ingested, USER, OTHER_APP),
    ]  # fmt: skip
    rows["events"].append({**rows["events"][0], "id": "other-app-event", "app_id": OTHER_APP})
    rows["touches"].append({**rows["touches"][0], "id": "other-app-touch", "app_id": OTHER_APP})
    rows["webhook_failures"].append(_failure({"app_id": OTHER_APP, "id": "x"}, ingested, USER, body=f"uid={USER}"))
    for table, table_rows in rows.items():
        assert bq_client.insert_rows_json(f"{STACK_PROJECT}.{dataset}.{table}", table_rows, retry=None) == [], table


def user_rows(bq_client, dataset: str, user: str = USER, app_id: str = APP) -> dict[str, int]:
    """Rows per table of ``user`` in ``app_id``, counted by what the test stored (not erase's SQL)."""
    owner = {"events": "user_data_developer_identity", "touches": "developer_identity",
             "rejected_events": "detail", "webhook_failures": "last_error"}  # fmt: skip
    partition = {table: TABLE_SPECS[table].partition_field for table in TABLES}
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter("app", "STRING", app_id),
            bigquery.ScalarQueryParameter("user", "STRING", user),
        ]
    )
    return {
        table: next(iter(bq_client.query(
            f"SELECT COUNT(*) FROM `{STACK_PROJECT}.{dataset}.{table}` "
            f"WHERE `{partition[table]}` >= '2000-01-01' AND app_id = @app AND {owner[table]} = @user",
            job_config=config).result()))[0]
        for table in TABLES
    }  # fmt: skip


def all_rows(bq_client, dataset: str) -> dict[str, int]:
    return {
        table: next(iter(bq_client.query(f"SELECT COUNT(*) FROM `{STACK_PROJECT}.{dataset}.{table}`").result()))[0]
        for table in TABLES
    }


def erase(dataset: str, *args: str) -> int:
    return cli.main(["erase", "--project", STACK_PROJECT, "--dataset", dataset, "--app", APP, *args])


def erase_lines(out: str) -> dict[str, dict[str, str]]:
    """The ERASE lines by table (``total`` for the last one), as key=value pairs."""
    found = {}
    for line in out.splitlines():
        assert line.startswith("ERASE "), line
        fields = dict(field.split("=", 1) for field in line.split()[1:])
        found[fields.pop("table", "total")] = fields
    return found


@pytest.fixture
def stored(bq_client, fresh_dataset) -> str:
    store_users(bq_client, fresh_dataset, ingested=datetime.now(UTC))
    assert user_rows(bq_client, fresh_dataset) == USER_ROWS
    assert user_rows(bq_client, fresh_dataset, OTHER_USER) == USER_ROWS
    assert user_rows(bq_client, fresh_dataset, app_id=OTHER_APP) == dict.fromkeys(TABLES, 1)
    return fresh_dataset


def test_dry_run_counts_the_users_rows_and_deletes_nothing(bq_client, stored, capsys):
    before = all_rows(bq_client, stored)
    assert erase(stored, "--user-id", USER, "--dry-run", "--streaming-buffer-age", "0") == 0
    captured = capsys.readouterr()
    lines = erase_lines(captured.out)
    assert list(lines) == [*TABLES, "total"]
    for table in TABLES:
        assert lines[table] == {"app": APP, "matched": str(USER_ROWS[table]), "deleted": "0", "unreachable": "0"}
    assert lines["total"] == {"app": APP, "identifier": "user_id", "matched": "7", "deleted": "0",
                              "unreachable": "0", "dry_run": "true"}  # fmt: skip
    assert "nothing deleted" in captured.err
    assert all_rows(bq_client, stored) == before


def test_dry_run_by_device_id_finds_the_device_rows(bq_client, stored, capsys):
    assert erase(stored, "--device-id", DEVICE, "--dry-run", "--streaming-buffer-age", "0") == 0
    lines = erase_lines(capsys.readouterr().out)
    # The iOS product view (events) only: no touch, dead letter or failure carries the device id.
    assert {table: lines[table]["matched"] for table in TABLES} == {
        "events": "1", "touches": "0", "rejected_events": "0", "webhook_failures": "0"}  # fmt: skip


def test_erase_deletes_the_users_rows_in_every_table_and_nobody_elses(bq_client, stored, capsys):
    before = all_rows(bq_client, stored)
    assert erase(stored, "--user-id", USER, "--streaming-buffer-age", "0") == 0
    lines = erase_lines(capsys.readouterr().out)
    for table in TABLES:
        assert lines[table] == {"app": APP, "matched": str(USER_ROWS[table]), "deleted": str(USER_ROWS[table]),
                                "unreachable": "0"}  # fmt: skip
    assert (lines["total"]["deleted"], lines["total"]["unreachable"], lines["total"]["dry_run"]) == ("7", "0", "false")

    assert user_rows(bq_client, stored) == dict.fromkeys(TABLES, 0)
    assert user_rows(bq_client, stored, app_id=OTHER_APP) == dict.fromkeys(TABLES, 1)
    assert user_rows(bq_client, stored, OTHER_USER) == USER_ROWS
    assert all_rows(bq_client, stored) == {table: before[table] - USER_ROWS[table] for table in TABLES}

    # A second run finds nothing left.
    assert erase(stored, "--user-id", USER, "--streaming-buffer-age", "0") == 0
    assert erase_lines(capsys.readouterr().out)["total"]["matched"] == "0"


def test_rows_in_the_streaming_buffer_are_left_with_a_time_to_run_again(bq_client, stored, capsys):
    before = all_rows(bq_client, stored)
    assert erase(stored, "--user-id", USER) == cli.EXIT_UNREACHABLE  # the default age: 90 minutes
    captured = capsys.readouterr()
    lines = erase_lines(captured.out)
    for table in TABLES:
        assert lines[table] == {"app": APP, "matched": str(USER_ROWS[table]), "deleted": "0",
                                "unreachable": str(USER_ROWS[table])}  # fmt: skip
    assert "7 rows could not be deleted yet" in captured.err
    retry = datetime.fromisoformat(re.search(r"run the same command again after (\S+)", captured.err)[1])
    assert timedelta(minutes=89) < retry - datetime.now(UTC) <= timedelta(minutes=90)
    assert all_rows(bq_client, stored) == before


def test_an_event_stays_while_its_webhook_failure_is_unreachable(bq_client, fresh_dataset, capsys):
    """Failures are found through their events: an old event whose failure is still in the
    buffer is kept (and counted unreachable) so that the next run still finds the failure."""
    now = datetime.now(UTC)
    bought = _mapped(purchase(now - timedelta(hours=3), user_id=USER), now - timedelta(hours=2)).row
    assert bought is not None
    get_failure = _failure(bought, now, USER, body="name=PURCHASE")  # a GET that names no identifier
    assert bq_client.insert_rows_json(f"{STACK_PROJECT}.{fresh_dataset}.events", [bought], retry=None) == []
    assert bq_client.insert_rows_json(f"{STACK_PROJECT}.{fresh_dataset}.webhook_failures", [get_failure],
                                      retry=None) == []  # fmt: skip

    assert erase(fresh_dataset, "--user-id", USER) == cli.EXIT_UNREACHABLE
    lines = erase_lines(capsys.readouterr().out)
    assert (lines["events"]["deleted"], lines["events"]["unreachable"]) == ("0", "1")
    assert (lines["webhook_failures"]["matched"], lines["webhook_failures"]["unreachable"]) == ("1", "1")

    # Once the failure is out of the buffer (here: a shorter age), both go.
    assert erase(fresh_dataset, "--user-id", USER, "--streaming-buffer-age", "0") == 0
    assert erase_lines(capsys.readouterr().out)["total"]["deleted"] == "2"
    assert all_rows(bq_client, fresh_dataset)["events"] == 0

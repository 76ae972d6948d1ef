"""``segment-branch erase``'s queries (pure SQL text) and its count-then-delete steps, against a
fake client that answers as BigQuery does (the e2e test runs the SQL on the emulator)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.api_core import exceptions

from adapters import erase
from domain.touches import IDENTITY_COLUMNS, KEY_KINDS
from tests.support.attribution import ios, message, web
from tests.support.mapping import mapping_imported_row

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
VALUE = "the-users-id-42"


def _set_path(doc: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    *parents, leaf = path.removeprefix("$.").split(".")
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return doc


@pytest.mark.parametrize("kind", KEY_KINDS)
def test_each_segment_path_is_where_the_mapping_reads_that_kind(kind):
    """A value at the kind's path in a message lands in a ``user_data_*`` column of that kind
    (the first one on iOS, where device ids are IDFV and advertising ids IDFA), and in no other."""
    web_context, _ = web()
    context = ios() if kind in ("advertising_id", "device_id") else web_context
    for path in erase.SEGMENT_PATHS[kind]:
        doc = _set_path(message("Order Completed", NOW - timedelta(minutes=1), context=context), path, VALUE)
        row = mapping_imported_row(doc, now=NOW)
        holding = {column for _, column in IDENTITY_COLUMNS if row[column] == VALUE}
        assert holding == {erase.events_columns(kind)[0]}, path


def test_every_kind_has_its_columns_and_paths():
    assert set(erase.SEGMENT_PATHS) == set(KEY_KINDS)
    assert erase.events_columns("device_id") == ("user_data_idfv", "user_data_android_id")
    assert erase.events_columns("advertising_id") == ("user_data_idfa", "user_data_aaid")
    with pytest.raises(ValueError):
        erase.match("events", "email", "p.d")


@pytest.mark.parametrize("kind", KEY_KINDS)
@pytest.mark.parametrize("table", erase.ERASED_TABLES)
def test_queries_scope_to_the_app_and_take_the_value_as_a_parameter(table, kind):
    for sql in (erase.count_sql(table, kind, "p.d"), erase.delete_sql(table, kind, "p.d")):
        assert f"`p.d.{table}` WHERE app_id = @app_id AND " in sql
        assert "@value" in sql and VALUE not in sql
    assert erase.delete_sql(table, kind, "p.d").endswith(
        f"{erase.INGESTED_AT[table]} < @cutoff"
        + (" AND id NOT IN (SELECT event_id FROM `p.d.webhook_failures` WHERE app_id = @app_id AND failed_at >= @earliest)"
           if table == "events" else "")
    )  # fmt: skip


def test_parameters_carry_every_form_of_the_value():
    request = erase.ErasureRequest("app", "developer_identity", "a b&c")
    params = {p.name: p.value for p in request.parameters(NOW)}
    assert params == {"app_id": "app", "value": "a b&c", "value_tokens": " a b c ", "query_value": "a%20b%26c",
                      "earliest": erase.EARLIEST, "cutoff": NOW}  # fmt: skip


@pytest.mark.parametrize(
    ("value", "tokens"),
    [("u1", " u1 "), ("  u1\t", " u1 "), ('a"b', " a b "), ("user@example.com", " user@example.com "), (":{}", None)],
)
def test_value_tokens(value, tokens):
    assert erase.value_tokens(value) == tokens


def test_value_tokens_match_a_whole_token_not_a_prefix():
    def holds(payload: str, value: str) -> bool:  # the SQL's STRPOS over the normalised payload
        return erase.value_tokens(value) in " " + re.sub(erase.TOKEN_SEPARATORS, " ", payload) + " "

    assert holds('{"userId": "u1", "event": "Ord', "u1")
    assert holds("2026-11-01,u1,click", "u1")
    assert not holds('{"userId": "u12", "event": "Ord', "u1")


def test_the_retry_time_is_the_wait_after_the_newest_row_or_after_now():
    wait = timedelta(minutes=90)
    assert erase.retry_time(NOW - timedelta(minutes=30), wait, NOW) == NOW + timedelta(minutes=60)
    assert erase.retry_time(NOW - timedelta(hours=5), wait, NOW) == NOW + wait
    assert erase.retry_time(None, wait, NOW) == NOW + wait


BUFFER_ERROR = exceptions.BadRequest(
    "UPDATE or DELETE statement over table p.d.touches would affect rows in the streaming buffer, which is not supported"
)


class _Job:
    def __init__(self, rows: list[dict] | None = None, affected: int | None = None, error: Exception | None = None):
        self._rows, self.num_dml_affected_rows, self._error = rows, affected, error

    def result(self):
        if self._error:
            raise self._error
        return self._rows


class FakeClient:
    """Answers erase's counts with ``counts`` (matched, young, newest) per table; its DELETEs
    affect the matched rows that are not young, or raise ``errors[table]``."""

    project = "p"

    def __init__(self, counts: dict[str, tuple[int, int, datetime | None]], errors: dict[str, Exception] | None = None):
        self.counts, self.errors, self.statements = counts, errors or {}, []

    def query(self, sql: str, job_config=None) -> _Job:
        table = re.match(r"(?:SELECT .*? FROM|DELETE FROM) `p\.d\.(\w+)`", sql)[1]
        self.statements.append((sql.split()[0], table))
        matched, young, newest = self.counts[table]
        if sql.startswith("SELECT"):
            return _Job(rows=[{"matched": matched, "young": young, "newest": newest}])
        return _Job(affected=matched - young, error=self.errors.get(table))


def _counts(young: int = 0) -> dict[str, tuple[int, int, datetime | None]]:
    newest = NOW - timedelta(minutes=100)
    return {"events": (3, young, newest), "touches": (1, 0, newest), "rejected_events": (0, 0, None),
            "webhook_failures": (2, 0, newest)}  # fmt: skip


def run(client: FakeClient, **kwargs: Any) -> dict[str, erase.TableErasure]:
    request = erase.ErasureRequest("app", "developer_identity", VALUE)
    return {r.table: r for r in erase.erase(client, "d", request, now=NOW, **kwargs)}  # type: ignore[arg-type]


def test_counts_every_table_then_deletes_failures_before_events():
    client = FakeClient(_counts())
    results = run(client)
    assert client.statements == [("SELECT", t) for t in erase.ERASED_TABLES] + [
        ("DELETE", "webhook_failures"), ("DELETE", "touches"), ("DELETE", "events")]  # fmt: skip
    assert {t: (r.matched, r.deleted, r.unreachable) for t, r in results.items()} == {
        "events": (3, 3, 0), "touches": (1, 1, 0), "rejected_events": (0, 0, 0), "webhook_failures": (2, 2, 0)}  # fmt: skip


def test_a_dry_run_deletes_nothing_and_counts_the_young_rows_as_unreachable():
    client = FakeClient(_counts(young=2))
    results = run(client, dry_run=True)
    assert [kind for kind, _ in client.statements] == ["SELECT"] * 4
    assert (results["events"].deleted, results["events"].unreachable) == (0, 2)


def test_young_rows_are_left_until_the_age_has_passed_since_the_newest():
    counts = _counts(young=1)
    counts["events"] = (3, 1, NOW - timedelta(minutes=10))
    results = run(FakeClient(counts), streaming_buffer_age=timedelta(minutes=90))
    assert (results["events"].deleted, results["events"].unreachable) == (2, 1)
    assert results["events"].retry_after == NOW + timedelta(minutes=80)


def test_a_table_bigquery_refuses_for_its_streaming_buffer_is_unreachable_and_the_rest_goes_on():
    results = run(FakeClient(_counts(), {"touches": BUFFER_ERROR}), streaming_buffer_age=timedelta(0))
    assert (results["touches"].deleted, results["touches"].unreachable) == (0, 1)
    # Its newest row was written 100 minutes ago, yet the buffer holds rows: 90 minutes from now,
    # whatever the age asked for (0 here).
    assert results["touches"].retry_after == NOW + timedelta(minutes=90)
    assert (results["events"].deleted, results["webhook_failures"].deleted) == (3, 2)
    assert erase.is_streaming_buffer_error(BUFFER_ERROR)


def test_other_errors_are_not_taken_for_the_streaming_buffer():
    with pytest.raises(exceptions.Forbidden):
        run(FakeClient(_counts(), {"events": exceptions.Forbidden("no bigquery.tables.updateData")}))
    assert not erase.is_streaming_buffer_error(exceptions.BadRequest("Syntax error"))

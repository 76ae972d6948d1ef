"""``import_stats`` rows: how many messages had which outcome, per minute, app, platform,
reason and event name. Rows are increments (readers sum ``count``)."""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

from schemas.reasons import Outcome, Reason


class StatKey(NamedTuple):
    """One ``import_stats`` group: what happened, where, in which processing minute."""

    minute: str
    app_id: str | None
    platform: str | None
    outcome: str
    reason: str | None
    event_name: str | None  # as Segment sent it
    branch_event_name: str | None = None  # the Branch name, where the mapping got that far


def minute_of(bq_timestamp: str) -> str:
    """The minute of a BigQuery timestamp text (``to_bq_timestamp``), in the same format."""
    return bq_timestamp[:17] + "00.000000Z"


def row_key(row: dict[str, Any], outcome: Outcome, reason: Reason | None = None) -> StatKey:
    """The group an ``events`` row counts in, in the minute it was mapped."""
    return StatKey(
        minute_of(row["ingested_at"]),
        row["app_id"],
        row.get("user_data_os"),  # (a row may leave its null columns out)
        outcome.value,
        reason.value if reason else None,
        row["customer_event_alias"],  # the Segment name, as every other outcome's
        row["name"],
    )


def stats_row(key: StatKey, count: int, written_at: str) -> dict[str, Any]:
    """One ``import_stats`` row; ``row_id`` lets readers count a row stored twice once."""
    return {**key._asdict(), "count": count, "written_at": written_at, "row_id": uuid.uuid4().hex}

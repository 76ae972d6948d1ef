"""The backfill's replay input and replay (``domain.attribution``): what the mapping step keeps
of each imported copy (``replay_entry``), which conversions the replay decides
(``replay_candidates``), and that ``replay_decisions`` decides each one as the in-memory
reference (``map --attribute``) does when the messages are fed to it in event-time order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest

from domain.config import load_config
from domain.mapping import ImportSettings, process_message
from domain.replay import DecisionTable, key_text, replay_candidates, replay_decisions, replay_entry
from domain.touches import identity_keys
from tests.support.attribution import IDFA, NOW, click, event_time_reference, ios, message, purchase, replay_chunks, web
from tools.attribution_sample import attribution_sample
from tools.samples import generate_corpus

SETTINGS = ImportSettings(load_config(None), max_event_age=None)  # the backfill's


def _replay_input(lines: list[bytes]) -> tuple[dict[str, list], dict[str, list[bytes]]]:
    """Per app: the touches and the packs the backfill's mapping step would ship."""
    touches, chunks = replay_chunks(lines, SETTINGS, NOW)
    return touches, {app_id: [orjson.dumps(chunk) for chunk in listed] for app_id, listed in chunks.items()}


def _reference(lines: list[bytes]) -> dict[str, dict[str, Any]]:
    return event_time_reference(lines, SETTINGS, NOW)


def _replayed(lines: list[bytes]) -> dict[str, dict[str, Any]]:
    touches, packs = _replay_input(lines)
    decided: dict[str, dict[str, Any]] = {}
    for app_id, app_packs in packs.items():
        # Small blobs, so that lookups span several of them.
        blobs = list(replay_decisions(app_id, touches.get(app_id, []), app_packs, SETTINGS.windows[app_id], per_blob=7))
        assert all(count <= 7 for _, count in blobs)
        table = DecisionTable(blob for blob, _ in blobs)
        assert len(table) == sum(count for _, count in blobs)
        for blob, _ in blobs:
            for event_id in orjson.loads(blob)["events"]:
                assert event_id not in decided
                columns = table.columns(app_id, event_id)
                assert columns is not None
                decided[event_id] = columns
    return decided


def _lines(*docs: dict[str, Any]) -> list[bytes]:
    return [orjson.dumps(doc) for doc in docs]


# ------------------------------------------------------------------ replay_entry


def test_a_replay_entry_holds_the_event_id_time_and_identity_keys_in_order():
    rows = [
        outcome.row
        for outcome in (process_message(data, None, None, SETTINGS, NOW) for data in generate_corpus(600, 3, NOW))
        if outcome.row is not None
    ]
    assert len(rows) > 500
    for row in rows:
        keys = [key_text(key) for key in identity_keys(row)]
        assert replay_entry(row, 42) == ([row["id"], 42, keys] if keys else None)
    assert any(len(identity_keys(row)) > 1 for row in rows)  # the order is exercised


def test_a_row_with_no_identity_key_has_no_replay_entry():
    assert replay_entry({"id": "e1", "segment_anonymous_id": "anon"}, 0) is None


# ------------------------------------------------------------------ replay_candidates


def test_the_candidates_are_the_conversions_sharing_a_key_with_a_touch_or_a_teacher():
    context, fingerprint = web()
    lines = _lines(
        click(NOW - timedelta(days=2), context=context, properties=fingerprint),
        message("Login", NOW - timedelta(days=1), user_id="u1", context=context, properties=fingerprint),  # teaches u1
        purchase(NOW - timedelta(hours=2), user_id="u1"),  # shares u1 with the teacher
        purchase(NOW - timedelta(hours=1), user_id="u2", context=ios(advertisingId=IDFA)),  # shares nothing
    )
    touches, packs = _replay_input(lines)
    [app_id] = packs
    candidates = replay_candidates(touches[app_id], packs[app_id])
    assert sorted(when for _, when, _ in candidates) == [NOW - timedelta(days=1), NOW - timedelta(hours=2)]
    assert all(keys for _, _, keys in candidates)


def test_a_conversion_before_any_touch_or_teacher_under_its_keys_is_not_a_candidate():
    context, fingerprint = web()
    lines = _lines(
        purchase(NOW - timedelta(days=3), user_id="u1"),  # before the teacher: nothing to find
        purchase(NOW - timedelta(days=3), context=context, properties=fingerprint),  # before the touch
        click(NOW - timedelta(days=2), context=context, properties=fingerprint),
        message("Login", NOW - timedelta(days=1), user_id="u1", context=context, properties=fingerprint),
        purchase(NOW - timedelta(hours=2), user_id="u1"),  # after the teacher
    )
    touches, packs = _replay_input(lines)
    [app_id] = packs
    candidates = replay_candidates(touches[app_id], packs[app_id])
    assert sorted(when for _, when, _ in candidates) == [NOW - timedelta(days=1), NOW - timedelta(hours=2)]
    assert len(_replayed(lines)) == 2 and _replayed(lines) == _reference(lines)


def test_an_app_without_touches_has_no_candidates():
    _, packs = _replay_input(_lines(purchase(user_id="u1"), purchase(user_id="u1")))
    [app_id] = packs
    assert replay_candidates([], packs[app_id]) == []


def test_copies_of_one_event_are_one_candidate_at_the_earliest_time():
    doc = purchase(NOW - timedelta(hours=3), user_id="u1")
    lines = _lines(click(NOW - timedelta(days=1), user_id="u1"), doc, doc)
    touches, packs = _replay_input(lines)
    [app_id] = packs
    [(_, when, keys)] = replay_candidates(touches[app_id], packs[app_id])
    assert when == NOW - timedelta(hours=3) and keys == (("developer_identity", "u1"),)


# ------------------------------------------------------------------ replay_decisions


def test_the_replay_decides_the_attribution_sample_as_the_reference_in_event_time_order():
    sample = attribution_sample(NOW - timedelta(hours=1), instances=3)
    lines = [m.data for phase in reversed(sample.phases) for m in phase]  # archive order: any
    expected = _reference(lines)
    assert len(expected) > 20  # touches of every kind, links, impressions, windows
    assert _replayed(lines) == expected


@pytest.mark.parametrize("seed", [7, 11])
def test_the_replay_decides_a_corpus_as_the_reference_in_event_time_order(seed):
    lines = list(generate_corpus(3000, seed, NOW))
    expected = _reference(lines)
    assert len(expected) > 50  # ~1% of the records are touches
    assert _replayed(lines) == expected


def test_the_replay_is_the_same_whatever_the_archive_order():
    lines = list(generate_corpus(1500, 5, NOW))
    assert _replayed(lines) == _replayed(list(reversed(lines)))


def test_the_decision_table_sets_a_decided_rows_columns_and_leaves_the_others_as_they_are():
    doc = purchase(NOW - timedelta(hours=3), user_id="u1")
    lines = _lines(click(NOW - timedelta(days=1), user_id="u1"), doc)
    touches, packs = _replay_input(lines)
    [app_id] = packs
    table = DecisionTable(
        blob for blob, _ in replay_decisions(app_id, touches[app_id], packs[app_id], SETTINGS.windows[app_id])
    )
    [event_id] = [entry[0] for pack in packs[app_id] for entry in orjson.loads(pack)]
    row = {"id": event_id, "app_id": app_id, "attributed": False, "name": "PURCHASE"}
    assert table.apply(row) is row  # in place
    assert row == {"id": event_id, "app_id": app_id, "name": "PURCHASE", **table.columns(app_id, event_id)}
    assert row["attributed"] is True and row["attribution_match"] == "developer_identity"
    assert row["days_from_last_attributed_touch_to_event"] == 0
    for other in ({"id": "another", "app_id": app_id}, {"id": event_id, "app_id": "another app"}):
        assert table.apply(dict(other)) == other
        assert table.columns(other["app_id"], other["id"]) is None

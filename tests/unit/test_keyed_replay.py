"""The backfill's keyed plan (``domain.keyed_replay``): how conversions and touches are grouped
(per key shard and time bucket), and that the steps, composed as the Beam graph composes them,
decide each conversion as the in-memory reference (``map --attribute``) does when the messages
are fed to it in event-time order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest

from domain.config import load_config
from domain.keyed_replay import (
    ConversionPacker,
    Link,
    buckets_served,
    decide,
    entries_by_key,
    first_hop,
    key_shard,
    links_taught,
    lookup_direct,
    lookup_linked,
    most_per_key,
)
from domain.mapping import ImportSettings
from domain.replay import key_text
from domain.timestamps import micros_in, micros_of, moment_of
from tests.support.attribution import IDFA, NOW, click, event_time_reference, ios, message, purchase, replay_chunks, web
from tools.attribution_sample import attribution_sample
from tools.samples import generate_corpus

SETTINGS = ImportSettings(load_config(None), max_event_age=None)  # the backfill's
DAY = micros_in(timedelta(days=1))


def _replay_input(lines: list[bytes]) -> tuple[dict[str, list], dict[str, list[list]]]:
    """Per app: the touches and the chunks of conversion entries the backfill's mapping step
    would pack."""
    return replay_chunks(lines, SETTINGS, NOW)


def _reference(lines: list[bytes]) -> dict[str, dict[str, Any]]:
    return event_time_reference(lines, SETTINGS, NOW)


def _replayed(lines: list[bytes], *, bucket: timedelta = timedelta(days=1), shards: int = 4) -> dict[str, dict]:
    """The keyed graph's steps composed in memory, grouped as transforms/backfill_attribution.py
    groups them: (app, key shard, bucket) groups, then by event id, and so on."""
    touches, chunks = _replay_input(lines)
    size = micros_in(bucket)
    decided: dict[str, dict[str, Any]] = {}
    for app_id, app_chunks in chunks.items():
        windows = SETTINGS.windows[app_id]
        direct: dict[tuple[int, int], dict[str, list]] = {}
        for chunk in app_chunks:
            packer = ConversionPacker(size, shards)
            for entry in chunk:
                packer.add(entry)
            for group, pack in packer.packs():
                direct.setdefault(group, {"packs": [], "touches": []})["packs"].append(pack)
        for touch in touches.get(app_id, []):
            since = micros_of(touch.timestamp)
            for key in touch.keys:
                text = key_text(key)
                for index in buckets_served(since, since + micros_in(windows.longest), size):
                    direct.setdefault((key_shard(text, shards), index), {"packs": [], "touches": []})["touches"].append(
                        (text, touch)
                    )
        found: dict[str, list] = {}
        for group in direct.values():
            for event_id, one in lookup_direct(group["touches"], group["packs"], windows, 64):
                found.setdefault(event_id, []).append(one)
        hops = {event_id: first_hop(listed, windows) for event_id, listed in found.items()}
        links: dict[tuple[int, int], list] = {}
        for event_id, hop in hops.items():
            assert hop is not None
            until = micros_of(hop.attribution.touch.timestamp) + micros_in(windows.longest)
            for text in links_taught(hop):
                for index in buckets_served(hop.micros, until, size):
                    links.setdefault((key_shard(text, shards), index), []).append(
                        (text, Link(hop.micros, event_id, hop.attribution.touch))
                    )
        linked: dict[str, list] = {}
        for group, group_links in links.items():
            for event_id, one in lookup_linked(group_links, direct.get(group, {"packs": []})["packs"], windows, 64):
                linked.setdefault(event_id, []).append(one)
        for event_id in hops.keys() | linked.keys():
            decision = decide(hops.get(event_id), linked.get(event_id, []), windows)
            if decision is not None:
                micros, attribution = decision
                decided[event_id] = attribution.columns(moment_of(micros))
    return decided


def _lines(*docs: dict[str, Any]) -> list[bytes]:
    return [orjson.dumps(doc) for doc in docs]


# ------------------------------------------------------------------ groups


def _packed(pack: tuple[bytes, bytes]) -> dict:
    index, body = pack
    return {text: (count, orjson.loads(body[start:end])) for text, count, start, end in orjson.loads(index)}


def test_a_chunks_conversions_are_packed_once_per_key_in_their_group():
    packer = ConversionPacker(DAY, 1)
    packer.add(["e1", 10, ["a", "b"]])
    packer.add(["e2", 2 * DAY + 5, ["a"]])
    assert {group: _packed(pack) for group, pack in packer.packs()} == {
        (0, 0): {"a": (1, [["e1", 10, ["a", "b"]]]), "b": (1, [["e1", 10, ["a", "b"]]])},
        (0, 2): {"a": (1, [["e2", 2 * DAY + 5, ["a"]]])},
    }
    assert list(packer.packs()) == []  # (it starts over)
    packer = ConversionPacker(DAY, 64)
    packer.add(["e1", 10, ["a", "b"]])
    assert {shard for (shard, _), _ in packer.packs()} == {key_shard("a", 64), key_shard("b", 64)}


def test_copies_of_one_event_under_a_key_are_one_entry_at_the_earliest_time():
    first, second = ConversionPacker(DAY, 1), ConversionPacker(DAY, 1)
    first.add(["e1", 30, ["a"]])
    second.add(["e1", 20, ["a"]])
    second.add(["e2", 5, ["b"]])
    packs = [pack for packer in (first, second) for _, pack in packer.packs()]
    assert entries_by_key(packs, ["a", "b"]) == {"a": {"e1": ["e1", 20, ["a"]]}, "b": {"e2": ["e2", 5, ["b"]]}}
    assert entries_by_key(packs, ["b"]) == {"b": {"e2": ["e2", 5, ["b"]]}}
    assert most_per_key(packs) == 2 and most_per_key(packs, ["b", "b"]) == 3


def test_a_touch_serves_the_buckets_of_its_window():
    assert list(buckets_served(DAY - 1, DAY - 1 + 7 * DAY, DAY)) == list(range(0, 8))


def test_a_touch_at_a_conversions_time_is_held_before_it_is_looked_up():
    lines = _lines(click(NOW - timedelta(hours=3), user_id="u1"), purchase(NOW - timedelta(hours=3), user_id="u1"))
    assert len(_replayed(lines)) == 1 and _replayed(lines) == _reference(lines)


def test_a_conversion_before_any_touch_or_teacher_under_its_keys_finds_nothing():
    context, fingerprint = web()
    lines = _lines(
        purchase(NOW - timedelta(days=3), user_id="u1"),  # before the teacher: nothing to find
        purchase(NOW - timedelta(days=3), context=context, properties=fingerprint),  # before the touch
        click(NOW - timedelta(days=2), context=context, properties=fingerprint),
        message("Login", NOW - timedelta(days=1), user_id="u1", context=context, properties=fingerprint),
        purchase(NOW - timedelta(hours=2), user_id="u1"),  # after the teacher: through the link
        purchase(NOW - timedelta(hours=1), user_id="u2", context=ios(advertisingId=IDFA)),  # shares nothing
    )
    decided = _replayed(lines)
    assert len(decided) == 2 and decided == _reference(lines)
    assert sorted(columns["attribution_match"] for columns in decided.values()) == [
        "browser_fingerprint",
        "developer_identity",
    ]


def test_copies_of_one_event_are_decided_once_at_the_earliest_time():
    doc = purchase(NOW - timedelta(hours=3), user_id="u1")
    lines = _lines(click(NOW - timedelta(days=1), user_id="u1"), doc, doc)
    [(_, columns)] = _replayed(lines).items()
    assert columns["days_from_last_attributed_touch_to_event"] == 0 and _replayed(lines) == _reference(lines)


# ------------------------------------------------------------------ the keyed steps, composed


@pytest.mark.parametrize(("bucket", "shards"), [(timedelta(days=1), 4), (timedelta(minutes=10), 1)])
def test_the_keyed_steps_decide_the_attribution_sample_as_the_reference_in_event_time_order(bucket, shards):
    sample = attribution_sample(NOW - timedelta(hours=1), instances=3)
    lines = [m.data for phase in reversed(sample.phases) for m in phase]  # archive order: any
    expected = _reference(lines)
    assert len(expected) > 20  # touches of every kind, links, impressions, windows
    assert _replayed(lines, bucket=bucket, shards=shards) == expected


@pytest.mark.parametrize("seed", [7, 11])
def test_the_keyed_steps_decide_a_corpus_as_the_reference_in_event_time_order(seed):
    lines = list(generate_corpus(3000, seed, NOW))
    expected = _reference(lines)
    assert len(expected) > 50  # ~1% of the records are touches
    assert _replayed(lines) == expected


def test_the_keyed_steps_decide_the_same_whatever_the_archive_order():
    lines = list(generate_corpus(1500, 5, NOW))
    assert _replayed(lines) == _replayed(list(reversed(lines)))

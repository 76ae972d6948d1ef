"""The batch import runs on a second runner: Beam's Prism (Go).

Prism is built from the Go module proxy by ``scripts/build_prism.sh`` (idempotent; a cold
build takes 2-3 minutes, then the Go build cache makes it seconds). The whole backfill job
on Prism, against the BigQuery emulator, is in tests/e2e/test_backfill_prism.py.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta

import apache_beam as beam
import orjson
import pytest
from apache_beam.metrics import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from beam_jobs.options import import_settings
from domain.config import load_config
from domain.mapping import ImportSettings, process_message
from schemas.reasons import METRICS_NAMESPACE
from schemas.tables import EVENTS, IMPORT_STATS, REJECTED_EVENTS
from tests.support import REPO
from tests.support.attribution import NOW, click
from tests.support.mapping import one_of_each_fate
from transforms.routing import RouteArchiveChunks
from transforms.streaming_attribution import AttributeEvents

PRISM = REPO / ".local" / "bin" / "prism"


@pytest.fixture(scope="module", autouse=True)
def prism_binary():
    subprocess.run([str(REPO / "scripts" / "build_prism.sh")], check=True, timeout=900)
    assert PRISM.exists()


def test_routing_decides_every_line_on_prism():
    options = PipelineOptions(
        [
            "--runner=PrismRunner",
            f"--prism_location={PRISM}",
            "--prism_log_level=warn",
            f"--app_config={REPO / 'domain' / 'default_app_config.yaml'}",
        ]
    )
    settings = import_settings(options)
    lines = one_of_each_fate()
    with beam.Pipeline(options=options) as pipeline:
        # Two chunks of archive lines, the repeat of m-1 in the second: dedup spans chunks.
        routed = pipeline | beam.Create([lines[:1], lines[1:]]) | RouteArchiveChunks(settings, timedelta(minutes=10), 4)

        unique = routed[EVENTS] | beam.Map(lambda row: (row["segment_message_id"], row["name"]))
        assert_that(unique, equal_to([("m-1", "PURCHASE"), ("m-2", "VIEW_ITEM")]), label="Unique")

        outcomes = (
            routed[IMPORT_STATS]
            | beam.Map(lambda row: ((row["outcome"], row["reason"]), row["count"]))
            | beam.CombinePerKey(sum)
        )
        assert_that(
            outcomes,
            equal_to(
                [
                    (("imported", None), 2),
                    (("duplicate", None), 1),
                    (("rejected", "no_identifier"), 1),
                    (("skipped", "unsupported_call_type"), 1),
                    (("rejected", "malformed_json"), 1),
                ]
            ),
            label="Outcomes",
        )

        reasons = routed[REJECTED_EVENTS] | beam.Map(lambda row: row["reason"])
        assert_that(reasons, equal_to(["no_identifier", "malformed_json"]), label="DeadLetters")


@pytest.mark.timeout(180)  # (the bug it guards against loops forever)
def test_expiry_timers_fire_once_on_a_runner_that_keeps_timers_in_milliseconds():
    """Portable runners (Prism here, Dataflow too) keep a timer's time in milliseconds: a key
    whose touch ends at a sub-millisecond moment must still prune it at the timer's first firing
    (a timer set a microsecond after the end fired at the end itself, pruned nothing, and was set
    again forever). (The FnApiRunner hands one stage's timer to the other stage of the same
    class: only a Prism run shows this.)"""
    options = PipelineOptions(["--runner=PrismRunner", f"--prism_location={PRISM}", "--prism_log_level=warn"])
    settings = ImportSettings(load_config(), max_event_age=timedelta(hours=1))
    docs = [click(NOW - timedelta(days=n, microseconds=123_456), user_id=f"u{n}") for n in range(1, 4)]
    rows = [process_message(orjson.dumps(doc), None, None, settings, NOW).touch.row(NOW) for doc in docs]
    pipeline = beam.Pipeline(options=options)
    no_events = pipeline | "NoEvents" >> beam.Create([]).with_output_types(dict)
    touches = pipeline | "Touches" >> beam.Create(rows)
    {"events": no_events, "touches": touches} | AttributeEvents(settings.windows, settings.max_event_age)
    result = pipeline.run()
    result.wait_until_finish()
    found = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE).with_name("attribution_expired"))
    assert sum(counter.committed for counter in found["counters"]) == 3  # each touch once, where it was held


class _KeysPerBundleFn(beam.DoFn):
    """Records how many keys each bundle of a stateful stage held."""

    SEEN = beam.transforms.userstate.CombiningValueStateSpec("seen", sum)

    def start_bundle(self):
        self._keys = set()

    def process(self, element, seen=beam.DoFn.StateParam(SEEN)):
        seen.add(1)
        self._keys.add(element[0])
        yield element[0]

    def finish_bundle(self):
        beam.metrics.Metrics.distribution("test", "keys_per_bundle").update(len(self._keys))


CAP = 40


@pytest.mark.parametrize("cap", [None, CAP])
def test_a_stateful_stage_holds_at_most_the_keys_per_bundle_the_build_caps_it_at(cap, monkeypatch):
    """scripts/build_prism.sh adds PRISM_MAX_KEYS_PER_BUNDLE to Prism (bench/scale.py's E sets it,
    as Dataflow's per-key work items bound what the SDK worker holds per bundle). Unset, Prism
    runs as released: every pending key in one bundle (all 200 here, unless Prism split the
    upstream bundle; either way more than the cap)."""
    if cap is None:
        monkeypatch.delenv("PRISM_MAX_KEYS_PER_BUNDLE", raising=False)
    else:
        monkeypatch.setenv("PRISM_MAX_KEYS_PER_BUNDLE", str(cap))
    options = PipelineOptions(
        [
            "--runner=PrismRunner",
            f"--prism_location={PRISM}",
            "--prism_log_level=warn",
            "--experiments=disable_prism_server_singleton",  # a runner of its own, started with this environment
        ]
    )
    with beam.Pipeline(options=options) as pipeline:
        keys = (
            pipeline
            | beam.Create([(f"k{n}", n) for n in range(200)])
            | beam.Reshuffle()
            | beam.ParDo(_KeysPerBundleFn())
        )
        assert_that(keys, equal_to([f"k{n}" for n in range(200)]))
    found = pipeline.result.metrics().query(MetricsFilter().with_namespace("test").with_name("keys_per_bundle"))
    (distribution,) = found["distributions"]
    assert distribution.committed.sum == 200
    if cap is None:
        assert distribution.committed.max > CAP
    else:
        assert distribution.committed.max <= cap
        assert distribution.committed.count >= 200 // cap

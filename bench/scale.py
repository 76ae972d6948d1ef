"""Scale benchmarks (rules §11): the same work at 1x and 10x, and what must stay flat.

    bench/run.sh --scale [--skip-prism]

Prints one line per benchmark:

``SCALE_STREAM insert_rows_per_call=A hot_key_entries=B hot_key_us_first=C hot_key_us_last=D
startup_rss_ratio=E stream_ev_s_core=F``

- A: rows per ``insertAll`` call on ``events`` in a streaming run of 2,000 messages through the
  emulators, the job's default batching (``--insert_buffering_seconds=5``); the calls are
  counted by a proxy in front of the BigQuery emulator (``tools/fault_proxy.py``).
- B, C, D: the streaming attribution stages on the FnApiRunner (state and timers, in batch)
  with one identity holding 20 touches and 10,000 conversions in its window, each conversion
  with a second key (so each teaches the same link again). B: the most entries any key's
  state held (the distribution ``attribution_key_entries``). C, D: microseconds per
  conversion over the first and the last 1,000: the difference between runs of 0 and 1,000
  conversions, and of 9,000 and 10,000 (best of three runs each).
- E: the start-up read of the ``touches`` table into keyed state, 5,000 rows then 50,000, on
  Prism: the runner (Go) holds the state, as Streaming Engine does on Dataflow; the Python SDK
  worker (LOOPBACK, in a fresh child process each time) reads and keys the rows. E is the
  worker's peak RSS at 50,000 over at 5,000. The SDK worker holds a handle (about 1.3 KB) per
  key and state of a bundle until the bundle ends, and Prism as released puts every key with
  pending elements in one bundle of a stateful stage: the keyed stage's one bundle would hold
  all 50,000. Dataflow's streaming work items are per key; our Prism build caps a bundle at
  ``KEYS_PER_BUNDLE`` keys (``PRISM_MAX_KEYS_PER_BUNDLE``, scripts/build_prism.sh), and E is
  measured so (``--uncapped`` measures Prism as released). A split is read by one worker, so
  the splits are the same size at both (a quarter of the small table: the job's are
  ``ROWS_PER_SPLIT``); the emulator answers a split's query in one response where BigQuery
  pages it. The state cache (a fixed bound, ``--max_cache_memory_usage_mb``) is kept small.
  (The emulator scans the whole table for every split's query: 50,000 rows take 5-7 minutes,
  hence not 100k and 1M.)
- F: the streaming graph (``RouteSegmentMessages``: mapping, dedup, attribution, counts) on
  Prism, TestStream input (2,000 messages in bundles of 500), counters for sinks: events per
  second including start-up, the run pinned to one core (Prism's Go runner unpinned). The
  stats' early (processing-time) firings are off: Prism 2.77 panics on them in a combine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.children import run_child

REPO = Path(__file__).resolve().parent.parent
PRISM = REPO / ".local" / "bin" / "prism"
NOW = datetime.now(UTC).replace(microsecond=0)
# The SDK worker's cache of state (Beam's --max_cache_memory_usage_mb, 100 MB by default) is a
# fixed bound, not growth: small here, so that E shows what else the worker holds.
STATE_CACHE_MB = 10
# E's bound on the keys in a bundle of a stateful stage (Dataflow streaming: one per work item).
KEYS_PER_BUNDLE = 100


def _child(kind: str, *args: str, cpu: int | None = None) -> dict[str, Any]:
    return run_child("bench.scale", kind, *args, cpu=cpu)


# --------------------------------------------------------------------------- A: batched inserts


def insert_rows_per_call(messages: int = 2000) -> float:
    from adapters.bigquery import EMULATOR_ENV, make_client
    from tools import localstack
    from tools.direct_runner import speed_up_local_runs
    from tools.fault_proxy import FaultProxy
    from tools.local_run import PROJECT, publish, reset_dataset, streaming_job, wait_until_accounted
    from tools.samples import generate_sample

    speed_up_local_runs()
    with localstack.local_stack(PROJECT), FaultProxy(os.environ[EMULATOR_ENV]) as proxy:
        dataset = f"scale_{uuid.uuid4().hex[:8]}"
        reset_dataset(make_client(PROJECT), dataset)
        topic, subscription = f"scale-{uuid.uuid4().hex[:6]}", f"scale-sub-{uuid.uuid4().hex[:6]}"
        localstack.provision_pubsub(PROJECT, topic, subscription)
        sample = generate_sample(messages, 7, datetime.now(UTC))
        upstream = os.environ[EMULATOR_ENV]
        os.environ[EMULATOR_ENV] = proxy.url  # (the job takes its client from it when built)
        try:
            with streaming_job(PROJECT, dataset, subscription, "--insert_buffering_seconds=5"):
                publish(PROJECT, topic, sample, progress=False)
                client = make_client(PROJECT)
                accounting = wait_until_accounted(client, dataset, messages, timeout=600, progress=False)
        finally:
            os.environ[EMULATOR_ENV] = upstream
        calls = proxy.stats.get("insert_all:events", 0)
    return accounting.imported / calls if calls else 0.0


# --------------------------------------------------------------------------- B, C, D: a hot key


def _hot_key_rows(conversions: int) -> tuple[list[dict], list[dict]]:
    """20 touches of one user (developer identity) and ``conversions`` purchases by that user
    from one device: each conversion has a second key and teaches the same link again."""
    import orjson

    from domain.config import load_config
    from domain.mapping import ImportSettings, process_message

    settings = ImportSettings(load_config(), max_event_age=None)
    touches, events = [], []
    for n in range(20):
        doc = {"type": "track", "event": "Deep Link Opened", "messageId": f"hot-touch-{n}", "userId": "hot",
               "timestamp": (NOW - timedelta(days=6, minutes=-n)).isoformat(),
               "properties": {"url": f"https://x.app.link/a?~campaign=c{n}"}}  # fmt: skip
        touch = process_message(orjson.dumps(doc), None, None, settings, NOW).touch
        assert touch is not None
        touches.append(touch.row(NOW))
    for n in range(conversions):
        doc = {"type": "track", "event": "Order Completed", "messageId": f"hot-{n}", "userId": "hot",
               "timestamp": (NOW - timedelta(days=1, seconds=-n)).isoformat(),
               "context": {"device": {"type": "ios", "advertisingId": "HOT-IDFA"}}}  # fmt: skip
        row = process_message(orjson.dumps(doc), None, None, settings, NOW).row
        assert row is not None
        events.append(row)
    return touches, events


def _hot_key_run(conversions: int) -> dict[str, Any]:
    import apache_beam as beam
    from apache_beam.metrics import Metrics, MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions

    from domain.config import load_config
    from domain.mapping import ImportSettings
    from schemas.reasons import METRICS_NAMESPACE
    from transforms.streaming_attribution import AttributeEvents

    touches, events = _hot_key_rows(conversions)
    settings = ImportSettings(load_config(), max_event_age=None)
    options = PipelineOptions(["--runner=FnApiRunner", "--direct_num_workers=1"])
    started = time.perf_counter()
    with beam.Pipeline(options=options) as pipeline:
        attributed = {
            "events": pipeline | "Events" >> beam.Create(events),
            "touches": pipeline | "Touches" >> beam.Create(touches),
        } | AttributeEvents(settings.windows, None)
        tally = Metrics.counter("bench", "decided")
        attributed["events"] | beam.Map(lambda _: tally.inc())
    seconds = time.perf_counter() - started
    found = pipeline.result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    entries = [d.committed.max for d in found["distributions"] if d.key.metric.name == "attribution_key_entries"]
    return {"seconds": seconds, "entries": max(entries, default=0)}


def hot_key() -> tuple[int, float, float]:
    """(B, C, D): see the module doc."""
    best = {n: min(_child("hot_key", str(n))["seconds"] for _ in range(3)) for n in (0, 1_000, 9_000)}
    runs = [_child("hot_key", "10000") for _ in range(3)]
    best[10_000] = min(run["seconds"] for run in runs)
    first = (best[1_000] - best[0]) / 1_000 * 1e6
    last = (best[10_000] - best[9_000]) / 1_000 * 1e6
    return max(run["entries"] for run in runs), first, last


# --------------------------------------------------------------------------- E: start-up memory


def _load_touches_table(dataset: str, rows: int) -> None:
    from adapters.bigquery import make_client
    from tools.local_run import PROJECT

    client = make_client(PROJECT)
    table = f"{PROJECT}.{dataset}.touches"
    stamp = (NOW - timedelta(days=1)).isoformat()
    batch = []
    for n in range(rows):
        batch.append({"id": f"t-{n}", "app_id": "local-app", "type": "CLICK", "timestamp": stamp, "source": "eo_click",
                      "developer_identity": f"user-{n}", "last_attributed_touch_data_tilde_campaign": f"c{n % 50}",
                      "warnings": [], "ingested_at": stamp})  # fmt: skip
        if len(batch) == 5_000:
            client.insert_rows_json(table, batch, row_ids=[None] * len(batch), retry=None)
            batch = []
    if batch:
        client.insert_rows_json(table, batch, row_ids=[None] * len(batch), retry=None)


def _startup_run(dataset: str, rows_per_split: int, keys_per_bundle: int) -> dict[str, Any]:
    """The start-up read into keyed state on Prism: the runner (Go, a process of its own) holds
    the state, as Streaming Engine does on Dataflow; the Python SDK worker runs in this process
    (LOOPBACK), so this process's peak RSS is the worker's. The runner this process starts caps
    a stateful stage's bundles at ``keys_per_bundle`` keys (0: Prism as released)."""
    if keys_per_bundle:
        os.environ["PRISM_MAX_KEYS_PER_BUNDLE"] = str(keys_per_bundle)
    else:
        os.environ.pop("PRISM_MAX_KEYS_PER_BUNDLE", None)
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from adapters.bigquery import emulator_client
    from domain.config import load_config
    from domain.mapping import ImportSettings
    from tools.local_run import PROJECT
    from transforms.streaming_attribution import AttributeEvents
    from transforms.touches_table import ReadTouchesTable

    settings = ImportSettings(load_config(), max_event_age=timedelta(hours=24))
    options = PipelineOptions(
        ["--runner=PrismRunner", f"--prism_location={PRISM}", "--prism_log_level=warn",
         f"--max_cache_memory_usage_mb={STATE_CACHE_MB}", "--job_server_timeout=3600"]
    )  # fmt: skip
    started = time.perf_counter()
    with beam.Pipeline(options=options) as pipeline:
        client = emulator_client(PROJECT)
        read = ReadTouchesTable(PROJECT, dataset, test_client=client, links=True, rows_per_split=rows_per_split)
        {
            "events": pipeline | "NoEvents" >> beam.Create([]).with_output_types(dict),
            "touches": pipeline | "NoTouches" >> beam.Create([]).with_output_types(dict),
        } | AttributeEvents(settings.windows, settings.max_event_age, read_touches=read)
    return {
        "seconds": time.perf_counter() - started,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def startup_rss_ratio(
    small: int = 5_000, keys_per_bundle: int = KEYS_PER_BUNDLE
) -> tuple[float, dict[int, dict[str, Any]]]:
    from adapters.bigquery import make_client
    from adapters.provision import provision_tables
    from tools import localstack
    from tools.local_run import PROJECT

    results = {}
    with localstack.local_stack(PROJECT):
        for rows in (small, small * 10):
            dataset = f"scale_startup_{rows}_{uuid.uuid4().hex[:6]}"
            provision_tables(make_client(PROJECT), dataset)
            _load_touches_table(dataset, rows)
            results[rows] = _child("startup", dataset, str(small // 4), str(keys_per_bundle))
    return results[small * 10]["peak_rss_mib"] / results[small]["peak_rss_mib"], results


# --------------------------------------------------------------------------- F: events per core


def _stream_run(count: int) -> dict[str, Any]:
    import apache_beam as beam
    from apache_beam.io.gcp.pubsub import PubsubMessage
    from apache_beam.metrics import Metrics
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
    from apache_beam.testing.test_stream import TestStream
    from apache_beam.transforms.window import TimestampedValue

    from domain.config import load_config
    from domain.mapping import ImportSettings
    from tools.samples import generate_corpus
    from transforms.routing import RouteSegmentMessages

    lines = list(generate_corpus(count, 11, NOW))
    stream = TestStream()
    for start in range(0, len(lines), 500):
        published = NOW + timedelta(seconds=start // 500)
        stream = stream.add_elements(
            [
                TimestampedValue(PubsubMessage(line, {}, publish_time=published), published.timestamp())
                for line in lines[start : start + 500]
            ]  # fmt: skip
        ).advance_watermark_to(published.timestamp() + 1)
    options = PipelineOptions(
        ["--runner=PrismRunner", f"--prism_location={PRISM}", "--prism_log_level=warn", "--job_server_timeout=3600"]
    )
    options.view_as(StandardOptions).streaming = True
    settings = ImportSettings(load_config(), max_event_age=None)
    started = time.perf_counter()
    with beam.Pipeline(options=options) as pipeline:
        routed = (
            pipeline
            | stream.advance_watermark_to_infinity()
            # (stats at the input's end: Prism 2.77 panics on a combine's processing-time trigger)
            | RouteSegmentMessages(settings, timedelta(minutes=10), stats_flush_seconds=0)
        )
        for table, rows in routed.items():
            tally = Metrics.counter("bench", table)
            rows | f"Count[{table}]" >> beam.Map(lambda _, tally=tally: tally.inc())
    return {"seconds": time.perf_counter() - started, "events": count}


def stream_ev_s_core(count: int = 2_000, cpu: int | None = None) -> float:
    result = _child("stream", str(count), cpu=cpu)
    return result["events"] / result["seconds"]


# --------------------------------------------------------------------------- the command


def _child_main(kind: str, args: list[str]) -> None:
    if kind == "hot_key":
        result = _hot_key_run(int(args[0]))
    elif kind == "startup":
        result = _startup_run(args[0], int(args[1]), int(args[2]))
    elif kind == "stream":
        result = _stream_run(int(args[0]))
    else:
        raise SystemExit(f"unknown child {kind}")
    print(json.dumps(result))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--skip-prism", action="store_true", help="leave out E and F (no Prism runner)")
    parser.add_argument("--startup-rows", type=int, default=5_000, help="E's small table (the large: 10x)")
    parser.add_argument(
        "--uncapped", action="store_true", help="E on Prism as released: every pending key in one bundle"
    )
    parser.add_argument("--cpu", type=int, default=None, help="the core F is pinned to (default: the last)")
    args = parser.parse_args(argv)
    if args.child:
        _child_main(args.child[0], args.child[1:])
        return 0
    cpu = args.cpu if args.cpu is not None else (os.cpu_count() or 1) - 1
    a = insert_rows_per_call()
    print(f"(A) events rows per insertAll call: {a:.1f}", flush=True)
    b, c, d = hot_key()
    print(f"(B-D) hot key: at most {b} entries; {c:.1f} us per conversion over the first 1,000, "
          f"{d:.1f} over the last", flush=True)  # fmt: skip
    e, f = 0.0, 0.0
    if not args.skip_prism:
        subprocess.run([str(REPO / "scripts" / "build_prism.sh")], check=True)
        e, startup = startup_rss_ratio(args.startup_rows, 0 if args.uncapped else KEYS_PER_BUNDLE)
        bundles = "every key in one bundle" if args.uncapped else f"at most {KEYS_PER_BUNDLE} keys a bundle"
        print(f"(E) start-up read ({bundles}), worker peak RSS: " + ", ".join(
            f"{rows:,} rows {r['peak_rss_mib']:.0f} MiB in {r['seconds']:.0f}s" for rows, r in startup.items()),
              flush=True)  # fmt: skip
        f = stream_ev_s_core(cpu=cpu)
        print(f"(F) streaming graph on Prism, one core: {f:,.0f} events/s", flush=True)
    print(
        f"SCALE_STREAM insert_rows_per_call={a:.1f} hot_key_entries={b} hot_key_us_first={c:.1f} "
        f"hot_key_us_last={d:.1f} startup_rss_ratio={e:.2f} stream_ev_s_core={f:.0f}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

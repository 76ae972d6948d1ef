"""Throughput benchmark: how close the importer gets to the cost of parsing JSON.

    bench/run.sh [--events 200000] [--e2e-events 5000] [--repeat 3] [--quick] [--no-e2e]
    bench/run.sh --scale         # the scale benchmarks (rules §11): SCALE_STREAM, SCALE_BATCH, SCALE_SERVE

One seeded corpus (``tools.samples.generate_corpus``: ~1.1 KB average, ~2% bad
records), four stages, each in its own subprocess pinned to one core so that its peak RSS
is its own:

    (a) parse   ``orjson.loads`` of every line: the floor for any Python pipeline
    (b) chain   ``process_message``: bytes -> validated BigQuery row (or outcome)
    (c) batch   the backfill's Beam shape on the FnApiRunner, one worker, file -> rows,
                with every BigQuery sink replaced by a counter
    (d) e2e     the streaming job (BundleBasedDirectRunner) through the Pub/Sub and
                BigQuery emulators: publish N, run, wait until every message is accounted

The last line is machine-readable:
``BENCH parse_ev_s=A chain_ev_s=B beam_batch_ev_s=C e2e_ev_s=D chain_vs_parse=B/A``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

RESULT_PREFIX = "RESULT "
DEDUP_WINDOW = timedelta(minutes=10)
METRICS_NAMESPACE = "bench"
BATCH_SINK_VARIABLE = "BENCH_BATCH_SINK"  # the write method stage (c) models (its rows' shape)


# --------------------------------------------------------------------------- helpers


def _rss_mib() -> float:
    """Current resident set size of this process (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak_rss() -> float:
    """Start a stage's peak-RSS measurement here (Linux: clear_refs 5 resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass  # not Linux: the peak then includes set-up (the corpus in memory)
    return _rss_mib()


def _peak_rss_mib() -> float:
    """Peak RSS since the last :func:`_reset_peak_rss` (VmHWM), else since process start."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def _read_lines(corpus: Path) -> list[bytes]:
    return corpus.read_bytes().splitlines()


def _settings():
    from domain.config import load_config
    from domain.mapping import ImportSettings

    # The backfill's settings: bundled app config, default limits, stale-event check off.
    return ImportSettings(load_config(None), max_event_age=None)


def _timed_passes(run: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return times


def _rate_result(count: int, times: list[float], baseline_mib: float, **extra: Any) -> dict[str, Any]:
    rates = sorted(count / t for t in times)
    return {
        "events": count,
        "ev_s": max(rates),
        "ev_s_median": statistics.median(rates),
        "passes": len(rates),
        "rates": rates,
        "peak_rss_mib": _peak_rss_mib(),
        "rss_delta_mib": _peak_rss_mib() - baseline_mib,
        **extra,
    }


def _merged(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One stage's result over several rounds: best and median of every pass, largest RSS."""
    rates = sorted(rate for result in results for rate in result["rates"])
    return {
        **results[-1],
        "ev_s": max(rates),
        "ev_s_median": statistics.median(rates),
        "passes": len(rates),
        "rates": rates,
        "rounds": len(results),
        "peak_rss_mib": max(result["peak_rss_mib"] for result in results),
        "rss_delta_mib": max(result["rss_delta_mib"] for result in results),
    }


# --------------------------------------------------------------------------- stages (run in a child)


def stage_parse(corpus: Path, now: datetime, repeat: int) -> dict[str, Any]:
    import orjson

    lines = _read_lines(corpus)
    baseline = _reset_peak_rss()
    loads, error = orjson.loads, orjson.JSONDecodeError

    def run() -> None:
        for line in lines:
            with contextlib.suppress(error):
                loads(line)

    return _rate_result(len(lines), _timed_passes(run, repeat), baseline)


def stage_chain(corpus: Path, now: datetime, repeat: int) -> dict[str, Any]:
    from collections import Counter

    from domain.mapping import process_message
    from domain.speedups import COMPILED

    lines = _read_lines(corpus)
    settings = _settings()
    baseline = _reset_peak_rss()
    outcomes: Counter[Any] = Counter()

    def run() -> None:  # the chain and nothing else, as (a) times orjson.loads and nothing else
        for line in lines:
            process_message(line, None, None, settings, now)

    compiled = COMPILED  # (the stage runs against the compiled build: see _run_stage)
    times = _timed_passes(run, repeat)
    # The outcomes (the same in every pass), counted in one more pass, not timed.
    outcomes.update(process_message(line, None, None, settings, now).reason for line in lines)
    named = {reason.value if reason else "imported": count for reason, count in outcomes.items()}
    return _rate_result(len(lines), times, baseline, compiled=compiled, outcomes=dict(sorted(named.items())))


def stage_batch(corpus: Path, now: datetime, repeat: int) -> dict[str, Any]:
    import apache_beam as beam
    from apache_beam.metrics import Metrics
    from apache_beam.options.pipeline_options import PipelineOptions

    from beam_jobs.backfill import DEFAULT_DEDUP_SHARDS
    from transforms.archives import ReadArchiveChunks
    from transforms.routing import RouteArchiveChunks
    from transforms.sinks import rows_carry_raw_message

    count = sum(1 for _ in corpus.open("rb"))
    settings = _settings()
    sink = os.environ.get(BATCH_SINK_VARIABLE, "FILE_LOADS")

    def run(path: Path) -> dict[str, int]:
        # The backfill's graph (the same composite) with each table's sink a counter; its rows
        # are shaped as the backfill shapes them for that write method.
        options = PipelineOptions(["--runner=FnApiRunner", "--direct_num_workers=1"])
        with beam.Pipeline(options=options) as pipeline:
            routed = (
                pipeline
                | "ReadArchive" >> ReadArchiveChunks(str(path))
                | "RouteSegmentMessages"
                >> RouteArchiveChunks(
                    settings, DEDUP_WINDOW, DEFAULT_DEDUP_SHARDS, keep_raw=rows_carry_raw_message(sink)
                )
            )
            for table, rows in routed.items():
                tally = Metrics.counter(METRICS_NAMESPACE, table)
                rows | f"Count[{table}]" >> beam.Map(lambda _, tally=tally: tally.inc())
        query = pipeline.result.metrics().query(beam.metrics.MetricsFilter().with_namespace(METRICS_NAMESPACE))
        return {c.key.metric.name: c.committed for c in query["counters"]}

    # A one-line run first: warms imports and measures the fixed start-up + tear-down cost.
    tiny = corpus.with_name(corpus.stem + ".one.jsonl")
    with corpus.open("rb") as handle:
        tiny.write_bytes(handle.readline())
    startup = min(_timed_passes(lambda: run(tiny), 2))
    baseline = _reset_peak_rss()
    rows: dict[str, int] = {}

    def full() -> None:
        rows.update(run(corpus))

    times = _timed_passes(full, repeat)
    result = _rate_result(count, times, baseline, rows=rows, startup_s=startup, sink=sink)
    result["ev_s_excl_startup"] = count / max(min(times) - startup, 1e-9)
    return result


def stage_e2e(corpus: Path, now: datetime, repeat: int) -> dict[str, Any]:
    from adapters.bigquery import make_client
    from beam_jobs import segment_import
    from beam_jobs.options import STREAMING_MAX_EVENT_AGE, import_settings
    from domain.mapping import process_message
    from schemas.reasons import Outcome
    from tools.direct_runner import speed_up_local_runs
    from tools.local_run import PROJECT, publish, read_accounting, reset_dataset, wait_until_accounted
    from tools.localstack import provision_pubsub
    from tools.samples import SampleMessage

    messages = [SampleMessage(line, {}, "corpus") for line in _read_lines(corpus)]
    dataset, suffix = "bench_e2e", int(time.time())
    topic, subscription = f"bench-topic-{suffix}", f"bench-sub-{suffix}"
    client = make_client(PROJECT)
    reset_dataset(client, dataset)
    provision_pubsub(PROJECT, topic, subscription)
    argv = [
        "--runner=BundleBasedDirectRunner",
        f"--project={PROJECT}",
        f"--dataset={dataset}",
        f"--subscription=projects/{PROJECT}/subscriptions/{subscription}",
        "--dedup_window=1m",
    ]
    # The messages that get a row (events or rejected_events), by the job's own settings: the
    # corpus's touch messages are skipped (not_imported_event) and have none.
    options = segment_import.make_options(argv).view_as(segment_import.SegmentImportOptions)
    settings = import_settings(options, default_max_event_age=STREAMING_MAX_EVENT_AGE)
    with_rows = sum(
        process_message(m.data, m.attributes, None, settings, now).outcome in (Outcome.IMPORTED, Outcome.REJECTED)
        for m in messages
    )
    publish(PROJECT, topic, messages, progress=False)

    # As in the load test: the DirectRunner's timer scan narrowed to keys with a timer, and a
    # 1-minute dedup window, so that the local runner's cost does not grow with the run.
    speed_up_local_runs()
    baseline = _reset_peak_rss()
    started = time.perf_counter()
    result = segment_import.run(argv)
    try:
        # Start-up ends when the first outcome lands in BigQuery; the rate after it is the
        # steady state of the runner + emulators.
        first_total, first_at = 0, None
        while first_at is None and time.perf_counter() - started < 300:
            first_total = read_accounting(client, dataset).total
            if first_total:
                first_at = time.perf_counter()
            else:
                time.sleep(0.2)
        # Done when every message that gets a row has it: imported (events) or dead-lettered
        # (rejected_events); the corpus has no repeats. (Skipped messages are counted only in
        # the per-minute import_stats rows, which can trail: their early panes fire on
        # processing time, which the DirectRunner advances slowly. Waited for separately,
        # reported, not timed.)
        done = None
        while done is None and time.perf_counter() - started < 1800:
            accounting = read_accounting(client, dataset)
            if accounting.imported + accounting.rejected >= with_rows:
                done = time.perf_counter()
            else:
                time.sleep(0.5)
        done = done or time.perf_counter()
        accounting = wait_until_accounted(client, dataset, len(messages), timeout=120, progress=False)
    finally:
        result.cancel()
    consistent = accounting.consistent(len(messages))
    steady = (len(messages) - first_total) / (done - first_at) if first_at and done > first_at else 0.0
    return {
        "events": len(messages),
        "ev_s": steady,
        "ev_s_with_startup": len(messages) / (done - started),
        "startup_s": (first_at or done) - started,
        "first_total": first_total,
        "elapsed_s": done - started,
        "consistent": consistent,
        "summary": accounting.summary_line(len(messages)),
        "peak_rss_mib": _peak_rss_mib(),
        "rss_delta_mib": _peak_rss_mib() - baseline,
    }


STAGES = {"parse": stage_parse, "chain": stage_chain, "batch": stage_batch, "e2e": stage_e2e}


def _child_main(args: argparse.Namespace) -> None:
    _pin(args.cpu)
    logging.basicConfig(level=logging.WARNING)
    now = datetime.fromisoformat(args.now)
    result = STAGES[args.stage](Path(args.corpus), now, args.repeat)
    result["cpu_affinity"] = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print(RESULT_PREFIX + json.dumps(result), flush=True)


# --------------------------------------------------------------------------- orchestration


def _write_corpus(path: Path, count: int, seed: int, now: datetime) -> None:
    from tools.samples import generate_corpus, write_lines

    with path.open("wb") as out:
        write_lines((("corpus", data) for data in generate_corpus(count, seed, now)), out)


def _run_stage(
    stage: str, corpus: Path, now: datetime, repeat: int, cpu: int | None, env: dict[str, str] | None = None
) -> dict[str, Any]:
    argv = [
        sys.executable,
        "-m",
        "bench.run",
        "--stage",
        stage,
        "--corpus",
        str(corpus),
        "--now",
        now.isoformat(),
        "--repeat",
        str(repeat),
    ]
    if cpu is not None:
        argv += ["--cpu", str(cpu)]
    print(f"[{stage}] running on {corpus.stat().st_size / 2**20:.0f} MiB ...", flush=True)
    proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).resolve().parent.parent)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    sys.stdout.write(proc.stdout)
    raise SystemExit(f"stage {stage} failed (exit {proc.returncode})")


def _default_cpu() -> int | None:
    """The last core: on a shared 2-core box, core 0 takes most interrupts and housekeeping."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return max(os.sched_getaffinity(0))


def _report(name: str, result: dict[str, Any], note: str = "") -> None:
    line = (
        f"({name}) {result['ev_s']:>10,.0f} ev/s"
        + (f"  median {result['ev_s_median']:,.0f} over {result['passes']}" if "ev_s_median" in result else "")
        + f"  events={result['events']:,}  peak_rss={result['peak_rss_mib']:.0f} MiB"
        + f" (+{result['rss_delta_mib']:.1f} MiB in stage)"
    )
    print(line + (f"  {note}" if note else ""), flush=True)


# The scale benchmarks (rules §11), each a module whose last line is its figures.
SCALE_BENCHMARKS = ("bench.scale", "bench.scale_batch", "bench.scale_serve")


def _run_scale_benchmarks() -> int:
    """Each scale benchmark in its own interpreter; a failed one fails the run."""
    failed = []
    for module in SCALE_BENCHMARKS:
        if importlib.util.find_spec(module) is None:
            continue
        if subprocess.run([sys.executable, "-m", module], check=False).returncode != 0:
            failed.append(module)
    if failed:
        print(f"scale benchmarks failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run.sh", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000, help="corpus size for (a)-(c)")
    parser.add_argument("--e2e-events", type=int, default=5_000, help="messages published for (d)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of (a) and (b), alternating (2 passes each): best and median"
    )
    parser.add_argument("--batch-repeat", type=int, default=1, help="timed runs of (c)")
    parser.add_argument(
        "--batch-sink",
        choices=("FILE_LOADS", "STREAMING_INSERTS"),
        default="FILE_LOADS",
        help="the backfill write method (c) models: STREAMING_INSERTS rows carry their raw message",
    )
    parser.add_argument("--cpu", type=int, default=None, help="core to pin each stage to (default: the last)")
    parser.add_argument("--quick", action="store_true", help="small run: 20k events, 2k end to end, 1 pass")
    parser.add_argument("--no-e2e", action="store_true", help="skip (d) (no emulators); reports e2e_ev_s=0")
    parser.add_argument("--stages", default="abcd", help="which of a, b, c, d to run (e.g. --stages d)")
    parser.add_argument(
        "--scale", action="store_true", help="run the scale benchmarks instead (bench/README.md): one line each"
    )
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        _child_main(args)
        return 0
    if args.scale:
        return _run_scale_benchmarks()
    if args.quick:
        args.events, args.e2e_events, args.repeat = 20_000, 2_000, 1
    cpu = args.cpu if args.cpu is not None else _default_cpu()
    now = datetime.now(UTC)

    with tempfile.TemporaryDirectory(prefix="segment-bench-") as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        started = time.perf_counter()
        _write_corpus(corpus, args.events, args.seed, now)
        print(
            f"corpus: {args.events:,} events, {corpus.stat().st_size / args.events:,.0f} B average, "
            f"seed {args.seed}, generated in {time.perf_counter() - started:.1f}s; stages pinned to cpu {cpu}",
            flush=True,
        )

        skipped = {"ev_s": 0.0}
        parse = chain = batch = skipped
        # (a) and (b) alternate, round by round (two timed passes of each per round): on a
        # shared host whose speed drifts by 10-20% within minutes, their ratio then compares
        # passes that ran under the same conditions.
        rounds: dict[str, list[dict[str, Any]]] = {"parse": [], "chain": []}
        for _ in range(args.repeat):
            for letter, stage in (("a", "parse"), ("b", "chain")):
                if letter in args.stages:
                    rounds[stage].append(_run_stage(stage, corpus, now, 2, cpu))
        if rounds["parse"]:
            parse = _merged(rounds["parse"])
            _report("a parse", parse)
        if rounds["chain"]:
            chain = _merged(rounds["chain"])
            _report("b chain", chain, f"compiled={chain['compiled']} outcomes={chain['outcomes']}")
        if rounds["parse"] and rounds["chain"]:
            ratios = [c["ev_s"] / p["ev_s"] for p, c in zip(rounds["parse"], rounds["chain"], strict=True)]
            print(f"chain/parse by round: {', '.join(f'{r:.3f}' for r in ratios)}", flush=True)
        if "c" in args.stages:
            batch = _run_stage(
                "batch", corpus, now, args.batch_repeat, cpu, env={**os.environ, BATCH_SINK_VARIABLE: args.batch_sink}
            )
            _report(
                "c beam batch",
                batch,
                f"incl. start-up {batch['startup_s']:.1f}s (excl.: {batch['ev_s_excl_startup']:,.0f} ev/s) "
                f"rows={batch['rows']} sink={batch['sink']}",
            )

        e2e_rate = 0.0
        if "d" in args.stages and not args.no_e2e:
            e2e_corpus = Path(tmp) / "e2e.jsonl"
            _write_corpus(e2e_corpus, args.e2e_events, args.seed + 1, datetime.now(UTC))
            from tools import localstack
            from tools.local_run import PROJECT

            # Emulators run unpinned (they are the test harness, not the job); the job's
            # process is pinned like the other stages and inherits their addresses.
            with localstack.local_stack(PROJECT, Path(tmp) / "stack"):
                e2e = _run_stage("e2e", e2e_corpus, now, 1, cpu, env=dict(os.environ))
            _report(
                "d e2e",
                e2e,
                f"steady state after {e2e['startup_s']:.1f}s start-up ({e2e['first_total']} done by then); "
                f"{e2e['ev_s_with_startup']:,.0f} ev/s incl. start-up; consistent={e2e['consistent']}; "
                f"{e2e['summary']}",
            )
            e2e_rate = e2e["ev_s"]

    ratio = chain["ev_s"] / parse["ev_s"] if parse["ev_s"] else 0.0
    if args.quick:
        print("quick run: one round; the chain_vs_parse gate is the full run's (bench/README.md)", flush=True)
    print(
        f"BENCH parse_ev_s={parse['ev_s']:.0f} chain_ev_s={chain['ev_s']:.0f} "
        f"beam_batch_ev_s={batch['ev_s']:.0f} e2e_ev_s={e2e_rate:.0f} chain_vs_parse={ratio:.3f}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

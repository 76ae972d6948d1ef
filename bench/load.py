"""Load test: a sustained publish of N events through the local stack, identity checked at the end.

    scripts/load_test.sh [--count 100000] [--rate 45] [--seed 11] [--timeout 6000]

A publisher thread publishes the seeded benchmark corpus (``generate_corpus``: ~1 KB events,
~2% bad records) to the Pub/Sub emulator at up to ``--rate`` msg/s (default 45) and at most
``--max-backlog`` messages (default 300) ahead of the outcomes in BigQuery, while the
streaming job (BundleBasedDirectRunner, in this process) imports it into the BigQuery
emulator. The run ends when every message is accounted for in the tables
(``published = imported + duplicate + skipped + rejected`` and import_stats agreeing) or at
the deadline. The backlog bound matters: pstest deletes a message left undelivered for 10
minutes (a constant in its code; real Pub/Sub keeps 7 days), and it pulls from its backlog in
Go map order, i.e. at random, so in a backlog of thousands some messages wait that long. A
first 100k run paced at 45 msg/s (faster than the local job's ~33 msg/s) lost 10,854
messages that way; a second, bounded at 3000 messages (~100 s of work), still lost 1,018
(1.0%, scattered over the run; its tables and import_stats agreed on the 98,982 that
arrived, with no duplicate). The default bound is now 300 (~10 s of work); with it (and the
timer index of ``tools/direct_runner.py``) a 100k run balanced: ``LOAD count=100000
import_s=3295.2 import_ev_s=30 consistent=true rss_pipeline_mb=292 rss_pubsub_mb=174
rss_bigquery_mb=485``. Reports publish and import throughput and peak RSS of this process (the
pipeline) and of the two emulators; the last line is machine-readable:

    LOAD count=N published_s=.. import_s=.. import_ev_s=.. consistent=true rss_pipeline_mb=.. ...

The BigQuery emulator is started, as everywhere locally, without its time-travel snapshots
(tools.localstack): bqemulator 1.4.0 otherwise copies the whole table after every
streamed insert, so its memory grows with the square of the rows (measured: 2.2 GB RSS
after 5,000 rows streamed 10 at a time, 0.24 GB without the snapshots); ``--bq-time-travel``
restores that behaviour for comparison. The DirectRunner's timer scan is narrowed to keys with
a timer (see ``tools/direct_runner.py``; ``--stock-direct-runner`` to compare), and the
job runs with ``--dedup_window=1m`` (``--dedup-window``) so that few keys hold a timer.

Not part of CI. Emulators named by PUBSUB_EMULATOR_HOST / BIGQUERY_EMULATOR_HOST are used as
is (their RSS is then not reported).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tools.direct_runner import speed_up_local_runs

PROJECT = "local-project"


def _hwm_mb(pid: int) -> float | None:
    """Peak resident set (VmHWM) of a process we started, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--timeout", type=float, default=6000, help="seconds to wait for every outcome")
    parser.add_argument("--chunk", type=int, default=500, help="messages published per batch of futures")
    parser.add_argument(
        "--rate",
        type=float,
        default=45,
        help="publish rate, msg/s (0 = as fast as possible). pstest's pull cost grows with the "
        "backlog (100k unacked messages: ~20 msg/s), so a paced publish measures the "
        "pipeline rather than the emulator",
    )
    parser.add_argument(
        "--max-backlog",
        type=int,
        default=300,
        help="publish at most this many messages ahead of the outcomes in BigQuery: pstest "
        "pulls from its backlog in random order and deletes messages left undelivered "
        "for 10 minutes (a hard-coded retention)",
    )
    parser.add_argument(
        "--dedup-window",
        default="1m",
        help="the job's --dedup_window (default 1m: keys with a pending expiry timer ~ rate x "
        "window, and the DirectRunner scans them all at every step)",
    )
    parser.add_argument(
        "--stock-direct-runner",
        action="store_true",
        help="run the stock DirectRunner, without the local harness fixes of tools/direct_runner.py",
    )
    parser.add_argument(
        "--bq-time-travel",
        action="store_true",
        help="keep bqemulator's per-insert table snapshots (memory grows with rows squared)",
    )
    args = parser.parse_args(argv)

    from tools import localstack

    started = {}
    state = Path(tempfile.mkdtemp(prefix="load-test-"))
    if not os.environ.get(localstack.PUBSUB_ENV):
        started["pubsub"] = localstack.start_pubsub_emulator(state)
        os.environ[localstack.PUBSUB_ENV] = started["pubsub"].host
    if not os.environ.get(localstack.BIGQUERY_ENV):
        started["bigquery"] = localstack.start_bigquery_emulator(PROJECT, state, time_travel=args.bq_time_travel)
        os.environ[localstack.BIGQUERY_ENV] = started["bigquery"].host
    try:
        return _run(args, started)
    finally:
        for server in started.values():
            server.stop()


def _run(args, started) -> int:
    from google.cloud import pubsub_v1

    from adapters.bigquery import make_client
    from adapters.provision import provision_tables
    from beam_jobs import segment_import
    from tools.local_run import read_accounting
    from tools.localstack import provision_pubsub
    from tools.samples import generate_corpus

    suffix = uuid.uuid4().hex[:8]
    dataset, topic, subscription = f"load_{suffix}", f"load-{suffix}", f"load-sub-{suffix}"
    client = make_client(PROJECT)
    provision_tables(client, dataset)
    provision_pubsub(PROJECT, topic, subscription)

    publisher = pubsub_v1.PublisherClient()
    topic_path = publisher.topic_path(PROJECT, topic)
    published = {"n": 0, "done_at": None, "error": None}
    # Flow control: the publisher stays at most --max-backlog messages ahead of the outcomes.
    progress = threading.Condition()
    outcomes = {"accounted": 0, "stop": False}

    def publish_all() -> None:
        try:
            pending = []
            began = time.monotonic()
            for index, data in enumerate(generate_corpus(args.count, args.seed, now=datetime.now(UTC))):
                if index % args.chunk == 0:
                    with progress:
                        progress.wait_for(
                            lambda: outcomes["stop"] or published["n"] - outcomes["accounted"] < args.max_backlog
                        )
                if args.rate and index % 50 == 0:
                    ahead = began + index / args.rate - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)  # pacing, not waiting for an outcome
                pending.append(publisher.publish(topic_path, data))
                if len(pending) >= args.chunk:
                    for future in pending:
                        future.result(timeout=120)
                    published["n"] += len(pending)
                    pending = []
            for future in pending:
                future.result(timeout=120)
            published["n"] += len(pending)
        except BaseException as error:  # reported below
            published["error"] = error
        published["done_at"] = time.monotonic()

    if not args.stock_direct_runner:
        speed_up_local_runs()
    t0 = time.monotonic()
    result = segment_import.run(
        [
            "--runner=BundleBasedDirectRunner",
            f"--project={PROJECT}",
            f"--dataset={dataset}",
            f"--subscription=projects/{PROJECT}/subscriptions/{subscription}",
            f"--dedup_window={args.dedup_window}",
        ]
    )
    thread = threading.Thread(target=publish_all, name="publisher", daemon=True)
    thread.start()
    deadline = t0 + args.timeout
    accounting, last_print = None, 0.0
    try:
        while True:
            accounting = read_accounting(client, dataset)
            with progress:
                outcomes["accounted"] = accounting.total
                progress.notify_all()
            now = time.monotonic()
            if now - last_print >= 15:
                print(f"[{now - t0:6.0f}s] published={published['n']} accounted={accounting.total}", flush=True)
                last_print = now
            if published["error"] or (published["done_at"] and accounting.consistent(args.count)) or now > deadline:
                break
            time.sleep(10)  # poll interval of a deadline-bounded condition wait (queries load the emulator)
    finally:
        with progress:
            outcomes["stop"] = True
            progress.notify_all()
        result.cancel()
    elapsed = time.monotonic() - t0
    publish_s = (published["done_at"] or time.monotonic()) - t0
    consistent = accounting is not None and accounting.consistent(args.count)
    rss = {"pipeline": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    for name, server in started.items():
        rss[name] = _hwm_mb(server.pid)
    # What was really published (all of --count unless the publisher failed or the deadline hit).
    print(accounting.summary_line(published["n"]) if accounting else "no accounting")
    if not consistent and not published["error"] and time.monotonic() > deadline:
        print(
            f"timed out after {args.timeout:.0f}s (--timeout): {published['n']} of {args.count} published, "
            f"{accounting.total if accounting else 0} accounted"
        )
    if published["error"]:
        print(f"publish failed: {published['error']!r}")
    rate = (accounting.total if accounting else 0) / elapsed
    print(
        f"published {published['n']} in {publish_s:.1f}s ({published['n'] / publish_s:.0f} msg/s); "
        f"accounted {accounting.total if accounting else 0} in {elapsed:.1f}s ({rate:.0f} msg/s end to end)"
    )
    print(
        "LOAD "
        + " ".join(
            [
                f"count={args.count}",
                f"published_s={publish_s:.1f}",
                f"import_s={elapsed:.1f}",
                f"import_ev_s={rate:.0f}",
                f"rate={args.rate:g}",
                f"consistent={str(consistent).lower()}",
                *(f"rss_{k}_mb={v:.0f}" for k, v in rss.items() if v is not None),
            ]
        )
    )
    return 0 if consistent else 1


if __name__ == "__main__":
    sys.exit(main())

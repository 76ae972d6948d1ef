"""The main job, locally: emulators -> publish sample -> streaming import -> summary.

``run_local.sh`` calls this. Each step reuses the product's code: provisioning from
``schemas/``, the streaming job from ``beam_jobs.segment_import`` (DirectRunner), and
the summary read back from the BigQuery tables, never from in-process counters.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson
import yaml
from google.cloud import bigquery
from tqdm import tqdm

from adapters.bigquery import make_client
from adapters.exchange_rates import load_rates
from adapters.provision import provision_tables
from domain.config import DEFAULT_CONFIG_PATH, load_config
from domain.exchange_rates import BUNDLED_RATES, parse_rates
from domain.mapping import BRANCH_KEY_ATTRIBUTE
from domain.segment_input import split_messages
from tools import localstack
from tools.attribution_sample import EXPORT_FILE_NAME, AttributionSample, Expected, attribution_sample
from tools.direct_runner import speed_up_local_runs
from tools.localstack import provision_pubsub
from tools.samples import SampleMessage, generate_sample
from tools.webhook_receiver import Behaviour, WebhookReceiver

PROJECT = "local-project"
LOCAL_FLUSH = ("--insert_buffering_seconds=1", "--stats_flush_seconds=1")
# The bundled local config's credentials (public on purpose: domain/default_app_config.yaml).
LOCAL_APP, LOCAL_KEY, LOCAL_SECRET = "local-app", "key_live_local_default", "secret_live_local_default"
# Wide enough for any sample's event times; the partition filter production requires.
ALL_TIME = "timestamp >= TIMESTAMP '1970-01-01' AND timestamp < TIMESTAMP '2200-01-01'"


@dataclasses.dataclass(frozen=True)
class Accounting:
    """Outcome totals read back from BigQuery."""

    imported: int
    duplicate: int
    skipped: int
    rejected: int
    stats: dict[str, int]
    attributed: int = 0  # imported events attributed to a touch (rules §9)

    @property
    def total(self) -> int:
        return self.imported + self.duplicate + self.skipped + self.rejected

    def consistent(self, published: int) -> bool:
        """All messages accounted for, tables and per-minute stats agreeing."""
        return (
            self.total == published
            and sum(self.stats.values()) == published
            and self.stats.get("imported", 0) == self.imported
            and self.stats.get("rejected", 0) == self.rejected
        )

    def summary_line(self, published: int) -> str:
        return (
            f"SUMMARY published={published} imported={self.imported} duplicate={self.duplicate} "
            f"skipped={self.skipped} rejected={self.rejected} attributed={self.attributed}"
        )


def publish(project: str, topic: str, messages: Sequence[SampleMessage], *, progress: bool = True) -> None:
    """Publish with the real Pub/Sub client, waiting for every server ack."""
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    topic_path = publisher.topic_path(project, topic)
    futures = [publisher.publish(topic_path, m.data, **m.attributes) for m in messages]
    for future in tqdm(futures, desc="publish", unit="msg", disable=not progress, file=sys.stdout):
        future.result(timeout=60)


def read_accounting(client: bigquery.Client, dataset: str) -> Accounting:
    """imported from ``events`` (distinct ids), rejected from ``rejected_events``, duplicate
    and skipped from ``import_stats`` (summed increments), each written row counted once."""
    ds = f"`{client.project}.{dataset}`"
    imported = _scalar(client, f"SELECT COUNT(DISTINCT id) FROM {ds}.events WHERE {ALL_TIME}")
    attributed = _scalar(client, f"SELECT COUNT(DISTINCT id) FROM {ds}.events WHERE {ALL_TIME} AND attributed")
    rejected = _scalar(client, f"SELECT COUNT(*) FROM {ds}.rejected_events_dedup")
    stats = {
        row.outcome: int(row.n)
        for row in client.query(
            f"SELECT outcome, SUM(count) AS n FROM {ds}.import_stats_dedup GROUP BY outcome"
        ).result()
    }
    return Accounting(imported, stats.get("duplicate", 0), stats.get("skipped", 0), rejected, stats, attributed)


def _scalar(client: bigquery.Client, sql: str) -> int:
    return int(next(iter(client.query(sql).result()))[0] or 0)


def wait_until_accounted(
    client: bigquery.Client, dataset: str, published: int, *, timeout: float, progress: bool = True
) -> Accounting:
    """Poll the tables until every published message has its outcome (or the deadline passes)."""
    deadline = time.monotonic() + timeout
    with tqdm(total=published, desc="import", unit="msg", disable=not progress, file=sys.stdout) as bar:
        while True:
            accounting = read_accounting(client, dataset)
            bar.update(min(accounting.total, published) - bar.n)
            if accounting.consistent(published) or time.monotonic() > deadline:
                return accounting
            time.sleep(0.5)  # poll interval, not a wait for an outcome: the loop checks the condition


def import_until_accounted(
    project: str, dataset: str, subscription: str, published: int, *, timeout: float, progress: bool = False
) -> Accounting:
    """Run the streaming job (DirectRunner) on ``subscription`` until every one of the
    ``published`` messages is accounted for in the tables (or the deadline passes); stop it."""
    with streaming_job(project, dataset, subscription):
        return wait_until_accounted(make_client(project), dataset, published, timeout=timeout, progress=progress)


@contextlib.contextmanager
def streaming_job(project: str, dataset: str, subscription: str, *options: str) -> Iterator[None]:
    """The streaming job on the DirectRunner, running on ``subscription`` until the block ends."""
    from beam_jobs import segment_import

    speed_up_local_runs()
    result = segment_import.run(
        [
            "--runner=BundleBasedDirectRunner",
            f"--project={project}",
            f"--dataset={dataset}",
            f"--subscription=projects/{project}/subscriptions/{subscription}",
            # A few messages at a time here, not thousands a second: batches that wait 1 s, not 5,
            # and counts written every second, not every 10 (LOCAL_FLUSH; options override them).
            *LOCAL_FLUSH,
            *options,
        ]
    )
    try:
        yield
    finally:
        result.cancel()


def load_branch_file(project: str, dataset: str, sample: AttributionSample, directory: str, *options: str) -> None:
    """The sample's Branch export file into ``touches`` (``load_touches``, which prints its
    LOAD_TOUCHES line), before the job that reads them back starts."""
    from beam_jobs import load_touches

    path = Path(directory) / EXPORT_FILE_NAME
    path.write_bytes(sample.export_file())
    load_touches.main(
        ["--runner=FnApiRunner", f"--project={project}", f"--dataset={dataset}", f"--input={path}", *options]
    )


def publish_in_phases(
    client: bigquery.Client, dataset: str, topic: str, phases: Sequence[Sequence[SampleMessage]], *, timeout: float
) -> Accounting:
    """Publish each phase once every message before it is accounted for (attribution depends
    on what arrived first); returns the accounting after the last phase."""
    published = 0
    accounting = read_accounting(client, dataset)
    for phase in phases:
        publish(PROJECT, topic, phase)
        published += len(phase)
        accounting = wait_until_accounted(client, dataset, published, timeout=timeout)
        if not accounting.consistent(published):
            break
    return accounting


LOCAL_SUBSCRIPTION = "local-sample"
LOCAL_WEBHOOK_SECRET = "local-webhook-secret"  # the demo's own secret, in this process's environment only


def config_with_receiver(url: str, directory: str) -> str:
    """The bundled app config with its sample webhook subscription pointed at ``url`` and on;
    returns the file's path (the streaming job reads it with --app_config)."""
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    for app in config["apps"]:
        for subscription in app.get("webhooks", []):
            if subscription["id"] == LOCAL_SUBSCRIPTION:
                subscription.update(url=url, enabled=True)
    path = Path(directory) / "apps-with-local-webhook.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def wait_for_webhooks(
    client: bigquery.Client, dataset: str, config_path: str, receiver: WebhookReceiver, *, timeout: float
) -> tuple[int, int, int]:
    """(delivered, failed, expected) of the sample subscription once every matching imported
    event is delivered or recorded in webhook_failures (or the deadline passes)."""
    app = load_config(config_path).app_by_id(LOCAL_APP)
    assert app is not None
    subscription = app.webhook(LOCAL_SUBSCRIPTION)
    assert subscription is not None
    ds = f"`{client.project}.{dataset}`"
    rows = [
        dict(r)
        for r in client.query(f"SELECT * FROM {ds}.events_dedup WHERE {ALL_TIME} AND app_id = '{LOCAL_APP}'").result()
    ]
    expected = sum(1 for row in rows if subscription.filter.matches(row))
    deadline = time.monotonic() + timeout
    while True:
        delivered = len(receiver.delivered_keys())
        failed = _scalar(
            client,
            f"SELECT COUNT(DISTINCT event_id) FROM {ds}.webhook_failures "
            f"WHERE {ALL_TIME.replace('timestamp', 'failed_at')} AND subscription_id = '{LOCAL_SUBSCRIPTION}'",
        )
        if delivered + failed >= expected or time.monotonic() > deadline:
            return delivered, failed, expected
        time.sleep(0.5)  # poll interval, not a wait for an outcome: the loop checks the condition


def read_input(path: str, branch_key: str | None) -> list[SampleMessage]:
    """A user's file of Segment events as Pub/Sub messages (``domain.segment_input`` forms)."""
    attributes = {BRANCH_KEY_ATTRIBUTE: branch_key} if branch_key else {}
    data = Path(path).read_bytes()
    return [SampleMessage(message, dict(attributes), "input") for message in split_messages(data)]


def check_attribution(client: bigquery.Client, dataset: str, expected: dict[str, Expected]) -> tuple[int, int]:
    """Every imported event's attribution against the ground truth (unattributed unless the
    attribution sample says otherwise): (checked, mismatches), the mismatches printed."""
    rows = client.query(f"""
        SELECT segment_message_id, attributed, last_attributed_touch_data_tilde_campaign AS campaign,
               last_attributed_touch_data_tilde_channel AS channel, last_attributed_touch_type AS type,
               attribution_match AS match
        FROM `{client.project}.{dataset}.events_dedup` WHERE {ALL_TIME}""").result()
    checked = mismatches = 0
    seen = set()
    for row in rows:
        checked += 1
        seen.add(row.segment_message_id)
        actual = Expected(row.campaign, row.channel, row.type, row.match) if row.attributed else Expected(None)
        truth = expected.get(row.segment_message_id, Expected(None))
        if actual != truth:
            mismatches += 1
            print(f"  attribution mismatch {row.segment_message_id}: {actual} != {truth}")
    for message_id in sorted(expected.keys() - seen):  # a conversion of the sample that was not imported
        mismatches += 1
        print(f"  attribution mismatch {message_id}: not imported")
    return checked, mismatches


def reset_dataset(client: bigquery.Client, dataset: str) -> None:
    """Local runs start from empty tables (only ever against the emulator) and the bundled
    exchange rates (what `segment-branch load-rates --csv bundled` loads)."""
    client.delete_dataset(f"{client.project}.{dataset}", delete_contents=True, not_found_ok=True)
    provision_tables(client, dataset)
    load_rates(client, dataset, parse_rates(BUNDLED_RATES.read_text().splitlines()))


def print_report(client: bigquery.Client, dataset: str) -> None:
    """Readable breakdowns and a few analyst queries over the imported data."""
    ds = f"`{client.project}.{dataset}`"
    sections: Iterable[tuple[str, str]] = (
        (
            "Imported events per Branch event",
            f"""
            SELECT category, name, COUNT(DISTINCT id) AS events FROM {ds}.events WHERE {ALL_TIME}
            GROUP BY category, name ORDER BY category, events DESC, name""",
        ),
        (
            "Outcomes per reason (import_stats)",
            f"""
            SELECT outcome, IFNULL(reason, '-') AS reason, SUM(count) AS messages FROM {ds}.import_stats_dedup
            GROUP BY outcome, reason ORDER BY outcome, messages DESC""",
        ),
        (
            "Analyst: events per platform",
            f"""
            SELECT IFNULL(user_data_os, 'SERVER') AS os, IFNULL(user_data_platform, '-') AS platform,
                   COUNT(DISTINCT id) AS events FROM {ds}.events WHERE {ALL_TIME}
            GROUP BY os, platform ORDER BY events DESC""",
        ),
        (
            "Analyst: revenue per currency (PURCHASE)",
            f"""
            SELECT event_data_currency AS currency, COUNT(*) AS orders, SUM(event_data_revenue) AS revenue
            FROM {ds}.events WHERE {ALL_TIME} AND name = 'PURCHASE'
            GROUP BY currency ORDER BY revenue DESC""",
        ),
        (
            "Analyst: top products added to cart",
            f"""
            SELECT item.product_name AS product, SUM(IFNULL(item.quantity, 1)) AS quantity
            FROM {ds}.events, UNNEST(content_items) AS item
            WHERE {ALL_TIME} AND name = 'ADD_TO_CART'
            GROUP BY product ORDER BY quantity DESC, product LIMIT 5""",
        ),
        (
            "Attribution: share of imported events attributed",
            f"""
            SELECT SUM(IF(attributed, 1, 0)) AS attributed, COUNT(*) AS imported,
                   ROUND(100 * SAFE_DIVIDE(SUM(IF(attributed, 1, 0)), COUNT(*)), 1) AS percent
            FROM {ds}.events_dedup WHERE {ALL_TIME}""",
        ),
        (
            "Attribution: conversions and revenue by campaign and channel",
            f"""
            SELECT last_attributed_touch_data_tilde_campaign AS campaign,
                   last_attributed_touch_data_tilde_channel AS channel,
                   COUNT(*) AS conversions, SUM(event_data_revenue) AS revenue
            FROM {ds}.events_dedup WHERE {ALL_TIME} AND attributed
            GROUP BY campaign, channel ORDER BY conversions DESC, campaign LIMIT 10""",
        ),
    )
    for title, sql in sections:
        rows = list(client.query(sql).result())
        print(f"\n{title}")
        if not rows:
            print("  (none)")
            continue
        names = list(rows[0].keys())
        widths = [max(len(n), *(len(_cell(r[n])) for r in rows)) for n in names]
        print("  " + "  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
        for row in rows:
            print("  " + "  ".join(_cell(row[n]).ljust(w) for n, w in zip(names, widths, strict=True)))


def show_serving(dataset: str, export_dir: str) -> None:
    """One Query API call (in-process, the real FastAPI app) and one daily export (the Beam job)."""
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.settings import ServingSettings

    today = datetime.now(UTC).date()
    api = TestClient(create_app(ServingSettings(PROJECT, dataset), export_settings=export_settings(export_dir)))
    credentials = {"branch_key": LOCAL_KEY, "branch_secret": LOCAL_SECRET}
    one_day = {"start_date": today.isoformat(), "end_date": today.isoformat(), "data_source": "eo_commerce_event"}
    requests = (
        # Revenue by event and currency over one day (start_date == end_date: that whole day).
        {
            **one_day,
            "aggregation": "revenue",
            "dimensions": ["name", "event_data_currency"],
            "ordered_by": "revenue",
            "ordered": "descending",
        },
        # Which campaigns drove today's commerce events (the attribution dimensions).
        {
            **one_day,
            "aggregation": "total_count",
            "dimensions": ["last_attributed_touch_data_tilde_campaign", "last_attributed_touch_data_tilde_channel"],
            "filters": {"attributed": ["true"]},
        },
    )
    for body in requests:
        response = api.post("/v1/query/analytics?limit=5", json={**credentials, **body})
        print(f"\nQuery API: POST /v1/query/analytics?limit=5 {orjson.dumps(body).decode()}")
        print(f"  -> HTTP {response.status_code} {orjson.dumps(response.json(), option=orjson.OPT_INDENT_2).decode()}")

    show_export(api, dataset, export_dir, today)


def show_export(api, dataset: str, export_dir: str, today) -> None:
    """The scheduled export job over every app, then today's partial day by hand (the sample's
    events are today's), then the Export API for today: 15 empty lists, since a day is only
    served once complete (rules §10) and a partial export is never served."""
    from beam_jobs import daily_export

    common = ["--runner=FnApiRunner", f"--project={PROJECT}", f"--dataset={dataset}", f"--output={export_dir}"]
    scheduled = daily_export.run([*common, "--all_apps", "--export_date=auto"])
    print(
        f"\nDaily Export, scheduled form (--all_apps --export_date=auto) -> {export_dir}: {len(scheduled)} complete day(s) exported"
    )
    for manifest in daily_export.run([*common, "--all_apps", f"--export_date={today.isoformat()}"]):
        print(
            f"  {manifest['app_id']} {manifest['export_date']} (partial: today is not complete, not served by the API)"
        )
        for topic, count in sorted(manifest["row_counts"].items()):
            if count:
                print(f"    {topic:<26} {count:>5} rows in {len(manifest['files'][topic])} file(s)")
    answer = api.post(
        "/v3/export", json={"branch_key": LOCAL_KEY, "branch_secret": LOCAL_SECRET, "export_date": today.isoformat()}
    )
    empty = sum(1 for urls in answer.json().values() if not urls) if answer.status_code == 200 else 0
    print(
        f"Export API: POST /v3/export for {today} -> HTTP {answer.status_code}, {len(answer.json())} topic keys, {empty} empty "
        f"(a day is served once complete: day + 1 day + max event age + safety lag)"
    )


def export_settings(export_dir: str):
    """The service reads the files the local export job wrote (and signs its links with a fixed
    local key, so links printed in one process work in the other)."""
    from serving.export import ExportSettings
    from serving.signing import Signer

    return ExportSettings(export_dir, Signer(b"local-run-export-links"))


def serve(dataset: str, port: int, export_dir: str) -> None:
    """Keep the service up (Ctrl-C stops it and the emulators)."""
    import uvicorn

    from serving.app import create_app
    from serving.settings import ServingSettings

    print(f"\nStatus page: http://127.0.0.1:{port}/status  (log in with {LOCAL_KEY} / {LOCAL_SECRET})")
    print(f"Query API:   http://127.0.0.1:{port}/docs   Ctrl-C stops the service and the emulators.")
    app = create_app(ServingSettings(PROJECT, dataset), export_settings=export_settings(export_dir))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


@contextlib.contextmanager
def logs_to_file(path: Path) -> Iterator[None]:
    """Beam's and the libraries' log lines (and Python warnings) go to ``path`` in the block;
    the console keeps this run's own lines and progress bars."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        root.handlers[:], level = saved
        root.setLevel(level)
        handler.close()


def rollup_after_import(client: bigquery.Client, dataset: str) -> None:
    """What the scheduled ``segment-branch rollup`` does on Cloud Scheduler, once: the Query API
    and the status page then answer from the rollups."""
    from datetime import UTC, datetime, timedelta

    from adapters.rollup import run_rollup

    run = run_rollup(client, dataset, datetime.now(UTC) - timedelta(days=30))
    print(f"rollup: {run.hours} app-hours of {run.apps} apps rolled up (segment-branch rollup)")


def _cell(value) -> str:
    if hasattr(value, "normalize"):  # Decimal: drop NUMERIC's trailing zeros
        return f"{value.normalize():f}"
    return "-" if value is None else str(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1200, help="sample messages to publish")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dataset", default="segment_branch")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for every outcome (a deadline)")
    parser.add_argument("--state-dir", default=None, help="where emulator logs go (default: a temp dir)")
    parser.add_argument("--export-dir", default="out/exports", help="where the daily export files go")
    parser.add_argument("--log-file", default="out/local_run.log", help="where Beam's and the libraries' logs go")
    parser.add_argument("--serve", action="store_true", help="keep the service (status page, APIs) up after the run")
    parser.add_argument("--port", type=int, default=8080, help="service port with --serve")
    parser.add_argument(
        "--input",
        default=None,
        help="your own Segment events instead of the sample: JSON lines, SDK batch bodies or a JSON array",
    )
    parser.add_argument("--branch-key", default=None, help="with --input: the branch_key attribute of every message")
    parser.add_argument(
        "--max-event-age", default=None, help="stale_event threshold of the job (default 24h; off with --input)"
    )
    args = parser.parse_args(argv)
    # A plain `kill` must stop the emulators too: exit through the context managers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))

    started = time.monotonic()
    with logs_to_file(Path(args.log_file)), localstack.local_stack(PROJECT, args.state_dir):
        client = make_client(PROJECT)
        reset_dataset(client, args.dataset)
        topic, subscription = "segment-events", f"segment-import-{int(time.time())}"
        provision_pubsub(PROJECT, topic, subscription)
        now = datetime.now(UTC)
        attribution = None if args.input else attribution_sample(now, branch_files=True)
        if attribution is None:  # the user's own events, as they are
            phases = [read_input(args.input, args.branch_key)]
        else:  # touches first, then the conversions that link platforms, then everything else
            phases = [attribution.touches, attribution.teachers, [*generate_sample(args.count, args.seed, now),
                                                                  *attribution.conversions]]  # fmt: skip
        messages = [message for phase in phases for message in phase]
        max_event_age = args.max_event_age or ("off" if args.input else "24h")

        job_started = time.monotonic()
        os.environ["LOCAL_WEBHOOK_SECRET"] = LOCAL_WEBHOOK_SECRET
        receiver = WebhookReceiver(
            Behaviour(fail_every=10), secret=LOCAL_WEBHOOK_SECRET.encode(), path="/branch-events"
        )
        with receiver, tempfile.TemporaryDirectory(prefix="local-run-") as scratch:
            config_path = config_with_receiver(receiver.url, scratch)
            job_options = (f"--max_event_age={max_event_age}", f"--app_config={config_path}")
            if attribution is not None:  # touches only Branch's own export file has: the job reads them at start
                load_branch_file(PROJECT, args.dataset, attribution, scratch, f"--app_config={config_path}")
            with streaming_job(PROJECT, args.dataset, subscription, *job_options):
                accounting = publish_in_phases(client, args.dataset, topic, phases, timeout=args.timeout)
                webhooks = wait_for_webhooks(client, args.dataset, config_path, receiver, timeout=args.timeout)
        job_seconds = time.monotonic() - job_started
        import_seconds = time.monotonic() - started
        rollup_after_import(client, args.dataset)
        print_report(client, args.dataset)
        checked, mismatches = check_attribution(client, args.dataset, attribution.expected) if attribution else (0, 0)
        show_serving(args.dataset, args.export_dir)
        print(
            f"\n{len(messages)} messages accounted for {import_seconds:.1f}s after start (emulators, "
            f"provisioning and publish included); the streaming job took {job_seconds:.1f}s "
            f"({len(messages) / job_seconds:.0f} msg/s on the DirectRunner, job start-up included)"
        )
        # Your own events have no ground truth to check attribution against.
        lines = [f"ATTRIBUTION checked={checked} mismatches={mismatches}"] if attribution else []
        lines.append("WEBHOOK delivered={} failed={} expected={}".format(*webhooks))
        lines.append(accounting.summary_line(len(messages)))
        if args.serve:
            print("\n".join(lines), flush=True)
            serve(args.dataset, args.port, args.export_dir)
        else:
            print(
                "Status page and APIs: ./run_local.sh --serve keeps the service up at "
                f"http://127.0.0.1:{args.port}/status"
            )
        print(f"Beam's and the libraries' logs: {args.log_file}")
        print("\n".join(lines))
    delivered, failed, expected = webhooks
    return 0 if accounting.consistent(len(messages)) and mismatches == 0 and delivered + failed == expected else 1


if __name__ == "__main__":
    sys.exit(main())

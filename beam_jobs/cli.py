"""``segment-branch``: the importer's command line.

``map``         what would happen to these events? Segment messages (one message's data per
                line) on stdin -> one JSON outcome line per input, in order (``--attribute``:
                also attributed, in order, through one in-memory attribution state).
``hash-secret`` a Branch secret on stdin -> the hash to put in the app config.
``provision``   create the BigQuery dataset, tables and views (idempotent).
``load-rates``  load dated exchange rates to USD from a CSV (``day,currency,usd_per_unit``).
``replay``      send stored rejected messages back through the import after a fix.
``webhook test`` send one sample event to a webhook subscription and print the answer.
``erase``       delete one user's rows of one app (a privacy request); ``--dry-run`` only counts.
``rollup``      recompute the hourly rollups of the hours whose events changed since ``--since``.
"""

from __future__ import annotations

import argparse
import collections
import getpass
import itertools
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import orjson

from adapters.storage import load_app_config
from domain.attribution import UNATTRIBUTED, AttributionState
from domain.credentials import hash_secret
from domain.mapping import (
    BRANCH_KEY_ATTRIBUTE,
    DEFAULT_MAX_CLOCK_SKEW,
    DEFAULT_MAX_EVENT_AGE,
    DEFAULT_MAX_PAYLOAD_BYTES,
    ImportSettings,
    MappingOutcome,
    process_message,
)
from domain.segment_input import document_messages, line_messages
from domain.timestamps import parse_duration, parse_timestamp
from domain.touches import ADVERTISING_ID, BROWSER_FINGERPRINT, DEVELOPER_IDENTITY, DEVICE_ID, identity_keys


def _now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        return parse_timestamp(text, "--now")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _duration(text: str) -> timedelta | None:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _age(text: str) -> timedelta:
    """A duration where 0 (or off) is no time at all."""
    return _duration(text) or timedelta(0)


def _since(text: str) -> datetime:
    """An ISO 8601 time, or a duration back from now (``26h``: the schedule's lookback)."""
    try:
        back = parse_duration(text)
    except ValueError:
        return _now(text)
    return datetime.now(UTC) - (back or timedelta(0))


def _rollup(args: argparse.Namespace) -> int:
    from adapters.bigquery import make_client
    from adapters.rollup import run_rollup

    run = run_rollup(make_client(args.project), args.dataset, args.since)
    print(f"ROLLUP since={run.since.isoformat()} through={run.run_at.isoformat()} hours={run.hours} apps={run.apps}")
    return 0


def _identifier(text: str) -> str:
    """An identifier as the tables store it: trimmed, never blank."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty identifier")
    return text.strip()


def map_lines(
    lines: BinaryIO,
    out: BinaryIO,
    settings: ImportSettings,
    now: datetime,
    attributes: dict[str, str],
    explain: bool,
    attribution: AttributionState | None = None,
) -> collections.Counter:
    """Map each input line; write one JSON line per input; return outcome/reason counts.

    With ``attribution``, the lines run in order through that one attribution state (rules §9):
    a touch's line carries ``"touch"``, an imported row its attribution columns.
    """
    counts: collections.Counter = collections.Counter()
    for data in _input_messages(lines):
        result, shown = map_message(data, attributes, settings, now, explain=explain, attribution=attribution)
        counts[(result.outcome.value, result.reason.value if result.reason else None)] += 1
        out.write(orjson.dumps(shown) + b"\n")
    return counts


def _input_messages(lines: BinaryIO) -> Iterator[bytes]:
    """JSON lines one per line, streamed: each line, even a blank or broken one, gets its
    outcome line, and a line that is a batch body or an array one line per message. A file
    that is one JSON document (an array, an SDK batch body, a pretty-printed message) is read
    whole and split into its messages (``domain.segment_input``)."""
    first = lines.readline()
    try:
        head = orjson.loads(first)
    except orjson.JSONDecodeError:
        head = None
    rest: Iterable[bytes] = lines
    if first and not (type(head) is dict and "batch" not in head):
        data = first + lines.read()
        messages = document_messages(data)
        if messages is not None:
            yield from messages
            return
        first, rest = b"", data.splitlines(keepends=True)
    for line in itertools.chain([first] if first else [], rest):
        data = line[:-1] if line.endswith(b"\n") else line
        yield from line_messages(data[:-1] if data.endswith(b"\r") else data)


def map_message(
    data: bytes,
    attributes: dict[str, str] | None,
    settings: ImportSettings,
    now: datetime,
    *,
    explain: bool = False,
    attribution: AttributionState | None = None,
) -> tuple[MappingOutcome, dict[str, Any]]:
    """One message's outcome and its output line (``--now`` stands in for the publish time)."""
    result = process_message(data, attributes, None, settings, now)
    shown = result.to_json(explain=explain)
    if attribution is not None:
        if result.touch is not None:
            attribution.add_touch(result.touch)
            shown["touch"] = result.touch.columns()
            if result.touch.warnings:
                shown["touch"]["warnings"] = list(result.touch.warnings)
        elif result.row is not None and result.app_id is not None and result.event_time is not None:
            decided = attribution.attribute(
                result.app_id, identity_keys(result.row), result.event_time, settings.windows[result.app_id]
            )
            result.row.update(decided.columns(result.event_time) if decided else UNATTRIBUTED)
    return result, shown


def _print_breakdown(counts: collections.Counter) -> None:
    total = sum(counts.values())
    print(f"{total} messages", file=sys.stderr)
    for (outcome, reason), count in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1])):
        print(f"  {outcome:<9} {reason or '':<24} {count:>7}", file=sys.stderr)


def _webhook_test(config_path: str | None, app_id: str, subscription_id: str) -> int:
    """One sample PURCHASE to one subscription (even a disabled one), retries included."""
    import uuid

    from adapters.webhook_delivery import Deliverer
    from domain.exchange_rates import RateBook

    config = load_app_config(config_path, bundled_ok=True)
    app = config.app_by_id(app_id)
    subscription = app.webhook(subscription_id) if app else None
    if app is None or subscription is None:
        print(f"webhook test: no subscription {subscription_id!r} in app {app_id!r}", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    sample = {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"webhook-test-{uuid.uuid4().hex[:12]}",
        "userId": "webhook-test-user",
        "timestamp": now.isoformat(),
        "properties": {"revenue": 9.99, "currency": "USD", "products": [{"product_id": "sku-1", "price": 9.99}]},
    }
    mapped = process_message(
        orjson.dumps(sample), {BRANCH_KEY_ATTRIBUTE: app.branch_key}, None, ImportSettings(config), now
    )
    assert mapped.row is not None, mapped.detail  # the sample is a valid event for any app
    row = {**mapped.row, **RateBook(()).usd_columns(mapped.row)}  # (a USD sample: no rates needed)
    delivery = Deliverer().deliver(app_id, subscription, row)
    print(f"{subscription.method} {subscription.url} event {delivery.event_id}")
    print(
        f"{'delivered' if delivery.delivered else 'failed'} after {delivery.attempts} attempt(s), "
        f"{delivery.seconds:.2f}s; last status {delivery.last_status}"
        + (f"; {delivery.last_error}" if delivery.last_error else "")
    )
    return 0 if delivery.delivered else 1


def _replay(args: argparse.Namespace) -> int:
    from pathlib import Path

    from adapters import replay
    from adapters.bigquery import make_client

    if args.until <= args.since:
        print("replay: --until must be after --since", file=sys.stderr)
        return 2
    selected = replay.select(
        make_client(args.project), args.dataset, args.since, args.until, reasons=args.reason, app_id=args.app_id
    )
    if args.topic:
        print(f"REPLAY selected={len(selected)} published={replay.publish(selected, args.topic)}")
        return 0
    stamp = f"{args.since:%Y%m%dT%H%M%S}-{args.until:%Y%m%dT%H%M%S}"
    files, left_out = replay.write_archives(selected, Path(args.out), stamp)
    for app, path in sorted(files.items()):
        print(
            f"  python -m beam_jobs.backfill --project={args.project} --dataset={args.dataset} "
            f"--default_app_id={app} --input={path}"
        )
    if files:
        print(
            "  (outside the local emulators add --app_config; on Dataflow the file's gs:// copy and the runner's options)"
        )
    print(f"REPLAY selected={len(selected)} written={len(selected) - left_out} files={len(files)} multiline={left_out}")
    return 0


# segment-branch erase: the identifier options, by the identity key kind each names.
ERASE_IDENTIFIERS = {
    "user_id": DEVELOPER_IDENTITY,
    "device_id": DEVICE_ID,
    "advertising_id": ADVERTISING_ID,
    "fingerprint": BROWSER_FINGERPRINT,
}
EXIT_UNREACHABLE = 3  # erase: some rows are still in BigQuery's streaming buffer


def _erase(args: argparse.Namespace) -> int:
    """Count, then delete (unless --dry-run) the user's rows; one ERASE line per table, then the
    totals. Exit 3 when rows were left for a later run."""
    from adapters import erase
    from adapters.bigquery import make_client

    [(option, value)] = [(option, getattr(args, option)) for option in ERASE_IDENTIFIERS if getattr(args, option)]
    request = erase.ErasureRequest(args.app, ERASE_IDENTIFIERS[option], value)
    age = erase.DEFAULT_STREAMING_BUFFER_AGE if args.streaming_buffer_age is None else args.streaming_buffer_age
    results = erase.erase(
        make_client(args.project), args.dataset, request, streaming_buffer_age=age, dry_run=args.dry_run
    )
    for r in results:
        print(
            f"ERASE app={args.app} table={r.table} matched={r.matched} deleted={r.deleted} unreachable={r.unreachable}"
        )
    matched, deleted, unreachable = (sum(r.matched for r in results), sum(r.deleted for r in results),
                                     sum(r.unreachable for r in results))  # fmt: skip
    print(
        f"ERASE app={args.app} identifier={option} matched={matched} deleted={deleted} unreachable={unreachable} "
        f"dry_run={'true' if args.dry_run else 'false'}"
    )
    if args.dry_run:
        print("erase: dry run: nothing deleted", file=sys.stderr)
        if unreachable:
            print(f"erase: {unreachable} of these rows were written less than {_minutes(age)} ago: a run now "
                  "would leave them for a later run", file=sys.stderr)  # fmt: skip
        return 0
    if unreachable:
        retry = max(r.retry_after for r in results if r.retry_after is not None)
        print(
            f"erase: {unreachable} rows could not be deleted yet (BigQuery cannot delete rows in its streaming "
            f"buffer, up to {_minutes(erase.DEFAULT_STREAMING_BUFFER_AGE)} after they are written): "
            f"run the same command again after {retry:%Y-%m-%dT%H:%M:%SZ}",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE
    return 0


def _minutes(age: timedelta) -> str:
    return f"{age.total_seconds() / 60:g} minutes"


def _load_rates(project: str, dataset: str, path: str) -> int:
    from adapters.bigquery import make_client
    from adapters.exchange_rates import load_rates
    from domain.exchange_rates import BUNDLED_RATES, RatesError, parse_rates

    try:
        with open(BUNDLED_RATES if path == "bundled" else path, newline="", encoding="utf-8-sig") as file:
            parsed = parse_rates(file)
    except (OSError, RatesError) as exc:
        print(f"load-rates: nothing loaded: {exc}", file=sys.stderr)
        return 2
    print(f"loaded {load_rates(make_client(project), dataset, parsed)} exchange rates")
    return 0


def _add_map(commands) -> None:
    map_cmd = commands.add_parser("map", help="map Segment messages (JSON lines on stdin) to outcomes")
    map_cmd.add_argument("--now", type=_now, default=None, help="ISO-8601 'now' for the stale/future checks")
    map_cmd.add_argument("--app-config", default=None, help="app config file (default: the bundled local config)")
    map_cmd.add_argument("--branch-key", default=None, help="branch_key attribute for every message")
    map_cmd.add_argument("--max-event-age", type=_duration, default=DEFAULT_MAX_EVENT_AGE, help="e.g. 24h, or off")
    map_cmd.add_argument("--max-clock-skew", type=_duration, default=DEFAULT_MAX_CLOCK_SKEW, help="e.g. 10m")
    map_cmd.add_argument("--max-payload-bytes", type=int, default=DEFAULT_MAX_PAYLOAD_BYTES)
    map_cmd.add_argument("--explain", action="store_true", help="add each outcome's detail")
    map_cmd.add_argument("--summary", action="store_true", help="print an outcome/reason breakdown to stderr")
    map_cmd.add_argument(
        "--attribute",
        action="store_true",
        help='run the lines in order through one attribution state: touches carry "touch", imported rows '
        "their attribution columns",
    )
    map_cmd.set_defaults(func=_map)


def _add_hash_secret(commands) -> None:
    hash_cmd = commands.add_parser("hash-secret", help="hash a Branch secret read from stdin (or a prompt)")
    hash_cmd.set_defaults(func=_hash_secret, parser=hash_cmd)


def _add_provision(commands) -> None:
    provision = commands.add_parser("provision", help="create the BigQuery dataset, tables and views (idempotent)")
    provision.add_argument("--project", required=True)
    provision.add_argument("--dataset", default="segment_branch")
    provision.add_argument("--location", default=None)
    provision.add_argument("--partition-expiration-days", type=int, default=None)
    provision.set_defaults(func=_provision)


def _add_load_rates(commands) -> None:
    rates = commands.add_parser(
        "load-rates", help="load dated exchange rates to USD from a CSV (day,currency,usd_per_unit)"
    )
    rates.add_argument("--project", required=True)
    rates.add_argument("--dataset", default="segment_branch")
    rates.add_argument("--csv", required=True, help="the CSV file, or 'bundled' for the sample rates of local runs")
    rates.set_defaults(func=lambda args: _load_rates(args.project, args.dataset, args.csv))


def _add_replay(commands) -> None:
    replay = commands.add_parser("replay", help="send stored rejected messages back through the import after a fix")
    replay.add_argument("--project", required=True)
    replay.add_argument("--dataset", default="segment_branch")
    replay.add_argument("--since", type=_now, required=True, help="rejected at or after (ISO 8601)")
    replay.add_argument("--until", type=_now, required=True, help="rejected before (ISO 8601)")
    replay.add_argument("--reason", action="append", default=[], help="only this reason (repeatable)")
    replay.add_argument("--app-id", default=None, help="only this app's messages")
    route = replay.add_mutually_exclusive_group(required=True)
    route.add_argument("--topic", help="re-publish to projects/P/topics/T (recent events)")
    route.add_argument("--out", help="write gzipped JSON lines per app here, for the backfill (older events)")
    replay.set_defaults(func=_replay)


def _add_webhook(commands) -> None:
    webhook = commands.add_parser("webhook", help="webhook subscriptions: send one sample event (test)")
    webhook_commands = webhook.add_subparsers(dest="webhook_command", required=True)
    webhook_test = webhook_commands.add_parser("test", help="send one sample event to a subscription, print the answer")
    webhook_test.add_argument("--app", required=True, help="app id")
    webhook_test.add_argument("--subscription", required=True, help="subscription id")
    webhook_test.add_argument("--app-config", default=None, help="app config file (default: the bundled local config)")
    webhook_test.set_defaults(func=lambda args: _webhook_test(args.app_config, args.app, args.subscription))


def _add_erase(commands) -> None:
    erase = commands.add_parser(
        "erase",
        help="delete one user's rows of one app in events, touches, rejected_events and webhook_failures",
        description="Count, then delete one user's rows of one app. Prints one ERASE line per table and "
        "one with the totals; exits 3 when rows in BigQuery's streaming buffer must wait for a later run.",
    )
    erase.add_argument("--project", required=True)
    erase.add_argument("--dataset", default="segment_branch")
    erase.add_argument("--app", required=True, help="app id")
    identifier = erase.add_mutually_exclusive_group(required=True)
    identifier.add_argument("--user-id", type=_identifier, help="Segment userId (Branch developer identity)")
    identifier.add_argument("--device-id", type=_identifier, help="IDFV or Android id")
    identifier.add_argument("--advertising-id", type=_identifier, help="IDFA or AAID")
    identifier.add_argument("--fingerprint", type=_identifier, help="Branch browser fingerprint id")
    erase.add_argument("--dry-run", action="store_true", help="only count: delete nothing")
    erase.add_argument(
        "--streaming-buffer-age",
        type=_age,
        default=None,
        help="leave rows written more recently than this for a later run (BigQuery cannot delete rows in its "
        "streaming buffer); default 90m",
    )
    erase.set_defaults(func=_erase)


def _add_rollup(commands) -> None:
    rollup = commands.add_parser(
        "rollup",
        help="recompute the hourly rollup tables for the hours whose events changed (run it on a schedule)",
        description="Recompute the rollups (events_hourly, events_hourly_attribution) of every app-hour from "
        "--since on whose events changed since the last run: late events, backfills, replays, erasures. "
        "Idempotent; prints one ROLLUP line.",
    )
    rollup.add_argument("--project", required=True)
    rollup.add_argument("--dataset", default="segment_branch")
    rollup.add_argument(
        "--since",
        type=_since,
        required=True,
        help="the earliest event time to check: ISO 8601, or a duration back from now (e.g. 26h: "
        "--max_event_age plus a margin; after a backfill, its first day)",
    )
    rollup.set_defaults(func=_rollup)


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per task (``tests/unit/test_docs.py`` checks the
    documented commands against it)."""
    parser = argparse.ArgumentParser(
        prog="segment-branch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for add in (
        _add_map,
        _add_hash_secret,
        _add_provision,
        _add_load_rates,
        _add_replay,
        _add_webhook,
        _add_erase,
        _add_rollup,
    ):
        add(commands)
    return parser


def _map(args: argparse.Namespace) -> int:
    settings = ImportSettings(
        load_app_config(args.app_config, bundled_ok=True),  # a dry run on this machine
        max_payload_bytes=args.max_payload_bytes,
        max_event_age=args.max_event_age,
        max_clock_skew=args.max_clock_skew,
    )
    attributes = {BRANCH_KEY_ATTRIBUTE: args.branch_key} if args.branch_key else {}
    counts = map_lines(
        sys.stdin.buffer,
        sys.stdout.buffer,
        settings,
        args.now or _now(None),
        attributes,
        args.explain,
        AttributionState() if args.attribute else None,
    )
    if args.summary:
        _print_breakdown(counts)
    return 0


def _hash_secret(args: argparse.Namespace) -> int:
    secret = sys.stdin.readline().strip() if not sys.stdin.isatty() else getpass.getpass("Branch secret: ")
    if not secret:
        args.parser.error("empty secret")
    print(hash_secret(secret))
    return 0


def _provision(args: argparse.Namespace) -> int:
    from adapters.bigquery import make_client
    from adapters.provision import provision_tables

    created = provision_tables(
        make_client(args.project),
        args.dataset,
        location=args.location,
        partition_expiration_days=args.partition_expiration_days,
    )
    print(f"created: {', '.join(created) or 'nothing (all present)'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

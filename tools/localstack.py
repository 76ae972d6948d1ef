"""Local Pub/Sub and BigQuery emulators for tests, benchmarks and local pipeline runs.

Both servers are installed and started from the repository's own files, so a clean clone
(CI included) needs nothing beyond Go, Python and the package registries:

* Pub/Sub: ``tools/pubsub-emulator`` (Go, around Google's ``pstest``), built into
  ``.local/bin/pubsub-emulator``.
* BigQuery: ``bqemulator`` in its own virtualenv ``.local/bqemulator-venv``, installed by
  ``scripts/install_bqemulator.sh``.

Python API::

    with local_stack("my-project"):
        ...  # PUBSUB_EMULATOR_HOST and BIGQUERY_EMULATOR_HOST point at the servers

A BigQuery emulator that survives a restart (file-backed, fixed REST port), for outage tests::

    bigquery = PersistentBigQueryEmulator("my-project", state_dir)
    bigquery.start()      # .host stays the same across restarts
    bigquery.stop()       # clients now get "connection refused", as in an outage
    bigquery.start()      # same port, same tables and rows

Shell (servers outlive the command; stop them by the pids recorded in the state dir)::

    python -m tools.localstack start --project my-project --state-dir /tmp/ls
    . /tmp/ls/env.sh
    ...
    python -m tools.localstack stop --state-dir /tmp/ls

An emulator already named by ``PUBSUB_EMULATOR_HOST`` / ``BIGQUERY_EMULATOR_HOST`` is
used as is (a developer may run the gcloud emulator): it is neither started nor stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from google.api_core.exceptions import AlreadyExists
from google.cloud import pubsub_v1

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
LOCAL = REPO / ".local"
PUBSUB_SRC = REPO / "tools" / "pubsub-emulator"
PUBSUB_BIN = LOCAL / "bin" / "pubsub-emulator"
BQ_INSTALL = REPO / "scripts" / "install_bqemulator.sh"
BQ_BIN = LOCAL / "bqemulator-venv" / "bin" / "bqemulator"
# Starts bqemulator without its per-write table snapshots (see the file's docstring).
BQ_WITHOUT_TIME_TRAVEL = REPO / "tools" / "bqemulator" / "without_time_travel.py"

PUBSUB_ENV = "PUBSUB_EMULATOR_HOST"
BIGQUERY_ENV = "BIGQUERY_EMULATOR_HOST"
# Pid-file stem per server, in the order the CLI starts them.
SERVER_NAMES = {PUBSUB_ENV: "pubsub-emulator", BIGQUERY_ENV: "bigquery-emulator"}

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.05

T = TypeVar("T")


def _wait_for(what: str, check: Callable[[], T | None], timeout: float) -> T:
    """Poll ``check`` until it returns a truthy value; raise TimeoutError at the deadline."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL_INTERVAL_S)
    return result


def _start_time(pid: int) -> int | None:
    """Kernel start time of a live (non-zombie) process, or None.

    A pid alone can be reused after its process exits; pid + start time cannot, so this
    is how ``stop`` makes sure it signals the process it started and nothing else.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else int(fields[19])


class Server:
    """A server process started by this module, stoppable by its pid."""

    def __init__(
        self, name: str, host: str, pid: int, start_time: int, log_path: Path, proc: subprocess.Popen | None = None
    ) -> None:
        self.name = name
        self.host = host
        self.pid = pid
        self.start_time = start_time
        self.log_path = log_path
        self._proc = proc  # None when re-attached from a pid file (CLI ``stop``).

    def running(self) -> bool:
        """True while the process we started is alive (a reused pid does not count)."""
        if self._proc is not None and self._proc.poll() is not None:
            return False  # Exited; poll() also reaped it, so it is no zombie.
        return _start_time(self.pid) == self.start_time

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM the process, wait up to ``timeout``, then SIGKILL it."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not self.running():
                return
            os.kill(self.pid, sig)
            try:
                _wait_for(f"{self.name} (pid {self.pid}) to exit", lambda: not self.running(), timeout)
                return
            except TimeoutError:
                log.warning("%s (pid %d) ignored %s", self.name, self.pid, sig.name)

    def kill(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGKILL the process (a crash: it gets no chance to clean up); wait until it is gone."""
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
            _wait_for(f"{self.name} (pid {self.pid}) to exit", lambda: not self.running(), timeout)

    def __repr__(self) -> str:
        return f"Server({self.name!r}, host={self.host!r}, pid={self.pid})"


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _launch(
    name: str, argv: list[str], state_dir: Path, ready: Callable[[str], str | None], timeout: float = START_TIMEOUT_S
) -> Server:
    """Start ``argv`` detached, logging to ``state_dir/<name>.log``; wait until ready.

    ``ready`` gets this start's log text so far and returns the server's host once it
    serves. The log is appended to, so a restarted server's log keeps the earlier runs.
    The process gets its own session so that it survives the caller (CLI ``start``) and
    is spared a Ctrl-C sent to the caller's process group.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / f"{name}.log"
    log.info("starting %s; log: %s", name, log_path)
    with open(log_path, "ab") as log_file:
        log_start = log_file.tell()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=state_dir,
            start_new_session=True,
        )
    server = Server(name, "", proc.pid, _start_time(proc.pid) or 0, log_path, proc)

    def check() -> str | None:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode}")
        with open(log_path, "rb") as log_file:
            log_file.seek(log_start)
            return ready(log_file.read().decode(errors="replace"))

    try:
        server.host = _wait_for(f"{name} to serve", check, timeout)
    except (RuntimeError, TimeoutError) as exc:
        server.stop()
        raise RuntimeError(
            f"{name} failed to start: {exc}\n--- last lines of {log_path} ---\n{_tail(log_path)}"
        ) from exc
    log.info("%s serving at %s (pid %d)", name, server.host, server.pid)
    return server


def _accepts_connections(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free now (the kernel's pick), for a server that needs a fixed one."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def build_pubsub_emulator() -> Path:
    """Build the Go emulator unless the binary is newer than all its sources."""
    sources = [p for p in PUBSUB_SRC.iterdir() if p.suffix == ".go" or p.name in ("go.mod", "go.sum")]
    if PUBSUB_BIN.exists() and PUBSUB_BIN.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
        return PUBSUB_BIN
    # Non-login shells often lack the default Go install dir on PATH.
    go = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
    if go is None:
        raise RuntimeError("Go is needed to build tools/pubsub-emulator; install Go (see go.mod for the version)")
    PUBSUB_BIN.parent.mkdir(parents=True, exist_ok=True)
    # Build under a temporary name and rename: a concurrent run never sees half a binary.
    tmp = PUBSUB_BIN.with_name(f".{PUBSUB_BIN.name}.{os.getpid()}")
    log.info("building %s (first run downloads Go modules)", PUBSUB_BIN)
    # -mod=mod lets Go fetch the modules go.sum pins; -buildvcs=false because the binary
    # needs no VCS stamp and stamping fails without git or in a repo owned by another user.
    env = {**os.environ, "GOFLAGS": "-mod=mod -buildvcs=false"}
    done = subprocess.run([go, "build", "-o", str(tmp), "."], cwd=PUBSUB_SRC, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"building the Pub/Sub emulator failed:\n{done.stderr[-4000:]}")
    tmp.replace(PUBSUB_BIN)
    return PUBSUB_BIN


def start_pubsub_emulator(state_dir: str | os.PathLike) -> Server:
    """Build if needed and start the Pub/Sub emulator on a free port.

    ``.host`` is ``127.0.0.1:PORT``, the form PUBSUB_EMULATOR_HOST takes.
    """
    binary = build_pubsub_emulator()

    def ready(text: str) -> str | None:
        # The emulator picks its own free port (--port 0) and announces it: no port race.
        match = re.search(r"^LISTENING (\S+):(\d+)$", text, re.MULTILINE)
        if match and _accepts_connections(match[1], int(match[2])):
            return f"{match[1]}:{match[2]}"
        return None

    return _launch(
        SERVER_NAMES[PUBSUB_ENV], [str(binary), "--host", "127.0.0.1", "--port", "0"], Path(state_dir), ready
    )


def install_bigquery_emulator() -> Path:
    """Run the idempotent installer (returns at once when already installed)."""
    subprocess.run(["bash", str(BQ_INSTALL)], check=True)
    return BQ_BIN


def start_bigquery_emulator(
    project: str,
    state_dir: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    rest_port: int = 0,
    time_travel: bool = False,
) -> Server:
    """Install if needed and start a BigQuery emulator; by default in memory, on free ports.

    ``data_dir``: file-backed instead (``--persistent``): datasets, tables and rows survive a
    stop, and a start with the same ``data_dir`` finds them again. ``rest_port``: serve the
    REST API on that port (0: a free one); a restart that keeps the host needs a fixed one.
    bqemulator copies the whole table after every write (for time travel), so its memory and
    time grow with the square of the rows streamed. Nothing here reads time travel, so by
    default it starts without those copies (tools/bqemulator/without_time_travel.py);
    ``time_travel=True`` keeps them (``FOR SYSTEM_TIME AS OF`` then sees past versions).

    ``.host`` is ``http://127.0.0.1:PORT``, the form BIGQUERY_EMULATOR_HOST takes.
    """
    binary = install_bigquery_emulator()

    def ready(text: str) -> str | None:
        # Ports 0 let bqemulator pick free ports; its JSON log names the REST one.
        match = re.search(r'"port": (\d+), "event": "rest\.listen"', text)
        if not match:
            return None
        host = f"http://127.0.0.1:{match[1]}"
        # Serving means answering an API call, not merely accepting connections.
        url = f"{host}/bigquery/v2/projects/{project}/datasets"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as resp:
            return host if resp.status == 200 else None
        return None

    # The launcher runs with the emulator venv's interpreter, next to the bqemulator script.
    command = [str(binary)] if time_travel else [str(binary.with_name("python")), str(BQ_WITHOUT_TIME_TRAVEL)]
    # Ephemeral by default: every run starts from an empty catalog, so runs cannot leak into
    # each other.
    storage = ["--persistent", "--data-dir", str(Path(data_dir).resolve())] if data_dir else ["--ephemeral"]
    argv = [
        *command,
        "start",
        *storage,
        "--rest-host",
        "127.0.0.1",
        "--rest-port",
        str(rest_port),
        "--grpc-host",
        "127.0.0.1",
        "--grpc-port",
        "0",
        "--project",
        project,
        "--log-format",
        "json",
        "--log-level",
        "info",
    ]
    return _launch(SERVER_NAMES[BIGQUERY_ENV], argv, Path(state_dir), ready)


class PersistentBigQueryEmulator:
    """A file-backed BigQuery emulator on a fixed REST port that can be stopped and restarted.

    Every ``start`` uses the same data dir and REST port, so ``host`` (and every client
    built from it, Beam's sink included) stays valid across a restart, and the tables and
    rows written before the stop are there again. While it is stopped, clients get
    "connection refused", as in a BigQuery outage. Logs of all runs go to one file in
    ``state_dir``; the data lives in ``data_dir`` (default ``state_dir/bigquery-data``).
    Use as a context manager to stop it on exit.
    """

    def __init__(
        self,
        project: str,
        state_dir: str | os.PathLike,
        *,
        data_dir: str | os.PathLike | None = None,
        rest_port: int | None = None,
        time_travel: bool = False,
    ) -> None:
        self.project = project
        self.state_dir = Path(state_dir)
        self.data_dir = Path(data_dir) if data_dir else self.state_dir / "bigquery-data"
        # Picked once: the port must stay the same across restarts (another process could
        # take it while the emulator is down; start then fails and says so in the log).
        self.rest_port = rest_port or free_port()
        self.time_travel = time_travel
        self.server: Server | None = None

    @property
    def host(self) -> str:
        """``http://127.0.0.1:PORT``, the same before, during and after a restart."""
        return f"http://127.0.0.1:{self.rest_port}"

    def running(self) -> bool:
        """True while the emulator process this object started is alive."""
        return self.server is not None and self.server.running()

    def start(self) -> Server:
        """Start the emulator on the data dir and port; return once it answers API calls."""
        if self.running():
            raise RuntimeError(f"{self.server} is already running")
        self.server = start_bigquery_emulator(
            self.project, self.state_dir, data_dir=self.data_dir, rest_port=self.rest_port, time_travel=self.time_travel
        )
        return self.server

    def stop(self, *, crash: bool = False) -> None:
        """Stop the emulator process and wait until it has exited (no-op when not running).

        By default a clean stop (SIGTERM): it finishes in-flight requests and closes its
        database. ``crash=True`` kills it (SIGKILL): requests in flight get no answer, and
        the next start recovers the committed writes from DuckDB's write-ahead log.
        """
        server, self.server = self.server, None
        if server is None:
            return
        if crash:
            server.kill()
        else:
            server.stop()

    def restart(self, *, crash: bool = False) -> Server:
        """Stop (see ``stop``) and start again on the same data dir and port."""
        self.stop(crash=crash)
        return self.start()

    def __enter__(self) -> PersistentBigQueryEmulator:
        if not self.running():
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"PersistentBigQueryEmulator({self.project!r}, host={self.host!r}, data_dir={str(self.data_dir)!r})"


def _start_missing(project: str, state_dir: Path) -> tuple[dict[str, str], dict[str, Server]]:
    """Start each server whose env var is unset; return (env values, servers started)."""
    env: dict[str, str] = {}
    started: dict[str, Server] = {}
    try:
        for var in SERVER_NAMES:
            if os.environ.get(var):
                log.info("using existing %s=%s", var, os.environ[var])
                env[var] = os.environ[var]
                continue
            server = (
                start_pubsub_emulator(state_dir) if var == PUBSUB_ENV else start_bigquery_emulator(project, state_dir)
            )
            started[var] = server
            env[var] = server.host
    except BaseException:
        for server in started.values():
            server.stop()
        raise
    return env, started


@contextlib.contextmanager
def local_stack(project: str, state_dir: str | os.PathLike | None = None) -> Iterator[dict[str, str]]:
    """Run with both emulators; yields the env values it set (``{var: host}``).

    Servers already named by their env var are used, not started. Only the servers this
    call started are stopped, and the env vars are restored on exit. Logs go to
    ``state_dir`` (default: a new temp dir, kept so a failure can be investigated).
    """
    state = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="localstack-"))
    env, started = _start_missing(project, state)
    saved = {var: os.environ.get(var) for var in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        for server in started.values():
            server.stop()


PUBSUB_ACK_DEADLINE_SECONDS = 60


def provision_pubsub(project: str, topic: str, subscription: str) -> None:
    """Create a topic and a pull subscription if missing (used against the local emulator)."""
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(project, topic)
    subscription_path = subscriber.subscription_path(project, subscription)
    with contextlib.suppress(AlreadyExists):
        publisher.create_topic(name=topic_path)
    try:
        subscriber.create_subscription(
            name=subscription_path, topic=topic_path, ack_deadline_seconds=PUBSUB_ACK_DEADLINE_SECONDS
        )
    except AlreadyExists:
        pass
    finally:
        subscriber.close()


def _pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / f"{name}.pid"


def _read_pid_file(path: Path) -> Server:
    # Line 1: pid (so `kill $(head -1 x.pid)` works); line 2: the process's start time.
    pid, start_time = (int(v) for v in path.read_text().split()[:2])
    return Server(path.stem, "", pid, start_time, path.with_suffix(".log"))


def cli_start(project: str, state_dir: Path) -> None:
    """Start the missing servers detached; write env.sh and one pid file per server."""
    for name in SERVER_NAMES.values():
        path = _pid_file(state_dir, name)
        if path.exists():
            if _read_pid_file(path).running():
                raise SystemExit(f"{name} already runs from {state_dir}; run `stop --state-dir {state_dir}` first")
            path.unlink()  # Stale: its process is gone.
    env, started = _start_missing(project, state_dir)
    for server in started.values():
        _pid_file(state_dir, server.name).write_text(f"{server.pid}\n{server.start_time}\n")
    (state_dir / "env.sh").write_text("".join(f"export {var}={shlex.quote(value)}\n" for var, value in env.items()))
    print(f"wrote {state_dir / 'env.sh'}; logs in {state_dir}/*.log")


def cli_stop(state_dir: Path) -> None:
    """Stop the servers recorded in the pid files, if they are still those processes."""
    for name in SERVER_NAMES.values():
        path = _pid_file(state_dir, name)
        if not path.exists():
            continue
        server = _read_pid_file(path)
        if server.running():
            server.stop()
            print(f"stopped {name} (pid {server.pid})")
        else:
            print(f"{name} (pid {server.pid}) was no longer running")
        path.unlink()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.localstack", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start the emulators detached, write STATE_DIR/env.sh")
    start.add_argument("--project", required=True)
    start.add_argument("--state-dir", type=Path, required=True)
    stop = commands.add_parser("stop", help="stop the emulators started from STATE_DIR")
    stop.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "start":
        args.state_dir.mkdir(parents=True, exist_ok=True)
        cli_start(args.project, args.state_dir.resolve())
    else:
        cli_stop(args.state_dir.resolve())


if __name__ == "__main__":
    main(sys.argv[1:])

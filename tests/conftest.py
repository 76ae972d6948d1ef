"""Fixtures only (helpers live in ``tests/support``), and the tier of each test.

Tiers are folders, each also a marker: ``unit`` (pure functions, no Beam runner, no server),
``pipeline`` (Beam's local runners, no server) and ``e2e`` (the local Pub/Sub and BigQuery
emulators, started here once per session). ``./run_tests.sh unit`` runs one tier.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

from adapters.bigquery import make_client
from adapters.provision import provision_tables
from tests.support import REPO
from tests.support.stack import STACK_PROJECT
from tools import localstack
from tools.direct_runner import speed_up_local_runs

TIERS = ("unit", "pipeline", "e2e")
_dataset_numbers = itertools.count()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.path)).parent.name
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session", autouse=True)
def _local_direct_runner() -> None:
    """The DirectRunner as the local run uses it (tools/direct_runner.py: the same results,
    without repeating per-bundle work), for every test that runs a job."""
    speed_up_local_runs()


@pytest.fixture(scope="session")
def sdist_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The files of the sdist Dataflow workers install from (``--setup_file``), by path."""
    out = tmp_path_factory.mktemp("sdist")
    subprocess.run(
        [sys.executable, "setup.py", "-q", "sdist", "-d", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
        env={**os.environ, "SEGMENT_BRANCH_PURE_PYTHON": "1"},
    )
    [sdist] = out.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        return {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory):
    """Both emulators (started here unless PUBSUB_/BIGQUERY_EMULATOR_HOST are set)."""
    with localstack.local_stack(STACK_PROJECT, tmp_path_factory.mktemp("localstack")) as env:
        yield env


@pytest.fixture
def bq_client(local_stack):
    return make_client(STACK_PROJECT)


@pytest.fixture
def fresh_dataset(bq_client) -> str:
    """A new dataset with the importer's tables and views; returns its name."""
    name = f"test_{next(_dataset_numbers)}_{uuid.uuid4().hex[:8]}"
    provision_tables(bq_client, name)
    return name


@pytest.fixture
def fresh_subscription(local_stack) -> tuple[str, str]:
    """A new topic + subscription; returns (topic path, subscription path)."""
    suffix = uuid.uuid4().hex[:8]
    topic, subscription = f"segment-{suffix}", f"segment-sub-{suffix}"
    localstack.provision_pubsub(STACK_PROJECT, topic, subscription)
    return (f"projects/{STACK_PROJECT}/topics/{topic}", f"projects/{STACK_PROJECT}/subscriptions/{subscription}")

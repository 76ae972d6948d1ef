# ======================================================================================
# BEGIN mapping-test helpers (owned by the mapping unit tests: test_mapping.py,
# test_event_names.py, test_identifiers.py, test_properties.py, test_values_timestamps.py,
# test_cli.py, test_properties_fuzz.py). Everything here is named ``mapping_*`` /
# ``MAPPING_*`` and is pure (no servers, no Beam). Add other shared fixtures BELOW the
# END marker, not inside this block.
# ======================================================================================
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

import orjson
import pytest

from schemas.config import ImporterConfig, load_config, parse_config
from transforms.mapping import ImportSettings, MappingOutcome, process_message

# The fixed "now" every mapping test runs at, and an event time one minute before it.
MAPPING_NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
MAPPING_EVENT_TIME = "2026-11-28T11:59:00.000Z"
MAPPING_EVENT_TIME_BQ = "2026-11-28T11:59:00.000000Z"

# Branch keys of the bundled default app config (schemas/default_app_config.yaml).
MAPPING_DEFAULT_KEY = "key_live_local_default"  # local-app: IOS, ANDROID, WEB; the default app
MAPPING_WEB_KEY = "key_live_local_web"  # local-web-app: WEB only

# Pass as a field value to mapping_track_event to remove that field from the event.
MAPPING_ABSENT = object()

_MAPPING_SECRET_HASH = "pbkdf2_sha256$20000$bG9jYWwtZGVmYXVsdC0wMQ$36SCllr9Db3i2ePwob_Z9EDvzIapsAYinakHG-kOXUs"


def mapping_track_event(event: Any = "Order Completed", **fields: Any) -> dict[str, Any]:
    """A minimal valid Segment track event (identified by userId, no client context).

    Keyword arguments override or add top-level fields; ``MAPPING_ABSENT`` removes one.
    """
    doc: dict[str, Any] = {
        "type": "track",
        "event": event,
        "messageId": "msg-0001",
        "timestamp": MAPPING_EVENT_TIME,
        "userId": "user-1",
    }
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not MAPPING_ABSENT}


def mapping_ios_context(**device: Any) -> dict[str, Any]:
    """A Segment iOS app context with an IDFA and IDFV (override via keyword args)."""
    base = {
        "type": "ios",
        "advertisingId": "6D92078A-8246-4BA4-AE5B-76104861E7DC",
        "id": "B5372DB0-C21E-11E4-8DFC-AA07A5B093DB",
    }
    base.update(device)
    return {"device": {k: v for k, v in base.items() if v is not MAPPING_ABSENT}}


def mapping_settings_for(config: ImporterConfig | None = None, **kwargs: Any) -> ImportSettings:
    """ImportSettings for ``config`` (default: the bundled app config)."""
    return ImportSettings(config if config is not None else load_config(), **kwargs)


def mapping_config_from(text: str) -> ImporterConfig:
    """Parse a YAML app config; ``{hash}`` in the text becomes a valid secret hash."""
    return parse_config(text.replace("{hash}", _MAPPING_SECRET_HASH))


_MAPPING_DEFAULT_SETTINGS = mapping_settings_for()


def mapping_process(
    payload: Any,
    attributes: Mapping[str, str] | None = None,
    *,
    settings: ImportSettings | None = None,
    now: datetime = MAPPING_NOW,
    publish_time: datetime | None = None,
) -> MappingOutcome:
    """Run process_message on a dict (orjson-encoded) or raw bytes."""
    data = payload if isinstance(payload, (bytes, bytearray)) else orjson.dumps(payload)
    return process_message(bytes(data), attributes, publish_time, settings or _MAPPING_DEFAULT_SETTINGS, now)


def mapping_imported_row(payload: Any, **kwargs: Any) -> dict[str, Any]:
    """The events row of a message that must be imported (fails the test otherwise)."""
    result = mapping_process(payload, **kwargs)
    assert result.reason is None and result.outcome.value == "imported", (result.reason, result.detail)
    assert result.row is not None
    return result.row


@pytest.fixture(scope="session")
def mapping_now() -> datetime:
    return MAPPING_NOW


@pytest.fixture(scope="session")
def mapping_settings() -> ImportSettings:
    """The default ImportSettings (bundled app config, default limits)."""
    return _MAPPING_DEFAULT_SETTINGS


@pytest.fixture(scope="session")
def mapping_event():
    """Factory: a minimal valid track event dict (see mapping_track_event)."""
    return mapping_track_event


@pytest.fixture(scope="session")
def mapping_run():
    """Runner: payload -> MappingOutcome (see mapping_process)."""
    return mapping_process


# ======================================================================================
# END mapping-test helpers
# ======================================================================================


# ======================================================================================
# Local stack fixtures (servers): one Pub/Sub + BigQuery emulator pair per test session,
# and a fresh, provisioned dataset per test that asks for one.
# ======================================================================================
import itertools as _itertools
import uuid as _uuid

from segment_branch import localstack as _localstack
from segment_branch.provision import provision_pubsub as _provision_pubsub
from segment_branch.provision import provision_tables as _provision_tables
from transforms.bq_client import make_client as _make_client

STACK_PROJECT = "local-project"
_dataset_numbers = _itertools.count()


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory):
    """Both emulators (started here unless PUBSUB_/BIGQUERY_EMULATOR_HOST are set)."""
    with _localstack.local_stack(STACK_PROJECT, tmp_path_factory.mktemp("localstack")) as env:
        yield env


@pytest.fixture
def bq_client(local_stack):
    return _make_client(STACK_PROJECT)


@pytest.fixture
def fresh_dataset(bq_client) -> str:
    """A new dataset with the importer's tables and views; returns its name."""
    name = f"test_{next(_dataset_numbers)}_{_uuid.uuid4().hex[:8]}"
    _provision_tables(bq_client, name)
    return name


@pytest.fixture
def fresh_subscription(local_stack) -> tuple[str, str]:
    """A new topic + subscription; returns (topic path, subscription path)."""
    suffix = _uuid.uuid4().hex[:8]
    topic, subscription = f"segment-{suffix}", f"segment-sub-{suffix}"
    _provision_pubsub(STACK_PROJECT, topic, subscription)
    return (f"projects/{STACK_PROJECT}/topics/{topic}", f"projects/{STACK_PROJECT}/subscriptions/{subscription}")


def query_rows(client, sql: str) -> list[dict]:
    """A query's rows as dicts."""
    return [dict(row.items()) for row in client.query(sql).result()]


def rows_by(rows: list[dict], column: str) -> dict:
    """Rows grouped by one column's value (lists, in query order)."""
    groups: dict = {}
    for row in rows:
        groups.setdefault(row[column], []).append(row)
    return groups

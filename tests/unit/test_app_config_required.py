"""No silent fallback to the bundled app config (its secrets are public) outside the emulators."""

from __future__ import annotations

import pytest

from adapters.storage import EMULATOR_VARS, MissingAppConfig, load_app_config
from serving.app import create_app
from serving.settings import ServingSettings
from tests.support import REPO


@pytest.fixture
def production(monkeypatch):
    for var in EMULATOR_VARS:
        monkeypatch.delenv(var, raising=False)


def test_jobs_and_service_refuse_to_start_without_an_app_config(production):
    with pytest.raises(MissingAppConfig, match="--app_config") as refused:
        load_app_config(None)
    assert "segment-branch hash-secret" in str(refused.value)  # it says how to make one
    with pytest.raises(MissingAppConfig, match="SEGMENT_BRANCH_APP_CONFIG"):
        create_app(ServingSettings("p", "d"))  # at start, not at the first request


def test_an_explicit_config_is_read_anywhere(production):
    config = load_app_config(str(REPO / "domain" / "default_app_config.yaml"))
    assert config.app_by_id("local-app") is not None


@pytest.mark.parametrize("var", EMULATOR_VARS)
def test_the_bundled_config_serves_runs_against_the_local_emulators(production, monkeypatch, var):
    monkeypatch.setenv(var, "127.0.0.1:9")
    assert load_app_config(None).app_by_id("local-app") is not None


def test_a_dry_run_may_use_the_bundled_config(production):
    assert load_app_config(None, bundled_ok=True).app_by_id("local-app") is not None

"""Files the jobs and the service read at start-up, local or on Cloud Storage (``gs://``)."""

from __future__ import annotations

import os

from domain.config import ImporterConfig, load_config, parse_config

EMULATOR_VARS = ("BIGQUERY_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST")
NO_APP_CONFIG = (
    "no app config: pass --app_config gs://BUCKET/apps.yaml (the service: SEGMENT_BRANCH_APP_CONFIG). "
    "The bundled config is only for the local emulators: its secrets are public. Make one from "
    "domain/default_app_config.yaml with your apps' keys and `segment-branch hash-secret` hashes."
)


class MissingAppConfig(SystemExit):
    """Start-up refused: no app config outside the local emulators (the message says how to fix it)."""


def on_local_emulators() -> bool:
    """Whether this process talks to the local emulators (the env vars the clients follow)."""
    return any(os.environ.get(var) for var in EMULATOR_VARS)


def load_app_config(path: str | None = None, *, bundled_ok: bool | None = None) -> ImporterConfig:
    """The app configuration file at ``path`` (local or ``gs://``).

    Without a path, the bundled local config, but only where ``bundled_ok`` (default: when
    running against the local emulators): a production job or service must never fall back
    to public credentials because a flag was left out.
    """
    if path is None:
        if not (bundled_ok if bundled_ok is not None else on_local_emulators()):
            raise MissingAppConfig(NO_APP_CONFIG)
        return load_config(None)
    if "://" not in path:
        return load_config(path)
    from apache_beam.io.filesystems import FileSystems  # (here: `segment-branch map` need not load Beam)

    with FileSystems.open(path) as handle:
        return parse_config(handle.read())

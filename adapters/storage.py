"""Files the jobs and the service read at start-up, local or on Cloud Storage (``gs://``)."""

from __future__ import annotations

from domain.config import ImporterConfig, load_config, parse_config


def load_app_config(path: str | None = None) -> ImporterConfig:
    """The app configuration file at ``path`` (local or ``gs://``); the bundled local one when None."""
    if path is None or "://" not in path:
        return load_config(path)
    from apache_beam.io.filesystems import FileSystems  # (here: `segment-branch map` need not load Beam)

    with FileSystems.open(path) as handle:
        return parse_config(handle.read())

"""Authenticating an app by Branch key + secret (the secret is stored only hashed)."""
from __future__ import annotations

from domain.config import AppConfig, ImporterConfig
from domain.credentials import hash_secret, verify_secret

# Checked when the key is unknown, so a wrong key costs as much time as a wrong secret.
_DUMMY_HASH = hash_secret("not-a-secret", salt=b"timing-equaliser")


def authenticate(config: ImporterConfig, branch_key: str | None, branch_secret: str | None) -> AppConfig | None:
    """The app whose key and secret these are, else None (constant time in the secret)."""
    if not branch_key or not branch_secret:
        return None
    app = config.app_by_key(branch_key)
    ok = verify_secret(branch_secret, app.branch_secret_hash if app else _DUMMY_HASH)
    return app if ok and app is not None else None

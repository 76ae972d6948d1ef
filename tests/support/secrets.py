"""The secrets the security tests look for: the bundled local config's (public by design,
which makes them safe to grep for), their stored hashes and the hashes' digest parts."""

from __future__ import annotations

from domain.config import load_config

SECRETS = ("secret_live_local_default", "secret_live_local_web")
CONFIG = load_config()
# The stored hashes, and their digest parts alone (a log line could carry just those).
HASHES = tuple(app.branch_secret_hash for app in CONFIG.apps)
DIGESTS = tuple(h.rsplit("$", 1)[1] for h in HASHES)
FORBIDDEN = SECRETS + HASHES + DIGESTS


def assert_no_secret(text: str, where: str) -> None:
    leaked = [s for s in FORBIDDEN if s in text]
    assert not leaked, f"{where} contains {leaked}"

"""Branch secrets, stored only as salted PBKDF2 hashes and checked in constant time.

``segment-branch hash-secret`` makes the hash an app config holds (``branch_secret_hash``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

HASH_SCHEME = "pbkdf2_sha256"
# What a stored hash looks like (the app config refuses anything else, e.g. a pasted secret).
HASH_PATTERN = r"^pbkdf2_sha256\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$"
_HASH_ITERATIONS = 20_000


def b64encode(raw: bytes) -> str:
    """URL-safe base64 without padding (hashes, signatures, session tokens)."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64decode(text: str) -> bytes:
    """The inverse of :func:`b64encode`; raises ValueError on anything else."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, *, salt: bytes | None = None, iterations: int = _HASH_ITERATIONS) -> str:
    """``pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>`` of a Branch secret."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, iterations)
    return f"{HASH_SCHEME}${iterations}${b64encode(salt)}${b64encode(digest)}"


def verify_secret(secret: str, stored_hash: str) -> bool:
    """Constant-time check of ``secret`` against a :func:`hash_secret` value.

    Secrets with control characters are refused: PBKDF2 pads the password with NUL bytes,
    so ``secret + "\x00"`` would otherwise verify as ``secret``.
    """
    if not secret.isprintable():
        return False
    try:
        scheme, iterations, salt, digest = stored_hash.split("$")
        if scheme != HASH_SCHEME:
            return False
        expected = b64decode(digest)
        actual = hashlib.pbkdf2_hmac("sha256", secret.encode(), b64decode(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)

"""HMAC-SHA256 signatures: the service's one signing helper (session cookies, export links).

A signature binds its parts (joined by newlines) to the key; checking one takes constant
time. The key comes from an environment variable (set it when several service processes
must accept each other's signatures), else it is random per process (a restart then voids
every signature, which is safe).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from domain.credentials import b64encode


class Signer:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_env(cls, variable: str) -> Signer:
        key = os.environ.get(variable)
        return cls(key.encode() if key else secrets.token_bytes(32))

    def sign(self, *parts: str) -> str:
        return b64encode(hmac.new(self._key, "\n".join(parts).encode(), hashlib.sha256).digest())

    def verify(self, signature: str, *parts: str) -> bool:
        return hmac.compare_digest(signature.encode(), self.sign(*parts).encode())

"""Who is calling: an app, by its Branch key and secret or by a status-page session.

Every route goes through :func:`require_app` (credentials from the body: the Query and Export
APIs, as Branch's clients send them) or the :func:`caller_app` dependency (``branch_key`` /
``branch_secret`` headers, else the session cookie: the status endpoints). Secrets are stored
only hashed and checked in constant time; a session token names the app and an expiry, is
signed (``serving.signing``) and holds no secret.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from typing import Any

import orjson
from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader

from domain.config import AppConfig, ImporterConfig
from domain.credentials import b64decode, b64encode, hash_secret, verify_secret
from serving.signing import Signer

SESSION_COOKIE = "segment_branch_status"
SESSION_TTL = timedelta(hours=4)
SESSION_KEY_ENV = "SEGMENT_BRANCH_SESSION_KEY"

# Checked when the key is unknown, so a wrong key costs as much time as a wrong secret.
_DUMMY_HASH = hash_secret("not-a-secret", salt=b"timing-equaliser")


def authenticate(config: ImporterConfig, branch_key: Any, branch_secret: Any) -> AppConfig | None:
    """The app whose key and secret these are, else None (constant time in the secret)."""
    if not isinstance(branch_key, str) or not isinstance(branch_secret, str) or not branch_key or not branch_secret:
        return None
    app = config.app_by_key(branch_key)
    ok = verify_secret(branch_secret, app.branch_secret_hash if app else _DUMMY_HASH)
    return app if ok and app is not None else None


# Branch's own answer to bad credentials on its Query and Export APIs (HTTP 400); clients
# written against Branch read this body, so it is kept word for word.
AUTH_FAILED = "Authentication failed !"


def require_app(request: Request, branch_key: Any, branch_secret: Any) -> AppConfig:
    """The app these credentials name, else HTTP 400 ``Authentication failed !`` as Branch
    answers (checked before anything else about the request)."""
    app = authenticate(request.app.state.settings.config, branch_key, branch_secret)
    if app is None:
        raise HTTPException(400, AUTH_FAILED)
    return app


def _credential_tag(app: AppConfig) -> str:
    """Changes with the app's secret, so rotating a secret ends the sessions opened with it."""
    return hashlib.sha256(app.branch_secret_hash.encode()).hexdigest()[:16]


def make_session(app: AppConfig, signer: Signer, now: float | None = None) -> str:
    """A signed token naming the app and an expiry; it holds no secret."""
    expires = int((now if now is not None else time.time()) + SESSION_TTL.total_seconds())
    payload = b64encode(orjson.dumps({"app": app.app_id, "exp": expires, "cred": _credential_tag(app)}))
    return f"{payload}.{signer.sign(payload)}"


def read_session(token: str, config: ImporterConfig, signer: Signer, now: float | None = None) -> AppConfig | None:
    """The app a valid, unexpired session token names, else None."""
    payload, _, signature = token.partition(".")
    if not signer.verify(signature, payload):
        return None
    try:
        data = orjson.loads(b64decode(payload))
        app = config.app_by_id(data["app"])
        fresh = data["exp"] > (now if now is not None else time.time())
    except (ValueError, KeyError, TypeError):
        return None
    return app if app is not None and fresh and data.get("cred") == _credential_tag(app) else None


def session_app(request: Request) -> AppConfig | None:
    """The app of the request's session cookie, if any."""
    token = request.cookies.get(SESSION_COOKIE)
    state = request.app.state
    return read_session(token, state.settings.config, state.session_signer) if token else None


_session_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="Session from the status page's login form (POST /status/login)."
)
_key_header = APIKeyHeader(name="branch_key", auto_error=False, description="Branch key (with branch_secret).")
_secret_header = APIKeyHeader(name="branch_secret", auto_error=False, description="Branch secret (with branch_key).")


def caller_app(
    request: Request,
    session: str | None = Security(_session_cookie),
    branch_key: str | None = Security(_key_header),
    branch_secret: str | None = Security(_secret_header),
) -> AppConfig:
    """The dependency of the status endpoints: the ``branch_key`` + ``branch_secret`` headers
    when sent, else the session cookie; HTTP 401 without either."""
    if branch_key is not None or branch_secret is not None:
        app = authenticate(request.app.state.settings.config, branch_key, branch_secret)
        if app is None:
            raise HTTPException(401, "invalid or missing branch_key / branch_secret")
        return app
    app = session_app(request) if session else None
    if app is None:
        raise HTTPException(401, "authentication required: session cookie or branch_key + branch_secret headers")
    return app

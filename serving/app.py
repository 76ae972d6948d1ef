"""The serving application: Query API, Daily Export API and status page on one FastAPI app.

    python -m serving --project P --dataset D [--host 127.0.0.1 --port 8080]

Errors use Branch's shape ``{"error": {"code": ..., "message": ...}}``; request validation
failures (bad JSON, bad ``limit``/``after``) are 400, not FastAPI's default 422, because
Branch's API answers 400 for invalid requests.
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.bigquery import make_client
from serving import export, query_api, status
from serving.auth import SESSION_KEY_ENV
from serving.errors import BranchJSONResponse, error_response, validation_message
from serving.queries import QueryRunner
from serving.rate_limit import RateLimiter
from serving.settings import ServingSettings
from serving.signing import Signer

MAX_BODY_BYTES = 64 * 1024


class BodySizeLimit:
    """Answer 413 to request bodies over ``max_bytes``, declared or streamed (chunked).

    The body is buffered (at most ``max_bytes``) before the app sees it, so an oversized
    request never reaches JSON parsing.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = error_response(413, f"request body larger than {self.max_bytes} bytes")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await too_large(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await too_large(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class CollapseSlashes:
    """Serve ``//v1/query/analytics`` as ``/v1/query/analytics``.

    Some Branch clients join a base URL ending in ``/`` with a ``next_url`` that starts with
    one; Branch's servers answer those, so this one does too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            path = re.sub("/{2,}", "/", scope["path"])
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def create_app(
    settings: ServingSettings | None = None, *, export_settings: export.ExportSettings | None = None
) -> FastAPI:
    """Build the app; settings default to the environment (``ServingSettings.from_env``)."""
    settings = settings or ServingSettings.from_env()
    _ = settings.config  # read now: a missing or bad app config stops the start, not a request
    app = FastAPI(
        title="Segment -> Branch serving", docs_url="/docs", redoc_url=None, default_response_class=BranchJSONResponse
    )
    app.state.settings = settings
    app.state.queries = QueryRunner(make_client(settings.project), settings.max_bytes_billed)
    app.state.rate_limiter = RateLimiter()
    app.state.session_signer = Signer.from_env(SESSION_KEY_ENV)
    app.state.export = export.ExportService(settings, export_settings or export.ExportSettings.from_env())

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, validation_message(exc.errors()))

    app.include_router(query_api.router)
    app.include_router(export.router)
    app.include_router(status.router)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(CollapseSlashes)
    return app

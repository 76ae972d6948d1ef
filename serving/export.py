"""Daily Export API (rules §8, 10): ``POST /v3/export`` lists the files the scheduled job wrote.

The API never runs the export: ``beam_jobs.daily_export --all_apps --export_date=auto`` writes
``<root>/<app_id>/<day>/`` and its ``manifest.json`` ahead of the request, and this route only
reads the manifest, so it answers in milliseconds (clients give up after 16-60 s).

Lenient in, exact out, as the real clients need (tests/e2e/test_conformance_export_clients.py): ``/v3/export``
and ``/v3/export/``, a JSON or form body, extra fields and query parameters ignored; the answer
is HTTP 200, ``application/json; charset=utf-8``, all 15 topic keys, each a list of URLs, ``[]``
for a topic without files and for a day that is not complete (today, the future) or not
exported yet.

Links last 7 days, as Branch's. An export root on ``gs://`` gives Cloud Storage V4 signed URLs;
a local root gives this service's own links ``/v3/export/files/<app_id>/<day>/<file>.csv.gz
?expires=<unix s>&signature=<signature>``, the HMAC-SHA256 of the app, path and expiry. The
link is the credential (like a signed URL): a changed path, app or expiry, or an expired link,
is refused with 403. The signing key comes from ``SEGMENT_BRANCH_EXPORT_SIGNING_KEY``, else is
random per process (links then die with a restart, which is safe).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from adapters.export_store import day_dir, read_manifest
from domain.export_files import DEFAULT_READY_AFTER, EXPORT_TOPICS, is_complete, served_files
from domain.timestamps import parse_duration
from serving.auth import require_app
from serving.errors import JSON_UTF8
from serving.settings import ServingSettings
from serving.signing import Signer

router = APIRouter()

URL_TTL = timedelta(days=7)  # Branch's links last 7 days; also V4 signed URLs' maximum
SIGNING_KEY_ENV = "SEGMENT_BRANCH_EXPORT_SIGNING_KEY"
EXPORT_DIR_ENV = "SEGMENT_BRANCH_EXPORT_DIR"
READY_AFTER_ENV = "SEGMENT_BRANCH_EXPORT_READY_AFTER"
# Kachit/branch-sdk-go picks its decoder by comparing Content-Types exactly (JSON_UTF8 too).
OCTET_STREAM = "application/octet-stream"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclasses.dataclass(frozen=True)
class ExportSettings:
    root: str  # the daily export job's --output: a local directory or gs://bucket/prefix
    signer: Signer
    url_ttl: timedelta = URL_TTL
    ready_after: timedelta = DEFAULT_READY_AFTER  # the job's --ready_after

    @classmethod
    def from_env(cls) -> ExportSettings:
        ready_after = parse_duration(os.environ.get(READY_AFTER_ENV)) or DEFAULT_READY_AFTER
        return cls(
            os.environ.get(EXPORT_DIR_ENV) or "out/exports", Signer.from_env(SIGNING_KEY_ENV), ready_after=ready_after
        )


class UrlSigner:
    """Signatures binding an app, a file path and an expiry time (``serving.signing``)."""

    def __init__(self, signer: Signer, clock: Callable[[], float] = time.time) -> None:
        self._signer, self._clock = signer, clock

    def sign(self, app_id: str, path: str, ttl: timedelta) -> tuple[int, str]:
        expires = int(self._clock() + ttl.total_seconds())
        return expires, self._signer.sign(app_id, path, str(expires))

    def verify(self, app_id: str, path: str, expires: str, signature: str) -> bool:
        """Constant-time check; anything malformed is simply not a valid link."""
        if not (expires.isascii() and expires.isdigit()):  # "²".isdigit() is True; int() refuses it
            return False
        return self._signer.verify(signature, app_id, path, expires) and self._clock() < int(expires)


def gcs_signed_url(uri: str, ttl: timedelta) -> str:
    """A V4 signed GET URL for a ``gs://`` object. Signs through the IAM API with the service's
    own credentials (on Cloud Run: its service account needs ``roles/iam.serviceAccountTokenCreator``
    on itself), so no key file is needed. Not covered by the tests: it needs real credentials."""
    credentials = _gcs_credentials()
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    blob = _gcs_client().bucket(bucket).blob(name)
    return blob.generate_signed_url(
        version="v4",
        expiration=ttl,
        method="GET",
        service_account_email=credentials.service_account_email,
        access_token=credentials.token,
    )


@functools.cache
def _gcs_client() -> Any:
    from google.cloud.storage import Client

    return Client(credentials=_gcs_credentials())


def _gcs_credentials() -> Any:
    from google.auth.transport.requests import Request as AuthRequest

    credentials = _default_credentials()
    if not credentials.valid:
        credentials.refresh(AuthRequest())
    return credentials


@functools.cache
def _default_credentials() -> Any:
    import google.auth

    return google.auth.default()[0]


class ExportService:
    """Lists an app's exported files for a day as links; never runs the export."""

    def __init__(self, settings: ServingSettings, export: ExportSettings) -> None:
        self.settings, self.export = settings, export
        self.signer = UrlSigner(export.signer)

    def files(self, app_id: str, day: date, now: datetime) -> dict[str, list[str]]:
        """File names per topic (all 15), empty unless the day is complete and exported."""
        if not is_complete(day, now, self.export.ready_after):  # no storage read for today's requests
            return {topic: [] for topic in EXPORT_TOPICS}
        existing = read_manifest(day_dir(self.export.root, app_id, day))
        return served_files(existing, day, now, self.export.ready_after)

    def links(self, request: Request, app_id: str, day: date) -> dict[str, list[str]]:
        files = self.files(app_id, day, datetime.now(UTC))
        return {topic: [self._link(request, app_id, day, name) for name in names] for topic, names in files.items()}

    def _link(self, request: Request, app_id: str, day: date, name: str) -> str:
        if self.export.root.startswith("gs://"):
            return gcs_signed_url(f"{day_dir(self.export.root, app_id, day)}/{name}", self.export.url_ttl)
        path = f"{day.isoformat()}/{name}"
        expires, signature = self.signer.sign(app_id, path, self.export.url_ttl)
        url = request.url_for("export_file", app_id=app_id, path=path)
        return str(url.include_query_params(expires=expires, signature=signature))

    def file_path(self, app_id: str, path: str) -> Path | None:
        """The file behind a verified link, if it still exists inside the (local) export root."""
        if self.export.root.startswith("gs://"):
            return None
        root = Path(self.export.root).resolve()
        candidate = (root / app_id / path).resolve()
        return candidate if candidate.is_relative_to(root / app_id) and candidate.is_file() else None


async def request_fields(request: Request) -> dict[str, Any]:
    """The body's fields: a form (``application/x-www-form-urlencoded``, as restler and
    ``requests.post(data=...)`` send) or a JSON object. Query parameters are not read: some
    clients repeat ``export_date`` there, and the body decides."""
    body = await request.body()
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[-1] for key, values in form.items()}
    try:
        fields = orjson.loads(body)
    except orjson.JSONDecodeError:
        fields = None
    if not isinstance(fields, dict):
        raise HTTPException(400, "body: expected a JSON object or a form with branch_key, branch_secret, export_date")
    return fields


def parse_export_date(value: Any) -> date:
    if isinstance(value, str) and _DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise HTTPException(400, "export_date: expected a date, YYYY-MM-DD")


@router.post("/v3/export")
@router.post("/v3/export/", include_in_schema=False)  # some clients add the slash; no redirect
async def create_export(request: Request) -> Response:
    fields = await request_fields(request)
    app = require_app(request, fields.get("branch_key"), fields.get("branch_secret"))
    day = parse_export_date(fields.get("export_date"))
    service: ExportService = request.app.state.export
    links = await run_in_threadpool(service.links, request, app.app_id, day)
    return Response(orjson.dumps(links), media_type=JSON_UTF8)


@router.get("/v3/export/files/{app_id}/{path:path}", name="export_file")
@router.head("/v3/export/files/{app_id}/{path:path}", include_in_schema=False)  # (one operation in the spec)
def export_file(request: Request, app_id: str, path: str, expires: str = "", signature: str = "") -> FileResponse:
    service: ExportService = request.app.state.export
    if not service.signer.verify(app_id, path, expires, signature):
        raise HTTPException(403, "invalid or expired link")
    file = service.file_path(app_id, path)
    if file is None:
        raise HTTPException(404, "export file no longer exists")
    return FileResponse(file, media_type=OCTET_STREAM, filename=file.name)

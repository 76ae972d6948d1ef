"""Daily Export API: ``POST /v3/export`` and the signed, expiring file links it returns.

``POST /v3/export`` (branch_key, branch_secret, export_date) answers one key per topic,
each a list of download URLs. The first request for an app and day runs the export job
(:mod:`beam_jobs.daily_export`, in process on the local runner) into
``<export dir>/<app_id>/<day>``; later requests reuse its files (the job's manifest marks
a finished export). Only past UTC days can be exported: today's data is still arriving.

Links are ``/v3/export/files/<app_id>/<day>/<topic>/<file>?expires=<unix s>&signature=<signature>``
with ``signature`` the HMAC-SHA256 of the app, path and expiry. The link is the
credential (like a cloud-storage signed URL): no Branch secret needed to download, but
a changed path, app or expiry, or an expired link, is refused with 403. The signing key
comes from ``SEGMENT_BRANCH_EXPORT_SIGNING_KEY``, else is random per process (links then
die with a restart, which is safe).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from beam_jobs import daily_export
from domain.event_names import TOPICS
from domain.export_files import MANIFEST, MAX_ROWS_PER_FILE
from serving.auth import require_app
from serving.errors import validation_message
from serving.settings import ServingSettings
from serving.signing import Signer
from transforms.exports import read_manifest

router = APIRouter()

DEFAULT_URL_TTL = timedelta(hours=1)


SIGNING_KEY_ENV = "SEGMENT_BRANCH_EXPORT_SIGNING_KEY"


@dataclasses.dataclass(frozen=True)
class ExportSettings:
    export_dir: Path
    signer: Signer
    url_ttl: timedelta = DEFAULT_URL_TTL
    max_rows_per_file: int = MAX_ROWS_PER_FILE

    @classmethod
    def from_env(cls) -> ExportSettings:
        directory = os.environ.get("SEGMENT_BRANCH_EXPORT_DIR") or tempfile.mkdtemp(prefix="segment-branch-exports-")
        return cls(Path(directory), Signer.from_env(SIGNING_KEY_ENV))


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


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    branch_key: str
    branch_secret: str
    export_date: date


class ExportService:
    """Runs or reuses one export per app and day, one at a time per app and day."""

    def __init__(self, settings: ServingSettings, export: ExportSettings) -> None:
        self.settings, self.export = settings, export
        self.signer = UrlSigner(export.signer)
        self._locks: dict[tuple[str, date], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def day_dir(self, app_id: str, day: date) -> Path:
        return self.export.export_dir / app_id / day.isoformat()

    def files(self, app_id: str, day: date) -> dict[str, list[str]]:
        """Per topic, the export's file paths relative to the app's day directory."""
        with self._locks_guard:
            lock = self._locks.setdefault((app_id, day), threading.Lock())
        with lock:
            final = self.day_dir(app_id, day)
            if not (final / MANIFEST).exists():
                self._run(app_id, day, final)
            return read_manifest(str(final))["files"]

    def _run(self, app_id: str, day: date, final: Path) -> None:
        # Write beside the final directory and rename it into place: a crash never leaves
        # a half export that later requests would reuse.
        staging = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
        try:
            daily_export.run(
                [
                    "--runner=FnApiRunner",
                    f"--project={self.settings.project}",
                    f"--dataset={self.settings.dataset}",
                    f"--app_id={app_id}",
                    f"--export_date={day.isoformat()}",
                    f"--output={staging}",
                    f"--max_rows_per_file={self.export.max_rows_per_file}",
                ]
            )
            shutil.rmtree(final, ignore_errors=True)
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def file_path(self, app_id: str, path: str) -> Path | None:
        """The file behind a verified link, if it still exists inside the export directory."""
        root = self.export.export_dir.resolve()
        candidate = (root / app_id / path).resolve()
        return candidate if candidate.is_relative_to(root / app_id) and candidate.is_file() else None


@router.post("/v3/export")
def create_export(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, list[str]]:
    app = require_app(request, body.get("branch_key"), body.get("branch_secret"))
    try:
        parsed = ExportRequest.model_validate(body)
    except ValidationError as exc:
        raise HTTPException(400, validation_message(exc.errors())) from None
    if parsed.export_date >= datetime.now(UTC).date():
        raise HTTPException(400, "export_date must be a past UTC day")
    service: ExportService = request.app.state.export
    files = service.files(app.app_id, parsed.export_date)
    urls: dict[str, list[str]] = {}
    for topic in TOPICS:
        urls[topic] = []
        for relative in files.get(topic, []):
            path = f"{parsed.export_date.isoformat()}/{relative}"
            expires, signature = service.signer.sign(app.app_id, path, service.export.url_ttl)
            url = request.url_for("export_file", app_id=app.app_id, path=path)
            urls[topic].append(str(url.include_query_params(expires=expires, signature=signature)))
    return urls


@router.get("/v3/export/files/{app_id}/{path:path}", name="export_file")
def export_file(request: Request, app_id: str, path: str, expires: str = "", signature: str = "") -> FileResponse:
    service: ExportService = request.app.state.export
    if not service.signer.verify(app_id, path, expires, signature):
        raise HTTPException(403, "invalid or expired link")
    file = service.file_path(app_id, path)
    if file is None:
        raise HTTPException(404, "export file no longer exists")
    return FileResponse(file, media_type="application/gzip", filename=file.name)

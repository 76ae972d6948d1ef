"""Error answers in Branch's shape: ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.responses import JSONResponse

# Branch answers JSON with this exact type; one of its Go clients compares it byte for byte.
JSON_UTF8 = "application/json; charset=utf-8"


class BranchJSONResponse(JSONResponse):
    """The service's JSON answers, typed as Branch types them."""

    media_type = JSON_UTF8


def error_response(code: int, message: str) -> JSONResponse:
    return BranchJSONResponse({"error": {"code": code, "message": message}}, status_code=code)


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """Pydantic errors as one readable line (field path: problem)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in errors)

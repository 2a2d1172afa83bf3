"""CompreFace's error answers: `{"message": "...", "code": N}` with its codes and statuses.

Every exception a CompreFace route raises is described once by `app.api.errors.error_info` and
written here with CompreFace's code: 28 no face (Double Take relies on it), 26 validation, 33 a
missing parameter, 21 an unusable file, 31 too many faces, 11 not found, 20 a missing
`x-api-key`. Where CompreFace has no code (rate limits, facematch's quality gate) the nearest is
used and the message says what happened (docs/compat.md lists the table).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.api.doors import answering_with
from app.api.errors import error_info

NO_FACE_MESSAGE = "No face is found in the given image"

# facematch code -> (HTTP status, CompreFace code, CompreFace's message or None for facematch's)
_CODES: dict[str, tuple[int, int, str | None]] = {
    "unauthorized": (401, 10, None),
    "forbidden": (403, 6, None),
    "not_found": (404, 11, None),
    "validation_error": (400, 26, None),
    "unsupported_media_type": (400, 26, None),
    "invalid_image": (400, 21, None),
    "unsupported_format": (400, 21, None),
    "no_face": (400, 28, NO_FACE_MESSAGE),
    "multiple_faces": (400, 31, None),
    "low_quality": (400, 26, None),
    "duplicate_image": (400, 26, None),
    "no_enrolled_faces": (400, 26, None),
    "conflict": (400, 26, None),
    "image_too_large": (413, 26, None),
    "payload_too_large": (413, 26, None),
    "model_mismatch": (409, 0, None),
    "rate_limited": (429, 0, None),
    "inference_timeout": (503, 41, None),
    "database_unavailable": (503, 41, None),
    "models_unavailable": (503, 41, None),
}


class CompreFaceError(Exception):
    """An answer in CompreFace's words that no service error carries."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class CompreFaceErrorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"message": NO_FACE_MESSAGE, "code": 28}]}
    )

    message: str
    code: int = Field(description="CompreFace's error code: 28 no face, 26 validation, ...")


def too_large(detail: str) -> tuple[bytes, str]:
    """The body-cap middleware's refusal, in CompreFace's words (it runs before any route)."""
    body = CompreFaceErrorOut(message=detail, code=_CODES["payload_too_large"][1])
    return body.model_dump_json().encode(), "application/json"


def _missing_parameter(extra: dict[str, Any]) -> bool:
    errors = extra.get("errors") or []
    return bool(errors) and all(e.get("type") == "missing" for e in errors)


def error_response(exc: Exception) -> JSONResponse:
    headers = None
    if isinstance(exc, CompreFaceError):
        status, code, message = exc.status, exc.code, exc.message
    else:
        info = error_info(exc)
        status, code, fixed = _CODES.get(info.code, (info.status, 0, None))
        message = fixed or info.detail
        headers = info.headers
        if info.code == "validation_error" and _missing_parameter(info.extra):
            code = 33  # MISSING_REQUEST_PARAMETER
    body = CompreFaceErrorOut(message=message, code=code).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)


CompreFaceRoute = answering_with(error_response)


_DESCRIPTIONS = {
    400: "`{message, code}`: 28 no face found, 26 validation, 33 missing parameter, 21 unusable "
    "image, 31 more than one face, 20 missing x-api-key",
    401: "Code 10: the key is not valid",
    403: "Code 6: the key's role is too weak, or it names no collection (face store)",
    404: "Code 11: no such image_id or subject",
    413: "The body or the photo is over the service's caps",
    429: "Too many requests for this key (Retry-After)",
    503: "Code 41: models or database unavailable, or analysis timed out (Retry-After)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        s: {"model": CompreFaceErrorOut, "description": _DESCRIPTIONS[s]}
        for s in sorted({400, 401, 403, 429, 503, *statuses})
    }

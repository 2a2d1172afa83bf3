"""DeepStack's error answers: `{"success": false, "error": "...", "duration": 0}` with its statuses.

Every exception a DeepStack route raises (service errors, image errors, a body over the cap, a
database outage) is described once by `app.api.errors.error_info` and written here in DeepStack's
words: 401 "Incorrect api key", 400 "invalid image", 400 for anything wrong with the request
(DeepStack has no 422), 413 for bodies and photos over the caps, 429 and 503 with Retry-After.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.api.doors import answering_with
from app.api.errors import error_info

# DeepStack's own words where it has them; facematch's detail otherwise.
_MESSAGES = {
    "unauthorized": "Incorrect api key",
    "invalid_image": "invalid image",
    "unsupported_format": "invalid image",
    "no_face": "no face detected",
}


class DeepStackError(Exception):
    """An answer in DeepStack's words that no service error carries (its form checks)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class DeepStackErrorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"success": False, "error": "Incorrect api key", "duration": 0.0}]
        }
    )

    success: bool = Field(False, description="Always false on errors.")
    error: str = Field(description="DeepStack's message, e.g. `Incorrect api key`.")
    duration: float = 0.0


def too_large(detail: str) -> tuple[bytes, str]:
    """The body-cap middleware's refusal, in DeepStack's words (it runs before any route)."""
    return DeepStackErrorOut(error=detail).model_dump_json().encode(), "application/json"


def error_response(exc: Exception) -> JSONResponse:
    if isinstance(exc, DeepStackError):
        status, message, headers = exc.status, exc.message, None
    else:
        info = error_info(exc)
        status = 400 if info.status == 422 else info.status
        message = _MESSAGES.get(info.code, info.detail)
        headers = info.headers
    body = DeepStackErrorOut(error=message).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)


DeepStackRoute = answering_with(error_response)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Bad request: a missing image or userid, an invalid min_confidence or image",
        401: "`Incorrect api key`: missing, unknown or revoked key",
        403: "The key's role is too weak, or it names no collection (face store)",
        413: "The body or the photo is over the service's caps",
        429: "Too many requests for this key (Retry-After)",
        503: "Models or database unavailable, or analysis timed out (Retry-After)",
    }
    return {
        s: {"model": DeepStackErrorOut, "description": descriptions[s]}
        for s in sorted({400, 401, 429, 503, *statuses})
    }

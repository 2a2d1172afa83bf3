"""Rekognition's error answers: `{"__type": "<Code>", "message": "..."}` in
`application/x-amz-json-1.1`, with an `x-amzn-RequestId` header, and the one table from facematch's
problem codes to Rekognition's exceptions.

Statuses: client errors are 400, as in Rekognition's error table. A failure translated from a
facematch problem keeps that problem's own status where it says "try later": the rate limit is
ThrottlingException with 429 and Retry-After, an unavailable database or model or a timed-out
analysis is 503. botocore retries ThrottlingException by its code and 429/503 by status, so
clients back off exactly as with AWS, and a monitor never counts a throttled caller as a server
error. Only a real fault (InternalServerError) is 500.
"""

from __future__ import annotations

import json

from starlette.responses import Response

from app.api.rekognition.model import error_is_fault

CONTENT_TYPE = "application/x-amz-json-1.1"


class RekognitionError(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.status = status  # None: the code's own status (`status_of`)


# facematch problem code -> Rekognition exception. Anything not listed is InternalServerError.
CODE_OF: dict[str, str] = {
    "not_found": "ResourceNotFoundException",
    "forbidden": "AccessDeniedException",
    "unauthorized": "UnrecognizedClientException",
    "rate_limited": "ThrottlingException",
    "inference_timeout": "ThrottlingException",
    "invalid_image": "InvalidImageFormatException",
    "unsupported_format": "InvalidImageFormatException",
    "unsupported_media_type": "InvalidImageFormatException",
    "image_too_large": "ImageTooLargeException",
    "payload_too_large": "ImageTooLargeException",
    "validation_error": "InvalidParameterException",
    "no_face": "InvalidParameterException",
    "multiple_faces": "InvalidParameterException",
    "low_quality": "InvalidParameterException",
    "duplicate_image": "InvalidParameterException",
    "no_enrolled_faces": "InvalidParameterException",
    "model_mismatch": "InvalidParameterException",
    "conflict": "ConflictException",
    "database_unavailable": "InternalServerError",
    "models_unavailable": "InternalServerError",
}


def status_of(code: str) -> int:
    return 500 if error_is_fault(code) or code == "InternalServerError" else 400


def error_response(
    code: str,
    message: str,
    *,
    request_id: str,
    headers: dict[str, str] | None = None,
    status: int | None = None,
) -> Response:
    body = json.dumps({"__type": code, "message": message}).encode()
    return Response(
        body,
        status_code=status or status_of(code),
        media_type=CONTENT_TYPE,
        headers={"x-amzn-RequestId": request_id, **(headers or {})},
    )

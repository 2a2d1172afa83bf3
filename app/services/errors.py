"""Errors a use case can end in. Each has a stable `code`; the API maps codes to HTTP statuses."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    code = "error"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class FaceRejected(ServiceError):
    """The photo holds no usable face: `no_face`, `multiple_faces`, `low_quality`, ..."""

    code = "no_face"


class Unauthorized(ServiceError):
    code = "unauthorized"


class Forbidden(ServiceError):
    code = "forbidden"


class InferenceTimeout(ServiceError):
    code = "inference_timeout"


class RateLimited(ServiceError):
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after_s: float) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s

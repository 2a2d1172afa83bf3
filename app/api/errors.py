"""Every error leaves as an RFC 9457 problem (`application/problem+json`) with a stable `code`.

Routes never build error bodies: they raise (service errors, ImageError, validation), and the
handlers here turn the exception into a problem. `problem_responses()` documents them per route.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SqlTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from app.services.errors import RateLimited, ServiceError
from app.vision.types import ImageError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# The one table from problem code to HTTP status.
STATUS_OF: dict[str, int] = {
    "validation_error": 422,
    "invalid_image": 422,
    "no_face": 422,
    "multiple_faces": 422,
    "low_quality": 422,
    "duplicate_image": 422,
    "no_enrolled_faces": 422,
    "unsupported_format": 415,
    "unsupported_media_type": 415,
    "image_too_large": 413,
    "payload_too_large": 413,
    "request_timeout": 408,
    "client_disconnected": 400,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "model_mismatch": 409,
    "unauthorized": 401,
    "forbidden": 403,
    "rate_limited": 429,
    "inference_timeout": 503,
    "database_unavailable": 503,
    "storage_full": 507,
    "models_unavailable": 503,
    "not_ready": 503,
    "internal_error": 500,
}


# What any /v1 route can answer: a missing or bad key, bad input, a database that is down.
_COMMON_PROBLEMS = ("unauthorized", "validation_error", "database_unavailable")
# What any route that reads photos can answer: a body that is not photos, a photo that cannot be
# decoded or is over the pixel cap, the per-key rate limit, the inference deadline.
IMAGE_PROBLEMS = (
    "invalid_image",
    "unsupported_format",
    "unsupported_media_type",
    "image_too_large",
    "rate_limited",
    "inference_timeout",
)


class RequestProblem(ServiceError):
    """Input the schema could not express a rule for (wrong field kind, bad base64, ...)."""

    code = "validation_error"


class Problem(BaseModel):
    """RFC 9457 problem details, plus a stable machine-readable `code`."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "type": "https://facematch.dev/problems/not_found",
                "title": "Not Found",
                "status": 404,
                "code": "not_found",
                "detail": "collection 4b1c… not found",
            }
        },
    )

    type: str = Field(description="URI naming the problem type.")
    title: str
    status: int
    code: str = Field(description="Stable machine-readable code; switch on this.")
    detail: str = Field(description="Human-readable explanation of this occurrence.")


def problem_response(
    code: str,
    detail: str,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(code, detail, status=status, **extra)
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def problem_body(
    code: str, detail: str, *, status: int | None = None, **extra: Any
) -> dict[str, Any]:
    """The RFC 9457 body every `/v1` problem has, whoever sends it (handlers, the body cap)."""
    status = status or STATUS_OF.get(code, 400)
    return {
        "type": f"https://facematch.dev/problems/{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }


def problem_responses(*codes: str, public: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given codes. Auth and validation problems are included unless
    the route is `public` (no key, no input); an unreachable database always is."""
    common = ("database_unavailable",) if public else _COMMON_PROBLEMS
    statuses: dict[int, list[str]] = {}
    for code in (*common, *codes):
        statuses.setdefault(STATUS_OF[code], []).append(code)
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": f"{HTTPStatus(status).phrase}: " + ", ".join(f"`{c}`" for c in names),
        }
        for status, names in sorted(statuses.items())
    }


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What went wrong, independent of how a door writes it down: the stable `code`, the HTTP
    status, a human `detail`, response headers (Retry-After) and extra problem members."""

    code: str
    status: int
    detail: str
    headers: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _info(
    code: str, detail: str, *, status: int | None = None, headers: dict[str, str] | None = None
) -> ErrorInfo:
    return ErrorInfo(code, status or STATUS_OF.get(code, 400), detail, headers)


def _service_info(exc: ServiceError) -> ErrorInfo:
    headers = None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(max(1, round(exc.retry_after_s + 0.5)))}
    elif exc.code in ("inference_timeout", "database_unavailable"):
        headers = {"Retry-After": "5"}
    return ErrorInfo(exc.code, STATUS_OF.get(exc.code, 400), exc.detail, headers, dict(exc.extra))


def _validation_info(exc: RequestValidationError) -> ErrorInfo:
    errors = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"])
    detail = f"{where}: {first['msg']}" if where else str(first["msg"])
    return ErrorInfo("validation_error", 422, detail, None, {"errors": errors})


def _http_info(exc: StarletteHTTPException) -> ErrorInfo:
    if isinstance(exc.__cause__, ServiceError):
        # FastAPI wraps whatever failed while it read a JSON body (the body middleware's size or
        # time limit) in a 400 "error parsing the body": answer with the real cause.
        return _service_info(exc.__cause__)
    code = {
        404: "not_found",
        405: "method_not_allowed",
        401: "unauthorized",
        403: "forbidden",
        413: "payload_too_large",
        415: "unsupported_media_type",
    }.get(exc.status_code, "validation_error" if 400 <= exc.status_code < 500 else "internal_error")
    # A body FastAPI could not parse is a validation problem like any other: always 422.
    status = 422 if code == "validation_error" else exc.status_code
    return ErrorInfo(code, status, str(exc.detail), dict(exc.headers) if exc.headers else None)


_DATABASE_DOWN = "the database is unreachable; try again shortly"


def error_info(exc: Exception) -> ErrorInfo:
    """Any exception a route can raise, described once for every door's error format."""
    if isinstance(exc, ServiceError):
        return _service_info(exc)
    if isinstance(exc, ImageError):
        return _info(exc.code, exc.detail)
    if isinstance(exc, RequestValidationError):
        return _validation_info(exc)
    if isinstance(exc, StarletteHTTPException):
        return _http_info(exc)
    if isinstance(exc, DataError):
        # Values the database refuses (out-of-range numbers, NUL bytes) are the caller's input.
        return _info("validation_error", "a value was refused by the database")
    if isinstance(exc, IntegrityError):
        # Services check uniqueness first; this only catches a concurrent writer winning the race.
        return _info("conflict", "the change conflicts with existing data")
    if isinstance(exc, ClientDisconnect):
        # Nobody is left to read the answer; not a server error, so no traceback either.
        log.info("client disconnected before the request body was complete")
        return _info("client_disconnected", "the client disconnected before the body was sent")
    if isinstance(exc, SqlTimeoutError):
        # Every pooled connection is busy for longer than the pool timeout (a few seconds).
        log.warning("database connection pool exhausted")
        return _info(
            "database_unavailable",
            "every database connection is busy; try again shortly",
            headers={"Retry-After": "2"},
        )
    if _disk_full(exc):
        log.error("database storage is full: %s", exc)
        return _info("storage_full", "the database has no space left; nothing was stored")
    if isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        log.warning("database unavailable: %s", type(exc).__name__)
        return _info("database_unavailable", _DATABASE_DOWN, headers={"Retry-After": "5"})
    log.exception("unhandled error", exc_info=exc)
    return _info("internal_error", "internal error")


def _disk_full(exc: Exception) -> bool:
    """SQLite's SQLITE_FULL or PostgreSQL's disk_full (SQLSTATE 53100)."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    return getattr(orig, "sqlstate", None) == "53100" or "database or disk is full" in str(orig)


def _problem(_: Request, exc: Exception) -> JSONResponse:
    info = error_info(exc)
    return problem_response(
        info.code, info.detail, status=info.status, headers=info.headers, **info.extra
    )


def install_error_handlers(app: FastAPI) -> None:
    for kind in (
        ServiceError,
        ImageError,
        RequestValidationError,
        StarletteHTTPException,
        DataError,
        OperationalError,
        InterfaceError,
        IntegrityError,
        DBAPIError,
        SqlTimeoutError,
        # Handled here, not by the catch-all: Starlette re-raises what reaches `Exception` and
        # the server logs it as an unhandled error with a traceback.
        ClientDisconnect,
        Exception,
    ):
        app.add_exception_handler(kind, _problem)

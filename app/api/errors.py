"""Every error leaves as an RFC 9457 problem (`application/problem+json`) with a stable `code`.

Routes never build error bodies: they raise (service errors, ImageError, validation), and the
handlers here turn the exception into a problem. `problem_responses()` documents them per route.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "model_mismatch": 409,
    "unauthorized": 401,
    "forbidden": 403,
    "rate_limited": 429,
    "inference_timeout": 503,
    "database_unavailable": 503,
    "models_unavailable": 503,
    "not_ready": 503,
    "internal_error": 500,
}


# What any /v1 route can answer: a missing or bad key, bad input, a database that is down.
_COMMON_PROBLEMS = ("unauthorized", "validation_error", "database_unavailable")


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
    status = status or STATUS_OF.get(code, 400)
    body: dict[str, Any] = {
        "type": f"https://facematch.dev/problems/{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


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


def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    headers = None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(max(1, round(exc.retry_after_s + 0.5)))}
    elif exc.code in ("inference_timeout", "database_unavailable"):
        headers = {"Retry-After": "5"}
    return problem_response(exc.code, exc.detail, headers=headers, **exc.extra)


def _image_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ImageError)
    return problem_response(exc.code, exc.detail)


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
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
    return problem_response(
        "validation_error", f"{where}: {first['msg']}" if where else first["msg"], errors=errors
    )


def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
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
    return problem_response(code, str(exc.detail), status=status, headers=exc.headers)


def _database_down(_: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", type(exc).__name__)
    return problem_response(
        "database_unavailable",
        "the database is unreachable; try again shortly",
        headers={"Retry-After": "5"},
    )


def _data_error(_: Request, exc: Exception) -> JSONResponse:
    # Values the database refuses (out-of-range numbers, NUL bytes) are the caller's input.
    return problem_response("validation_error", "a value was refused by the database")


def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    # Services check uniqueness first; this only catches a concurrent writer winning the race.
    return problem_response("conflict", "the change conflicts with existing data")


def _dbapi_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated:
        return _database_down(request, exc)
    return _unexpected(request, exc)


def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem_response("internal_error", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(ImageError, _image_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(InterfaceError, _database_down)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _dbapi_error)
    app.add_exception_handler(Exception, _unexpected)

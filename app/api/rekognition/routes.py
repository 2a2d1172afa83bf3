"""`POST /` with `X-Amz-Target: RekognitionService.<Operation>`: Rekognition's JSON 1.1 protocol.

`RekognitionRoute` (the doors' shared `answering_with`) renders every failure of this route,
including those raised while FastAPI solves its dependencies (the SigV4 check, the rate limit), as
Rekognition does, so a boto3 client always gets a `ClientError` with the right `Error.Code` and
never an RFC 9457 problem.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from app.api.access import Context, access
from app.api.doors import answering_with
from app.api.errors import error_info
from app.api.metrics import current_request_id
from app.api.rekognition import model
from app.api.rekognition.auth import sigv4_caller
from app.api.rekognition.errors import CODE_OF, CONTENT_TYPE, RekognitionError, error_response
from app.api.rekognition.operations import OPERATIONS, Ctx, dispatch

TARGET_PREFIX = "RekognitionService."


def _request_id() -> str:
    # The observability middleware gives every request an id (and echoes it as X-Request-ID).
    return current_request_id() or ""


def _as_rekognition(exc: Exception) -> RekognitionError:
    if isinstance(exc, RekognitionError):
        return exc
    if isinstance(exc, model.ValidationFailure):
        return RekognitionError("ValidationException", str(exc))
    info = error_info(exc)  # the one description of any failure, shared by every door
    # "Try later" keeps facematch's status (429 rate limit, 503 unavailable or timed out):
    # see errors.py. Everything else takes the Rekognition code's own status.
    retry_later = info.status == 429 or info.status > 500
    return RekognitionError(
        CODE_OF.get(info.code, "InternalServerError"),
        info.detail,
        headers=info.headers,
        status=info.status if retry_later else None,
    )


def _answer(exc: Exception) -> Response:
    error = _as_rekognition(exc)
    return error_response(
        error.code,
        error.message,
        request_id=_request_id(),
        headers=error.headers,
        status=error.status,
    )


RekognitionRoute = answering_with(_answer)


router = APIRouter(route_class=RekognitionRoute)

# Any valid SigV4 key gets in; each operation's own role and the key's collection scope are
# enforced by `dispatch` from the `OPERATIONS` table, with the same `Caller` rules.
SigV4Access = Annotated[Context, Depends(access("identify", resolve=sigv4_caller))]


def _operation(request: Request) -> str:
    target = request.headers.get("x-amz-target", "")
    name = target.removeprefix(TARGET_PREFIX)
    if not target.startswith(TARGET_PREFIX) or name not in OPERATIONS:
        raise RekognitionError(
            "UnknownOperationException", f"facematch does not serve the operation {target!r}"
        )
    return name


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RekognitionError("SerializationException", "the body is not valid JSON") from exc


@router.post("/", include_in_schema=False)
async def rekognition(request: Request, access: SigV4Access) -> Response:
    """Amazon Rekognition's face operations (docs/compat.md); the request schema is botocore's
    model, not facematch's OpenAPI document."""
    name = _operation(request)
    params = model.parse_request(name, _body(await request.body()))
    ctx = Ctx(
        caller=access.caller,
        session=access.session,
        settings=access.settings,
        index=access.index,
        runner=access.runner,
        pipeline_or_none=request.app.state.pipeline,
        region=getattr(request.state, "aws_region", "us-east-1"),
    )
    # Operations are synchronous (database and inference calls block): off the event loop.
    result = await run_in_threadpool(dispatch, ctx, name, params)
    body = json.dumps(model.render_response(name, result)).encode()
    return Response(body, media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": _request_id()})

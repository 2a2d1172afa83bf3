"""The door's caller resolver for `app.api.access.access(resolve=...)`: SigV4 over the whole
request, checked against a facematch key of kind `sigv4`. `access` then names the caller in the
audit trail and charges its rate limit, as for every key. There is no anonymous mode: a request
without a valid signature never reaches an operation."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy.orm import Session

from app.api.deps import SessionDep, SettingsDep
from app.api.rekognition import sigv4
from app.api.rekognition.errors import RekognitionError
from app.services import keys as key_service
from app.settings import Settings


async def sigv4_caller(
    request: Request, session: SessionDep, settings: SettingsDep
) -> key_service.Caller:
    """The caller whose SigV4 key signed this request; AWS's error codes otherwise."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    body = await request.body()
    caller, region = _authenticate(
        session,
        settings,
        method=request.method,
        path=request.url.path,
        query=request.url.query,
        headers=headers,
        body=body,
    )
    request.state.aws_region = region  # ARNs name the region the client signed for
    return caller


def _authenticate(
    session: Session,
    settings: Settings,
    *,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> tuple[key_service.Caller, str]:
    try:
        signed = sigv4.parse(headers, now=datetime.now(UTC))
        key = key_service.sigv4_key(
            session=session,
            access_key_id=signed.access_key_id,
            sigv4=key_service.SigV4Secrets.from_settings(settings),
        )
        if key is None:
            raise RekognitionError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        canonical = sigv4.canonical_request(
            method=method, path=path, query=query, headers=headers, signed=signed, body=body
        )
        sigv4.verify(key.secret, signed, canonical)
    except sigv4.SignatureError as exc:
        raise RekognitionError(exc.code, exc.message) from exc
    return key.caller(session), signed.region

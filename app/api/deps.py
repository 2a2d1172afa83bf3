"""FastAPI dependencies as `Annotated` aliases; the long-lived objects live on `app.state`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from app.api.rate_limit import TokenBuckets
from app.services import keys as key_service
from app.services.audit import ACTOR_KEY
from app.services.errors import RateLimited, ServiceError, Unauthorized
from app.services.index_sync import IndexSync
from app.services.inference import InferenceRunner
from app.settings import Settings
from app.vision.pipeline import VisionPipeline

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An admin key from settings, or a scoped key from `POST /v1/keys`.",
)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_pipeline(request: Request) -> VisionPipeline:
    pipeline: VisionPipeline | None = request.app.state.pipeline
    if pipeline is None:
        raise ServiceError("the face models are not loaded", code="models_unavailable")
    return pipeline


def get_index(request: Request) -> IndexSync:
    return request.app.state.index


def get_runner(request: Request) -> InferenceRunner:
    return request.app.state.runner


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
PipelineDep = Annotated[VisionPipeline, Depends(get_pipeline)]
IndexDep = Annotated[IndexSync, Depends(get_index)]
RunnerDep = Annotated[InferenceRunner, Depends(get_runner)]


def get_caller(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    api_key: Annotated[str | None, Security(api_key_header)] = None,
) -> key_service.Caller:
    if not api_key:
        raise Unauthorized("send an API key in the X-API-Key header")
    admin_key = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
    caller = key_service.authenticate(session=session, presented=api_key, admin_key=admin_key)
    if caller is None:
        raise Unauthorized("the API key is not valid")
    # The audit trail records writes made through this session under the caller's name.
    session.info[ACTOR_KEY] = caller.name
    buckets: TokenBuckets = request.app.state.rate_limits
    wait = buckets.take(caller.name)
    if wait > 0:
        raise RateLimited("too many requests for this key; slow down", retry_after_s=wait)
    return caller


CallerDep = Annotated[key_service.Caller, Depends(get_caller)]

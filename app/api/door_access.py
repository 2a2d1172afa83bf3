"""Access for the protocol doors until `app.api.access` (issue 10) lands: the same shape,
`door_access(role, credentials=reader)` -> `Context`, over the same authentication as `/v1`
(`services.keys.authenticate`, the audit actor, the per-key rate limit).

No `from __future__ import annotations`: FastAPI resolves string annotations of closures against
module globals only."""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.api.deps import IndexDep, RunnerDep, SessionDep, SettingsDep
from app.api.rate_limit import TokenBuckets
from app.services import keys as key_service
from app.services.audit import ACTOR_KEY
from app.services.errors import RateLimited, ServiceError, Unauthorized
from app.services.index_sync import IndexSync
from app.services.inference import InferenceRunner
from app.services.keys import Caller
from app.settings import Settings
from app.vision.pipeline import VisionPipeline

Role = Literal["identify", "enroll", "admin"]


@dataclass(frozen=True, slots=True)
class Context:
    caller: Caller
    session: Session
    settings: Settings
    index: IndexSync
    runner: InferenceRunner
    _pipeline: VisionPipeline | None = field(repr=False)

    @property
    def pipeline(self) -> VisionPipeline:
        if self._pipeline is None:
            raise ServiceError("the face models are not loaded", code="models_unavailable")
        return self._pipeline


@cache
def door_access(role: Role, *, credentials: Callable[..., Any]) -> Callable[..., Context]:
    def require_access(
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        index: IndexDep,
        runner: RunnerDep,
        presented: Annotated[str, Depends(credentials)],
    ) -> Context:
        admin = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
        caller = key_service.authenticate(session=session, presented=presented, admin_key=admin)
        if caller is None:
            raise Unauthorized("the API key is not valid")
        session.info[ACTOR_KEY] = caller.name
        buckets: TokenBuckets = request.app.state.rate_limits
        wait = buckets.take(caller.name)
        if wait > 0:
            raise RateLimited("too many requests for this key; slow down", retry_after_s=wait)
        caller.require_role(role)
        return Context(caller, session, settings, index, runner, request.app.state.pipeline)

    return require_access

"""Who may call a route, declared once in its signature or its router: never a line in its body.

Three separable parts, so every door (the `/v1` API, DeepStack, CompreFace, Rekognition, the
console) authenticates the same keys through the same code:

1. **Where the credential comes from**: a *key reader*, a FastAPI dependency returning the key
   the client presented, raising `Unauthorized` (in its own words) when there is none.
   `header_api_key` reads `X-API-Key`; a door passes its own (a multipart field, another header).
2. **Who the caller is**: `key_caller(reader)` turns the presented key into a `Caller`
   through `services.keys.authenticate`. A door whose credential is not a plain key (SigV4: an
   access key id and a signature over the request) passes its own *caller resolver* instead.
   Either way `admitted()` then names the caller in the audit trail and charges its rate limit,
   once per request however many access dependencies a route declares.
3. **What the route needs**: `access(role, ...)` checks the role and, when the path has a
   `{collection_id}`, that the key may see that collection (another tenant's is reported as
   missing). It returns the request's `Context`, so a route that declares `ctx: Enroller` has
   everything a use case needs in one parameter.

All failures are typed service errors (`Unauthorized`, `Forbidden`, `NotFound`, `RateLimited`);
a door renders them in its own wire format with its own exception handlers.

This module deliberately does not use `from __future__ import annotations`: the dependencies
below are built in closures, and FastAPI resolves string annotations against module globals only.
"""

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal

from fastapi import Depends, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute

from app.api.deps import IndexDep, RunnerDep, SessionDep, SettingsDep, loaded
from app.api.rate_limit import TokenBuckets
from app.services import keys as key_service
from app.services.audit import ACTOR_KEY
from app.services.errors import Forbidden, RateLimited, Unauthorized
from app.services.face_index import FaceIndex
from app.services.inference import InferenceRunner
from app.services.keys import Caller
from app.services.matching import resolve_threshold
from app.settings import Settings
from app.vision.pipeline import VisionPipeline

Role = Literal["identify", "enroll", "admin"]
KeyReader = Callable[..., Any]
"""A FastAPI dependency returning the presented key (`str`); raises `Unauthorized` if absent."""
CallerResolver = Callable[..., Any]
"""A FastAPI dependency returning the authenticated `Caller`, or None for a bad credential."""


# -- 1. where the credential comes from ---------------------------------------------------------

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An admin key from settings, or a scoped key from `POST /v1/keys`.",
)


def header_api_key(api_key: Annotated[str | None, Security(api_key_header)] = None) -> str:
    """The `/v1` API's key reader: the `X-API-Key` header."""
    if not api_key:
        raise Unauthorized("send an API key in the X-API-Key header")
    return api_key


# -- 2. who the caller is -----------------------------------------------------------------------


@cache
def key_caller(reader: KeyReader) -> CallerResolver:
    """A caller resolver for keys read by `reader`. Cached so that every route using the same
    reader shares one dependency, which FastAPI then solves once per request."""

    def resolve_key(
        session: SessionDep,
        settings: SettingsDep,
        presented: Annotated[str, Depends(reader)],
    ) -> Caller | None:
        admin = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
        return key_service.authenticate(session=session, presented=presented, admin_key=admin)

    return resolve_key


@cache
def admitted(resolve: CallerResolver) -> Callable[..., Caller]:
    """The authenticated caller, named in the audit trail and charged one rate-limit token."""

    def admit(
        request: Request,
        session: SessionDep,
        caller: Annotated[Caller | None, Depends(resolve)],
    ) -> Caller:
        # End the key lookup's transaction now: the pooled connection goes back before the route
        # reads the request body, which a slow client may take its time sending (issue 11: 16
        # trickling uploads held all 15 pooled connections). The use case begins its own.
        session.rollback()
        if caller is None:
            raise Unauthorized("the API key is not valid")
        # The audit trail records writes made through this session under the caller's name.
        session.info[ACTOR_KEY] = caller.name
        buckets: TokenBuckets = request.app.state.rate_limits
        wait = buckets.take(caller.name)
        if wait > 0:
            raise RateLimited("too many requests for this key; slow down", retry_after_s=wait)
        return caller

    return admit


# -- 3. what the route needs --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Context:
    """What a use case needs from the request: the caller, a session, the app's long-lived
    objects. The pipeline is looked up when used, so routes that never run the models keep
    working while the service runs degraded (models missing)."""

    caller: Caller
    session: Session
    settings: Settings
    index: FaceIndex
    runner: InferenceRunner
    _pipeline: VisionPipeline | None = field(repr=False)

    @property
    def pipeline(self) -> VisionPipeline:
        return loaded(self._pipeline)

    def threshold(self, requested: float | None) -> float:
        """The similarity a match needs: the request's, else the setting's, else the model's."""
        return resolve_threshold(
            requested=requested, configured=self.settings.match_threshold, pipeline=self.pipeline
        )


@dataclass(frozen=True, slots=True)
class AccessRule:
    """What an access dependency checks; the route-walking test reads it."""

    role: Role
    every_collection: bool
    authenticates_with: CallerResolver


def _collection_param(values: Mapping[str, Any]) -> uuid.UUID | None:
    raw = values.get("collection_id")
    if raw is None:
        return None
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None  # not an id: the route's own validation answers 422


# Each access dependency's rule, for the route walk (bounded: access() is cached on its arguments).
_RULES: dict[Callable[..., Any], AccessRule] = {}


@cache
def access(
    role: Role = "identify",
    *,
    credentials: KeyReader = header_api_key,
    resolve: CallerResolver | None = None,
    every_collection: bool = False,
) -> Callable[..., Context]:
    """The dependency a route declares: authenticate (from `credentials`, or with `resolve` for
    credentials that are not plain keys), then require `role`, a `collection_id` in the path or
    query within the key's scope and, with `every_collection`, a key not scoped to one collection.

    Cached on its arguments, so equal declarations are one dependency, solved once per request.
    """
    admit = admitted(resolve if resolve is not None else key_caller(credentials))

    def require_access(
        request: Request,
        caller: Annotated[Caller, Depends(admit)],
        session: SessionDep,
        settings: SettingsDep,
        index: IndexDep,
        runner: RunnerDep,
    ) -> Context:
        # The path names the resource: tenancy before role, so a key cannot even learn that
        # another tenant's collection exists. A `collection_id` query filter (the audit trail)
        # is checked after the role, as any other argument would be.
        in_path = _collection_param(request.path_params)
        if in_path is not None:
            caller.require_collection(in_path)
        caller.require_role(role)
        in_query = _collection_param(request.query_params)
        if in_query is not None:
            caller.require_collection(in_query)
        if every_collection and caller.collection_id is not None:
            raise Forbidden("a collection-scoped key cannot do this (e.g. create collections)")
        return Context(
            caller=caller,
            session=session,
            settings=settings,
            index=index,
            runner=runner,
            _pipeline=request.app.state.pipeline,
        )

    _RULES[require_access] = AccessRule(
        role=role, every_collection=every_collection, authenticates_with=admit
    )
    return require_access


async def public(request: Request) -> None:
    """Declares a route open to anyone (health probes), so the route walk can tell an open route
    from one that forgot its access dependency. Async, so a probe never waits for the request
    thread pool."""
    del request


Public = Depends(public)

# The `/v1` API's roles. `Reader`: any valid key (identify, verify, detect, read).
Reader = Annotated[Context, Depends(access("identify"))]
Enroller = Annotated[Context, Depends(access("enroll"))]
Admin = Annotated[Context, Depends(access("admin"))]
GlobalAdmin = Annotated[Context, Depends(access("admin", every_collection=True))]


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _declared(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    stack = list(dependant.dependencies)
    while stack:
        sub = stack.pop()
        yield sub.call
        stack.extend(sub.dependencies)


def access_rules(dependant: Dependant) -> list[AccessRule]:
    """Every access rule a route declares (in its signature, its router or nested dependencies)."""
    return [_RULES[call] for call in _declared(dependant) if call in _RULES]


def routes_without_access(routes: Sequence[BaseRoute]) -> list[str]:
    """ "METHODS path" of each API route that declares no access dependency and is not `Public`;
    a route with a `{collection_id}` in its path or a write method must declare access (being
    public is not enough). The route-walking test asserts this list is empty."""
    missing = []
    # iter_route_contexts sees routes as included, with their routers' dependencies.
    for context in iter_route_contexts(routes):
        if not isinstance(context.original_route, APIRoute):
            continue  # /docs, /openapi.json: FastAPI's own documentation pages
        dependant: Dependant = context.dependant
        methods: set[str] = context.methods or set()
        path = context.path or ""
        needs_access = "{collection_id}" in path or bool(methods & _WRITES)
        if access_rules(dependant):
            continue
        if not needs_access and public in set(_declared(dependant)):
            continue
        missing.append(f"{','.join(sorted(methods))} {path}")
    return missing

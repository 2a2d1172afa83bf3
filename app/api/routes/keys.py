"""/v1/keys: scoped API keys (admin only). A key is shown once, at creation."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.api.access import Admin, Reader
from app.api.errors import problem_responses
from app.api.paging import PageDep
from app.api.schemas import KeyCreate, KeyCreated, KeyOut, KeyScopeOut, Page
from app.services import keys as service

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post(
    "",
    name="create",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses("forbidden", "not_found", "conflict"),
)
def create_key(body: KeyCreate, ctx: Admin) -> KeyCreated:
    """Create a key for one collection (or, with `collection_id: null`, for all of them).
    Roles: `identify` (detect, verify, identify, read) < `enroll` (+ identities and faces) <
    `admin` (+ collections and keys). The `key` (or, for `kind: sigv4`, the
    `secret_access_key`) is in this response only."""
    if body.kind == "sigv4":
        row, secret = service.create_sigv4_key(
            session=ctx.session,
            role=body.role,
            collection_id=body.collection_id,
            name=body.name,
            scope=ctx.caller.collection_id,
            max_per_collection=ctx.settings.max_keys_per_collection,
            sigv4=service.SigV4Secrets.from_settings(ctx.settings),
        )
        shown = {"secret_access_key": secret}
    else:
        row, key = service.create_key(
            session=ctx.session,
            role=body.role,
            collection_id=body.collection_id,
            name=body.name,
            scope=ctx.caller.collection_id,
            max_per_collection=ctx.settings.max_keys_per_collection,
        )
        shown = {"key": key}
    return KeyCreated.model_validate({**KeyOut.model_validate(row).model_dump(), **shown})


@router.get("/me", name="me", responses=problem_responses())
def key_scope(ctx: Reader) -> KeyScopeOut:
    """The key making this call: its role and collection, so a client (the console) can offer
    only what the key may do. Any valid key may ask; no secret is returned."""
    caller = ctx.caller
    return KeyScopeOut.model_validate(
        {"key_id": caller.key_id, "role": caller.role, "collection_id": caller.collection_id}
    )


@router.get("", name="list", responses=problem_responses("forbidden"))
def list_keys(ctx: Admin, page: PageDep) -> Page[KeyOut]:
    """Keys this admin may manage (never the secrets)."""
    rows, total = service.list_keys(
        session=ctx.session,
        limit=page.limit,
        offset=page.offset,
        collection_id=ctx.caller.collection_id,
    )
    return Page(
        items=[KeyOut.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.delete(
    "/{key_id}",
    name="revoke",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses("forbidden", "not_found"),
)
def revoke_key(key_id: uuid.UUID, ctx: Admin) -> None:
    """Revoke a key: it stops working at once and stays listed with `revoked_at`."""
    service.revoke_key(session=ctx.session, key_id=key_id, scope=ctx.caller.collection_id)

"""/v1/collections/{collection_id}/identities: the people of a collection."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.access import Enroller, Reader
from app.api.errors import problem_responses
from app.api.paging import PageDep
from app.api.presenters import identity_out
from app.api.schemas import NO_CONTROL_CHARS, IdentityCreate, IdentityOut, IdentityUpdate, Page
from app.services import identities as service

router = APIRouter(prefix="/v1/collections/{collection_id}/identities", tags=["identities"])


@router.post(
    "",
    name="create",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses("forbidden", "not_found", "conflict"),
)
def create_identity(collection_id: uuid.UUID, body: IdentityCreate, ctx: Enroller) -> IdentityOut:
    """Add a person; `external_id` (your own id) is unique within the collection."""
    view = service.create_identity(
        session=ctx.session,
        collection_id=collection_id,
        external_id=body.external_id,
        display_name=body.display_name,
        metadata=body.metadata,
    )
    return identity_out(view)


@router.get("", name="list", responses=problem_responses("not_found"))
def list_identities(
    collection_id: uuid.UUID,
    ctx: Reader,
    page: PageDep,
    external_id: Annotated[
        str | None,
        Query(
            max_length=200, pattern=NO_CONTROL_CHARS, description="Only the identity with this id."
        ),
    ] = None,
) -> Page[IdentityOut]:
    items, total = service.list_identities(
        session=ctx.session,
        collection_id=collection_id,
        limit=page.limit,
        offset=page.offset,
        external_id=external_id,
    )
    return Page(
        items=[identity_out(v) for v in items], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/{identity_id}", name="get", responses=problem_responses("not_found"))
def get_identity(collection_id: uuid.UUID, identity_id: uuid.UUID, ctx: Reader) -> IdentityOut:
    view = service.get_identity(
        session=ctx.session, collection_id=collection_id, identity_id=identity_id
    )
    return identity_out(view)


@router.patch(
    "/{identity_id}",
    name="update",
    responses=problem_responses("forbidden", "not_found", "conflict"),
)
def update_identity(
    collection_id: uuid.UUID, identity_id: uuid.UUID, body: IdentityUpdate, ctx: Enroller
) -> IdentityOut:
    """Change the fields sent; fields left out stay as they are."""
    view = service.update_identity(
        session=ctx.session,
        collection_id=collection_id,
        identity_id=identity_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return identity_out(view)


@router.delete(
    "/{identity_id}",
    name="delete",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses("forbidden", "not_found"),
)
def delete_identity(collection_id: uuid.UUID, identity_id: uuid.UUID, ctx: Enroller) -> None:
    """Delete the person and every template of theirs, from SQL and from the index."""
    service.delete_identity(
        session=ctx.session, index=ctx.index, collection_id=collection_id, identity_id=identity_id
    )

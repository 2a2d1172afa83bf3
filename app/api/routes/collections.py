"""/v1/collections: create (admin), list, read, delete (admin; removes every template)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.api.access import Admin, GlobalAdmin, Reader
from app.api.errors import problem_responses
from app.api.paging import PageDep
from app.api.presenters import collection_out
from app.api.schemas import CollectionCreate, CollectionOut, Page
from app.services import collections as service

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.post(
    "",
    name="create",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses("forbidden", "conflict", "models_unavailable"),
)
def create_collection(body: CollectionCreate, ctx: GlobalAdmin) -> CollectionOut:
    """Create an empty collection bound to the model the service runs."""
    stats = service.create_collection(
        session=ctx.session, index=ctx.index, name=body.name, model_id=ctx.pipeline.model_id
    )
    return collection_out(stats)


@router.get("", name="list", responses=problem_responses())
def list_collections(ctx: Reader, page: PageDep) -> Page[CollectionOut]:
    """Collections this key may see, oldest first."""
    items, total = service.list_collections(
        session=ctx.session, limit=page.limit, offset=page.offset, only_id=ctx.caller.collection_id
    )
    return Page(
        items=[collection_out(s) for s in items], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/{collection_id}", name="get", responses=problem_responses("not_found"))
def get_collection(collection_id: uuid.UUID, ctx: Reader) -> CollectionOut:
    return collection_out(service.get_collection(session=ctx.session, collection_id=collection_id))


@router.delete(
    "/{collection_id}",
    name="delete",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses("forbidden", "not_found"),
)
def delete_collection(collection_id: uuid.UUID, ctx: Admin) -> None:
    """Delete the collection, its identities, its keys and every template (SQL and index)."""
    service.delete_collection(session=ctx.session, index=ctx.index, collection_id=collection_id)

"""/v1/collections: create (admin), list, read, delete (admin; removes every template)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.api.deps import CallerDep, IndexDep, PipelineDep, SessionDep
from app.api.errors import problem_responses
from app.api.paging import PageDep
from app.api.presenters import collection_out
from app.api.schemas import CollectionCreate, CollectionOut, Page
from app.services import collections as service
from app.services.errors import Forbidden

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.post(
    "",
    name="create",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses("forbidden", "conflict", "models_unavailable"),
)
def create_collection(
    body: CollectionCreate,
    caller: CallerDep,
    session: SessionDep,
    index: IndexDep,
    pipeline: PipelineDep,
) -> CollectionOut:
    """Create an empty collection bound to the model the service runs."""
    caller.require_role("admin")
    if caller.collection_id is not None:
        raise Forbidden("a collection-scoped key cannot create collections")
    stats = service.create_collection(
        session=session, index=index, name=body.name, model_id=pipeline.model_id
    )
    return collection_out(stats)


@router.get("", name="list", responses=problem_responses())
def list_collections(caller: CallerDep, session: SessionDep, page: PageDep) -> Page[CollectionOut]:
    """Collections this key may see, oldest first."""
    items, total = service.list_collections(
        session=session, limit=page.limit, offset=page.offset, only_id=caller.collection_id
    )
    return Page(
        items=[collection_out(s) for s in items], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/{collection_id}", name="get", responses=problem_responses("not_found"))
def get_collection(
    collection_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> CollectionOut:
    caller.require_collection(collection_id)
    return collection_out(service.get_collection(session=session, collection_id=collection_id))


@router.delete(
    "/{collection_id}",
    name="delete",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses("forbidden", "not_found"),
)
def delete_collection(
    collection_id: uuid.UUID, caller: CallerDep, session: SessionDep, index: IndexDep
) -> None:
    """Delete the collection, its identities, its keys and every template (SQL and index)."""
    caller.require_collection(collection_id)
    caller.require_role("admin")
    service.delete_collection(session=session, index=index, collection_id=collection_id)

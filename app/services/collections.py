"""Use cases for collections: create, list, read, delete (with every template in it)."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.models import Collection
from app.services.errors import Conflict, NotFound
from app.services.index_sync import IndexSync


def create_collection(
    *, session: Session, index: IndexSync, name: str, model_id: str
) -> repo.CollectionStats:
    if repo.collection_by_name(session, name) is not None:
        raise Conflict(f"a collection named {name!r} already exists")
    try:
        collection = repo.add_collection(session, name=name, model_id=model_id)
        session.commit()
    except IntegrityError as exc:  # a concurrent create won the race
        session.rollback()
        raise Conflict(f"a collection named {name!r} already exists") from exc
    index.registry.get(str(collection.id))
    return repo.CollectionStats(collection, 0, 0)


def require_collection(*, session: Session, collection_id: uuid.UUID) -> Collection:
    collection = repo.get_collection(session, collection_id)
    if collection is None:
        raise NotFound(f"collection {collection_id} not found")
    return collection


def get_collection(*, session: Session, collection_id: uuid.UUID) -> repo.CollectionStats:
    collection = require_collection(session=session, collection_id=collection_id)
    return repo.collection_stats(session, [collection])[0]


def list_collections(
    *, session: Session, limit: int, offset: int, only_id: uuid.UUID | None = None
) -> tuple[list[repo.CollectionStats], int]:
    collections, total = repo.list_collections(session, limit=limit, offset=offset, only_id=only_id)
    return repo.collection_stats(session, collections), total


def delete_collection(*, session: Session, index: IndexSync, collection_id: uuid.UUID) -> int:
    """Delete from SQL (committed), then from the index; returns the number of templates removed."""
    collection = require_collection(session=session, collection_id=collection_id)
    removed = repo.delete_collection(session, collection)
    session.commit()
    index.catch_up(session)
    index.drop(str(collection_id))
    return removed

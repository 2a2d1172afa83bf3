"""Use cases for collections: create, list, read, delete (with every template in it)."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.models import Collection
from app.services.errors import Conflict, NotFound
from app.services.face_index import FaceIndex

log = logging.getLogger(__name__)


def create_collection(
    *, session: Session, index: FaceIndex, name: str, model_id: str
) -> repo.CollectionStats:
    if repo.collection_by_name(session, name) is not None:
        raise Conflict(f"a collection named {name!r} already exists")
    try:
        collection = repo.add_collection(session, name=name, model_id=model_id)
        session.commit()
    except IntegrityError as exc:  # a concurrent create won the race
        session.rollback()
        raise Conflict(f"a collection named {name!r} already exists") from exc
    index.add_collection(session, str(collection.id))
    return repo.CollectionStats(collection, 0, 0)


def require_collection(*, session: Session, collection_id: uuid.UUID) -> Collection:
    collection = repo.get_collection(session, collection_id)
    if collection is None:
        raise NotFound(f"collection {collection_id} not found")
    return collection


def require_collection_named(*, session: Session, name: str) -> Collection:
    collection = repo.collection_by_name(session, name)
    if collection is None:
        raise NotFound(f"The collection id: {name} does not exist")
    return collection


def require_compatible_model(collection: Collection, model_id: str) -> None:
    """Templates of another network are meaningless to this one: refuse with `model_mismatch`.

    Model ids read `<network>@<sha8 of the pretrained weights file>`
    (`model_export.manifest.model_id`), so a re-export of the same weights (another torch or onnx
    version) keeps the id. Collections created while ids still named the ONNX file's hash carry
    the same network with another hash, and their templates are valid (the exporter's parity
    checks hold every export to the weights); refusing them would strand them (photos are not
    kept, so nothing could be re-enrolled). So the network must match, and a hash change is only
    logged.
    """
    if collection.model_id == model_id:
        return
    if collection.model_id.split("@")[0] != model_id.split("@")[0]:
        raise Conflict(
            f"collection holds templates of model {collection.model_id}, the service runs "
            f"{model_id}; enroll into a new collection",
            code="model_mismatch",
        )
    log.warning(
        "collection %s was enrolled with %s, the service runs %s (same network, re-exported)",
        collection.id,
        collection.model_id,
        model_id,
    )


def get_collection(*, session: Session, collection_id: uuid.UUID) -> repo.CollectionStats:
    collection = require_collection(session=session, collection_id=collection_id)
    return repo.collection_stats(session, [collection])[0]


def list_collections(
    *, session: Session, limit: int, offset: int, only_id: uuid.UUID | None = None
) -> tuple[list[repo.CollectionStats], int]:
    collections, total = repo.list_collections(session, limit=limit, offset=offset, only_id=only_id)
    return repo.collection_stats(session, collections), total


def delete_collection(*, session: Session, index: FaceIndex, collection_id: uuid.UUID) -> int:
    """Delete from SQL (committed), then from the index; returns the number of templates removed."""
    collection = require_collection(session=session, collection_id=collection_id)
    removed = repo.delete_collection(session, collection)
    session.commit()
    index.catch_up(session)
    index.drop(str(collection_id))
    return removed

"""Use cases for identities: create, list, read, update, delete (with every template)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.models import Identity
from app.services.collections import require_collection
from app.services.errors import Conflict, NotFound
from app.services.face_index import FaceIndex

_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class IdentityView:
    identity: Identity
    face_count: int


def _conflict(external_id: str | None) -> Conflict:
    return Conflict(f"external_id {external_id!r} is already used in this collection")


def create_identity(
    *,
    session: Session,
    collection_id: uuid.UUID,
    external_id: str | None,
    display_name: str | None,
    metadata: dict[str, Any] | None,
) -> IdentityView:
    require_collection(session=session, collection_id=collection_id)
    if external_id is not None and repo.identity_by_external_id(
        session, collection_id=collection_id, external_id=external_id
    ):
        raise _conflict(external_id)
    try:
        identity = repo.add_identity(
            session,
            collection_id=collection_id,
            external_id=external_id,
            display_name=display_name,
            metadata=metadata,
        )
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise _conflict(external_id) from exc
    return IdentityView(identity, 0)


def require_identity(
    *, session: Session, collection_id: uuid.UUID, identity_id: uuid.UUID
) -> Identity:
    identity = repo.get_identity(session, collection_id=collection_id, identity_id=identity_id)
    if identity is None:
        raise NotFound(f"identity {identity_id} not found in collection {collection_id}")
    return identity


def get_identity(
    *, session: Session, collection_id: uuid.UUID, identity_id: uuid.UUID
) -> IdentityView:
    identity = require_identity(
        session=session, collection_id=collection_id, identity_id=identity_id
    )
    return IdentityView(identity, repo.face_counts(session, [identity.id]).get(identity.id, 0))


def list_identities(
    *,
    session: Session,
    collection_id: uuid.UUID,
    limit: int,
    offset: int,
    external_id: str | None = None,
) -> tuple[list[IdentityView], int]:
    require_collection(session=session, collection_id=collection_id)
    identities, total = repo.list_identities(
        session, collection_id=collection_id, limit=limit, offset=offset, external_id=external_id
    )
    counts = repo.face_counts(session, [i.id for i in identities])
    return [IdentityView(i, counts.get(i.id, 0)) for i in identities], total


def update_identity(
    *,
    session: Session,
    collection_id: uuid.UUID,
    identity_id: uuid.UUID,
    changes: dict[str, Any],
) -> IdentityView:
    """Apply the given fields only (`external_id`, `display_name`, `metadata`); others stay."""
    identity = require_identity(
        session=session, collection_id=collection_id, identity_id=identity_id
    )
    if "external_id" in changes and changes["external_id"] != identity.external_id:
        new = changes["external_id"]
        if new is not None and repo.identity_by_external_id(
            session, collection_id=collection_id, external_id=new
        ):
            raise _conflict(new)
        identity.external_id = new
    if "display_name" in changes:
        identity.display_name = changes["display_name"]
    if "metadata" in changes:
        identity.meta = changes["metadata"]
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise _conflict(changes.get("external_id")) from exc
    return get_identity(session=session, collection_id=collection_id, identity_id=identity_id)


def delete_identity(
    *, session: Session, index: FaceIndex, collection_id: uuid.UUID, identity_id: uuid.UUID
) -> int:
    """Delete the identity and its templates from SQL (committed), then from the index."""
    identity = require_identity(
        session=session, collection_id=collection_id, identity_id=identity_id
    )
    removed = repo.delete_identity(session, identity)
    session.commit()
    index.catch_up(session)
    return removed

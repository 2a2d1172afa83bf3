"""Identities addressed by name, the way DeepStack (`userid`) and CompreFace (`subject`) do.

A protocol that names people by a string instead of an id works on the key's collection (its "face
store") and on `Identity.external_id`. These use cases compose the ordinary ones (enrollment,
identities, matching): a subject is an ordinary identity, its examples ordinary faces, visible and
audited like any other through every door and `/v1`. An identity created through `/v1` without an
`external_id` is named by its id.
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.models import Identity
from app.services import audit
from app.services.collections import require_collection
from app.services.enrollment import EnrollResult, enroll_faces
from app.services.errors import Conflict, FaceRejected, Forbidden, NotFound, ServiceError
from app.services.face_index import FaceIndex
from app.services.identities import create_identity, delete_identity
from app.services.inference import InferenceRunner
from app.services.keys import Caller
from app.vision.pipeline import VisionPipeline


def face_store(caller: Caller) -> uuid.UUID:
    """The collection a name-addressed protocol works on: the key's own collection.

    Those protocols have no notion of collections, so a key that reaches every collection (the
    configured admin key, an unscoped key) cannot say which one is meant.
    """
    if caller.collection_id is None:
        raise Forbidden(
            "this key is not scoped to a collection, so it names no face store; use a key "
            "created with a collection_id (POST /v1/keys)"
        )
    return caller.collection_id


def name_of(identity_id: uuid.UUID, external_id: str | None) -> str:
    return external_id if external_id is not None else str(identity_id)


_MAX_NAME = 200  # Identity.external_id


def check_name(subject: str) -> str:
    """A subject name as identities store it: 1-200 characters, no control characters."""
    if not subject or len(subject) > _MAX_NAME:
        raise ServiceError(
            f"a subject name must have 1 to {_MAX_NAME} characters", code="validation_error"
        )
    if any(unicodedata.category(c) == "Cc" for c in subject):
        raise ServiceError(
            "a subject name must not hold control characters", code="validation_error"
        )
    return subject


def find(*, session: Session, collection_id: uuid.UUID, subject: str) -> Identity | None:
    found = repo.identity_by_external_id(session, collection_id=collection_id, external_id=subject)
    if found is None:
        # An identity created without external_id is named by its id.
        try:
            identity_id = uuid.UUID(subject)
        except ValueError:
            return None
        found = repo.get_identity(session, collection_id=collection_id, identity_id=identity_id)
        if found is not None and found.external_id is not None:
            return None
    return found


def require(*, session: Session, collection_id: uuid.UUID, subject: str) -> Identity:
    found = find(session=session, collection_id=collection_id, subject=subject)
    if found is None:
        raise NotFound(f"subject {subject!r} not found")
    return found


def names(*, session: Session, collection_id: uuid.UUID) -> list[str]:
    require_collection(session=session, collection_id=collection_id)
    return [name_of(i, e) for i, e in repo.identity_names(session, collection_id=collection_id)]


def create(*, session: Session, collection_id: uuid.UUID, subject: str) -> Identity:
    check_name(subject)
    if find(session=session, collection_id=collection_id, subject=subject) is not None:
        raise Conflict(f"subject {subject!r} already exists")
    return create_identity(
        session=session,
        collection_id=collection_id,
        external_id=subject,
        display_name=None,
        metadata=None,
    ).identity


def _find_or_create(
    session: Session, collection_id: uuid.UUID, subject: str
) -> tuple[Identity, bool]:
    found = find(session=session, collection_id=collection_id, subject=subject)
    if found is not None:
        return found, False
    try:
        return create(session=session, collection_id=collection_id, subject=subject), True
    except (Conflict, IntegrityError):  # a concurrent request created it first
        session.rollback()
        return require(session=session, collection_id=collection_id, subject=subject), False


def enroll(
    *,
    session: Session,
    index: FaceIndex,
    pipeline: VisionPipeline,
    runner: InferenceRunner,
    collection_id: uuid.UUID,
    subject: str,
    images: list[bytes],
    largest_only: bool,
    min_face_size: int,
) -> EnrollResult:
    """Add photos as faces of the subject, creating it on first use (the ordinary enrollment:
    quality gate, duplicate check, audit). A subject created here and left without any face
    (every photo refused) is removed again, so a failed upload leaves nothing behind."""
    check_name(subject)
    require_collection(session=session, collection_id=collection_id)
    identity, created = _find_or_create(session, collection_id, subject)
    # The id, not the row: enroll ends the transaction, and reloading a row a concurrent delete
    # removed raises ObjectDeletedError (a 500).
    identity_id = identity.id
    try:
        return enroll_faces(
            session=session,
            index=index,
            pipeline=pipeline,
            runner=runner,
            collection_id=collection_id,
            identity_id=identity_id,
            images=images,
            largest_only=largest_only,
            min_face_size=min_face_size,
        )
    except FaceRejected:
        if created:
            session.rollback()
            with suppress(NotFound):  # someone else removed it already
                delete_identity(
                    session=session,
                    index=index,
                    collection_id=collection_id,
                    identity_id=identity_id,
                )
        raise


def delete(
    *, session: Session, index: FaceIndex, collection_id: uuid.UUID, subject: str
) -> int | None:
    """Delete the subject and all its faces; the number of faces removed, None when absent."""
    found = find(session=session, collection_id=collection_id, subject=subject)
    if found is None:
        return None
    return delete_identity(
        session=session, index=index, collection_id=collection_id, identity_id=found.id
    )


def delete_all(*, session: Session, index: FaceIndex, collection_id: uuid.UUID) -> int:
    """Delete every subject of the collection; the number of subjects removed."""
    removed = 0
    for identity_id, _ in repo.identity_names(session, collection_id=collection_id):
        try:
            delete_identity(
                session=session, index=index, collection_id=collection_id, identity_id=identity_id
            )
            removed += 1
        except NotFound:
            pass  # deleted concurrently
    return removed


def delete_faces(
    *, session: Session, index: FaceIndex, collection_id: uuid.UUID, subject: str | None
) -> int:
    """Delete the faces of one subject, or of every subject (the subjects stay)."""
    require_collection(session=session, collection_id=collection_id)
    if subject is None:
        owners = [i for i, _ in repo.identity_names(session, collection_id=collection_id)]
    else:
        found = find(session=session, collection_id=collection_id, subject=subject)
        owners = [found.id] if found is not None else []
    removed = repo.delete_faces_of(session, collection_id=collection_id, identity_ids=owners)
    session.commit()
    index.catch_up(session)
    return removed


@dataclass(frozen=True, slots=True)
class NamedFace:
    face_id: int
    subject: str


def list_faces(
    *, session: Session, collection_id: uuid.UUID, subject: str | None, limit: int, offset: int
) -> tuple[list[NamedFace], int]:
    require_collection(session=session, collection_id=collection_id)
    identity_id = None
    if subject is not None:
        found = find(session=session, collection_id=collection_id, subject=subject)
        if found is None:
            return [], 0
        identity_id = found.id
    owners, total = repo.list_collection_faces(
        session, collection_id=collection_id, identity_id=identity_id, limit=limit, offset=offset
    )
    return [NamedFace(o.face_id, name_of(o.identity_id, o.external_id)) for o in owners], total


def delete_face(
    *, session: Session, index: FaceIndex, collection_id: uuid.UUID, face_id: int
) -> NamedFace:
    face = repo.collection_face(session, collection_id=collection_id, face_id=face_id)
    if face is None:
        raise NotFound(f"face {face_id} not found")
    owner = repo.face_owners(session, [face_id])[face_id]
    named = NamedFace(face_id, name_of(owner.identity_id, owner.external_id))
    repo.delete_face(session, face)
    session.commit()
    index.catch_up(session)
    return named


def rename(
    *, session: Session, index: FaceIndex, collection_id: uuid.UUID, subject: str, new_name: str
) -> None:
    """Rename a subject; when `new_name` exists already the two are merged (its faces move to the
    existing subject, photos it already holds are dropped, the old subject is removed)."""
    check_name(new_name)
    source = require(session=session, collection_id=collection_id, subject=subject)
    if new_name == name_of(source.id, source.external_id):
        return
    target = find(session=session, collection_id=collection_id, subject=new_name)
    if target is None:
        source.external_id = new_name
        session.commit()
        return
    moved = repo.move_faces(session, source=source, target=target)
    audit.record(
        session,
        actor=session.info.get(audit.ACTOR_KEY),
        action=audit.IDENTITY_UPDATE,
        collection_id=collection_id,
        target_type="identity",
        target_id=target.id,
        details={"merged_from": str(source.id), "face_ids": moved},
    )
    session.flush()
    repo.delete_identity(session, source)
    session.commit()
    index.catch_up(session)


def face_holding(
    *, session: Session, collection_id: uuid.UUID, subject: str, image: bytes
) -> NamedFace | None:
    """The subject's face enrolled from exactly these bytes, if any (a retried upload)."""
    found = find(session=session, collection_id=collection_id, subject=subject)
    if found is None:
        return None
    face = repo.face_by_content(
        session, identity_id=found.id, sha256=hashlib.sha256(image).hexdigest()
    )
    return NamedFace(face.id, name_of(found.id, found.external_id)) if face else None

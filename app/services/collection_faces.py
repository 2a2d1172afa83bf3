"""Faces addressed at the collection level, the face-centred model of Rekognition's collections.

In facematch every face belongs to an identity. A face indexed without a person (Rekognition's
IndexFaces) gets an identity of its own, a *holder*: no external id, `metadata` marking it. A
"user" is an identity with an external id (so identities enrolled through `/v1` with an external id
are users too). Associating a face with a user moves it into the user's identity (the holder, now
empty, goes); disassociating moves it into a fresh holder. Templates and face ids never change, so
the index needs no update: searches read a face's owner from SQL.

Enrollment, search and deletion go through the same repositories, change log and index catch-up
as `/v1`; nothing here analyses photos differently (`pipeline.analyze` and the enroll quality
gate are the same).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.models import Face as FaceRow
from app.db.models import Identity
from app.services.collections import require_collection, require_compatible_model
from app.services.errors import NotFound
from app.services.face_index import FaceIndex
from app.services.faces import box_json, quality_json
from app.services.identities import create_identity
from app.services.inference import InferenceRunner
from app.services.matching import Neighbour, nearest_faces, photo_faces
from app.vision.pipeline import VisionPipeline
from app.vision.types import EmbeddedFace, Face

HOLDER_METADATA: dict[str, Any] = {"unassociated_face": True}


def is_holder(identity: Identity) -> bool:
    return identity.external_id is None and identity.meta == HOLDER_METADATA


@dataclass(frozen=True, slots=True)
class FaceRecord:
    face: FaceRow
    user_id: str | None  # the owner's external id; None for a holder (or an unnamed identity)


@dataclass(frozen=True, slots=True)
class Unindexed:
    face: Face
    reasons: list[str]  # quality issue codes, or "exceeds_max_faces"


@dataclass(frozen=True, slots=True)
class IndexedPhoto:
    image_size: tuple[int, int]
    indexed: list[tuple[FaceRecord, EmbeddedFace]]
    unindexed: list[Unindexed]


def index_photo(
    *,
    session: Session,
    index: FaceIndex,
    pipeline: VisionPipeline,
    runner: InferenceRunner,
    collection_id: uuid.UUID,
    image: bytes,
    max_faces: int | None,
    quality_gate: bool,
    min_face_size: int,
    max_faces_per_image: int,
    external_image_id: str | None,
) -> IndexedPhoto:
    """Index every usable face of a photo (largest first, at most `max_faces`), each as a face of
    its own holder identity, in one transaction. Faces the enroll quality gate refuses (when
    `quality_gate`) and faces beyond `max_faces` are returned as unindexed, with reasons."""
    collection = require_collection(session=session, collection_id=collection_id)
    require_compatible_model(collection, pipeline.model_id)
    session.rollback()  # no connection held during inference
    size, faces = photo_faces(
        pipeline=pipeline,
        runner=runner,
        image=image,
        min_face_size=min_face_size,
        max_faces=max_faces_per_image,
    )
    accepted: list[EmbeddedFace] = []
    unindexed: list[Unindexed] = []
    for face in faces:
        issues = [code for code, _ in pipeline.quality_issues(face)] if quality_gate else []
        if issues:
            unindexed.append(Unindexed(face, issues))
        elif max_faces is not None and len(accepted) >= max_faces:
            unindexed.append(Unindexed(face, ["exceeds_max_faces"]))
        else:
            accepted.append(face)
    digest = hashlib.sha256(image).hexdigest()
    width, height = size
    records: list[tuple[FaceRecord, EmbeddedFace]] = []
    try:
        for face in accepted:
            holder = repo.add_identity(
                session,
                collection_id=collection_id,
                external_id=None,
                display_name=None,
                metadata=dict(HOLDER_METADATA),
            )
            # `image_width` in the box marks a face-centred face (migration 0006 relies on it).
            box = box_json(face) | {"image_width": width, "image_height": height}
            (row,) = repo.add_faces(
                session,
                identity=holder,
                model_id=pipeline.model_id,
                faces=[(face.template, box, quality_json(face), digest)],
                external_image_id=external_image_id,
                unique_photo=False,  # each face has its own holder; several may meet in one user
            )
            records.append((FaceRecord(row, None), face))
        if records:
            session.commit()
    except IntegrityError:
        # The collection was deleted while the photo was analysed (the foreign keys refuse its
        # holders): answer as if the delete had come first, 404, not 409.
        session.rollback()
        require_collection(session=session, collection_id=collection_id)
        raise
    if records:
        index.catch_up(session)
    return IndexedPhoto(size, records, unindexed)


def list_faces(
    *,
    session: Session,
    collection_id: uuid.UUID,
    limit: int,
    offset: int,
    user_id: str | None = None,
    face_ids: list[int] | None = None,
) -> tuple[list[FaceRecord], int]:
    require_collection(session=session, collection_id=collection_id)
    identity_id = None
    if user_id is not None:
        identity_id = require_user(session=session, collection_id=collection_id, user_id=user_id).id
    rows, total = repo.collection_face_rows(
        session,
        collection_id=collection_id,
        identity_id=identity_id,
        face_ids=face_ids,
        limit=limit,
        offset=offset,
    )
    return [FaceRecord(face, external_id) for face, external_id in rows], total


def get_faces(
    *, session: Session, collection_id: uuid.UUID, face_ids: list[int]
) -> dict[int, FaceRecord]:
    """The faces of the collection among `face_ids`; others (and other tenants') are absent."""
    rows, _ = repo.collection_face_rows(
        session,
        collection_id=collection_id,
        identity_id=None,
        face_ids=face_ids,
        limit=max(1, len(face_ids)),
        offset=0,
    )
    return {face.id: FaceRecord(face, external_id) for face, external_id in rows}


@dataclass(frozen=True, slots=True)
class Outcome:
    """Per face of a batch request: done, or why not (`face_not_found`, `associated_to_a_user`,
    `associated_to_a_different_user`, `low_match_confidence`)."""

    done: list[int]
    refused: list[tuple[int, str, str | None, float | None]]  # (face id, reason, user, score)


def delete_faces(
    *, session: Session, index: FaceIndex, collection_id: uuid.UUID, face_ids: list[int]
) -> Outcome:
    """Delete faces that belong to no user (a face of a user must be disassociated first, as
    Rekognition requires); their holders go with them."""
    require_collection(session=session, collection_id=collection_id)
    done: list[int] = []
    refused: list[tuple[int, str, str | None, float | None]] = []
    for fid, record in _found(session, collection_id, face_ids, refused):
        if record.user_id is not None:
            refused.append((fid, "associated_to_a_user", record.user_id, None))
        else:
            holder = record.face.identity_id
            repo.delete_face(session, record.face)
            repo.delete_identity_if_empty_holder(session, holder, HOLDER_METADATA)
            done.append(fid)
    if done:
        session.commit()
        index.catch_up(session)
    return Outcome(done, refused)


# --- users ------------------------------------------------------------------------------------


def require_user(*, session: Session, collection_id: uuid.UUID, user_id: str) -> Identity:
    identity = repo.identity_by_external_id(
        session, collection_id=collection_id, external_id=user_id
    )
    if identity is None:
        raise NotFound(f"user {user_id!r} not found in collection {collection_id}")
    return identity


def create_user(*, session: Session, collection_id: uuid.UUID, user_id: str) -> None:
    create_identity(
        session=session,
        collection_id=collection_id,
        external_id=user_id,
        display_name=None,
        metadata=None,
    )


def delete_user(*, session: Session, collection_id: uuid.UUID, user_id: str) -> None:
    """Delete the user; its faces stay in the collection, each back in a holder of its own."""
    identity = require_user(session=session, collection_id=collection_id, user_id=user_id)
    for face in repo.identity_faces(session, identity_id=identity.id):
        _move_to_new_holder(session, face)
    repo.delete_identity(session, identity)  # no faces left: logs no template change
    session.commit()


def list_users(
    *, session: Session, collection_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[Identity], int]:
    require_collection(session=session, collection_id=collection_id)
    return repo.list_named_identities(
        session, collection_id=collection_id, limit=limit, offset=offset
    )


def user_counts(session: Session, collection_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    return repo.named_identity_counts(session, collection_ids)


def associate_faces(
    *,
    session: Session,
    collection_id: uuid.UUID,
    user_id: str,
    face_ids: list[int],
    min_score: float,
    score: Callable[[float], float],
) -> Outcome:
    """Move faces into the user's identity. A face must be unowned (in a holder) and, when the
    user already has faces, look like them: `score(best cosine to the user's faces)` must reach
    `min_score`, else `low_match_confidence` (Rekognition's UserMatchThreshold)."""
    user = require_user(session=session, collection_id=collection_id, user_id=user_id)
    user_templates = np.array(
        [t for _, t in repo.identity_templates(session, identity_id=user.id)], dtype=np.float32
    )
    done: list[int] = []
    refused: list[tuple[int, str, str | None, float | None]] = []
    present = _found(session, collection_id, face_ids, refused)
    new_templates = dict(repo.face_templates(session, face_ids=[fid for fid, _ in present]))
    moved: list[tuple[FaceRow, uuid.UUID]] = []
    for fid, record in present:
        if record.face.identity_id == user.id:
            done.append(fid)  # already the user's: associating again changes nothing
            continue
        if record.user_id is not None:
            refused.append((fid, "associated_to_a_different_user", record.user_id, None))
            continue
        if len(user_templates):
            best = float(np.max(user_templates @ new_templates[fid]))
            if score(best) < min_score:
                refused.append((fid, "low_match_confidence", user_id, score(best)))
                continue
        moved.append((record.face, record.face.identity_id))
        record.face.identity_id = user.id
        # Face-centred from now on: the user may hold other faces of the same photo.
        record.face.unique_photo = False
        done.append(fid)
    session.flush()
    for _, old in moved:
        repo.delete_identity_if_empty_holder(session, old, HOLDER_METADATA)
    session.commit()
    return Outcome(done, refused)


def disassociate_faces(
    *, session: Session, collection_id: uuid.UUID, user_id: str, face_ids: list[int]
) -> Outcome:
    user = require_user(session=session, collection_id=collection_id, user_id=user_id)
    done: list[int] = []
    refused: list[tuple[int, str, str | None, float | None]] = []
    for fid, record in _found(session, collection_id, face_ids, refused):
        if record.face.identity_id != user.id:
            refused.append((fid, "associated_to_a_different_user", record.user_id, None))
        else:
            _move_to_new_holder(session, record.face)
            done.append(fid)
    session.commit()
    return Outcome(done, refused)


def _found(
    session: Session,
    collection_id: uuid.UUID,
    face_ids: list[int],
    refused: list[tuple[int, str, str | None, float | None]],
) -> list[tuple[int, FaceRecord]]:
    """The requested faces of the collection, each once, in request order; the others are
    appended to `refused` as `face_not_found`."""
    found = get_faces(session=session, collection_id=collection_id, face_ids=face_ids)
    present = []
    for fid in dict.fromkeys(face_ids):
        if fid in found:
            present.append((fid, found[fid]))
        else:
            refused.append((fid, "face_not_found", None, None))
    return present


def _move_to_new_holder(session: Session, face: FaceRow) -> None:
    holder = repo.add_identity(
        session,
        collection_id=face.collection_id,
        external_id=None,
        display_name=None,
        metadata=dict(HOLDER_METADATA),
    )
    face.identity_id = holder.id
    face.unique_photo = False  # a face-centred face now, as IndexFaces makes them
    session.flush()


# --- search -----------------------------------------------------------------------------------


def face_template(*, session: Session, collection_id: uuid.UUID, face_id: int) -> np.ndarray:
    if face_id not in get_faces(session=session, collection_id=collection_id, face_ids=[face_id]):
        raise NotFound(f"face {face_id} not found in collection {collection_id}")
    ((_, template),) = repo.face_templates(session, face_ids=[face_id])
    return template


def user_templates(*, session: Session, collection_id: uuid.UUID, user_id: str) -> np.ndarray:
    user = require_user(session=session, collection_id=collection_id, user_id=user_id)
    rows = repo.identity_templates(session, identity_id=user.id)
    return np.array([t for _, t in rows], dtype=np.float32).reshape(len(rows), -1)


def search_faces(
    *,
    session: Session,
    index: FaceIndex,
    collection_id: uuid.UUID,
    query: np.ndarray,
    k: int,
    exclude_face_id: int | None = None,
) -> list[tuple[FaceRecord, float]]:
    """The `k` enrolled faces nearest one template, best first, with their rows."""
    require_collection(session=session, collection_id=collection_id)
    (near,) = nearest_faces(
        session=session,
        index=index,
        collection_id=collection_id,
        queries=query.reshape(1, -1),
        k=k + (exclude_face_id is not None),
    )
    kept = [n for n in near if n.owner.face_id != exclude_face_id][:k]
    rows = get_faces(
        session=session, collection_id=collection_id, face_ids=[n.owner.face_id for n in kept]
    )
    return [(rows[n.owner.face_id], n.similarity) for n in kept if n.owner.face_id in rows]


def search_users(
    *,
    session: Session,
    index: FaceIndex,
    collection_id: uuid.UUID,
    queries: np.ndarray,
    k: int,
    exclude_identity_id: uuid.UUID | None = None,
    exclude_face_id: int | None = None,
) -> list[tuple[str, float]]:
    """Users (identities with an external id) nearest any of the query templates, best first:
    (user id, best cosine over the user's faces and the queries)."""
    require_collection(session=session, collection_id=collection_id)
    if len(queries) == 0:
        return []
    # Faces per query: enough that a few users with many faces do not crowd the others out.
    neighbours = nearest_faces(
        session=session, index=index, collection_id=collection_id, queries=queries, k=k * 8
    )
    best: dict[str, float] = {}
    for near in neighbours:
        for n in _named(near, exclude_identity_id, exclude_face_id):
            user = n.owner.external_id
            assert user is not None
            best[user] = max(best.get(user, -1.0), n.similarity)
    return sorted(best.items(), key=lambda item: -item[1])[:k]


def _named(near: list[Neighbour], identity: uuid.UUID | None, face: int | None) -> list[Neighbour]:
    return [
        n
        for n in near
        if n.owner.external_id is not None
        and n.owner.identity_id != identity
        and n.owner.face_id != face
    ]

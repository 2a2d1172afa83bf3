"""Enroll: photos → one quality-checked template each → SQL (committed) → index (from the log)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.engine import release_connection
from app.db.models import Face as FaceRow
from app.services.collections import require_collection, require_compatible_model
from app.services.errors import Conflict, FaceRejected, NotFound
from app.services.face_index import FaceIndex
from app.services.faces import box_json, quality_json
from app.services.identities import require_identity
from app.services.inference import InferenceRunner
from app.vision.pipeline import VisionPipeline
from app.vision.types import EmbeddedFace, ImageError


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int  # position of the photo in the request
    code: str
    reason: str
    issues: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EnrollResult:
    faces: list[FaceRow]
    rejected: list[Rejection]


# Enough faces to tell a photo with one usable face from a group photo, without embedding a crowd.
_FACES_LOOKED_AT = 4


def _analyze_one(
    pipeline: VisionPipeline, data: bytes, *, largest_only: bool, min_face_size: int
) -> list[EmbeddedFace] | ImageError:
    try:
        return pipeline.analyze(
            data,
            min_face_size=min_face_size,
            max_faces=_FACES_LOOKED_AT,
            largest_only=largest_only,
        )
    except ImageError as exc:
        return exc


def _judge(
    index: int,
    outcome: list[EmbeddedFace] | ImageError,
    pipeline: VisionPipeline,
    largest_only: bool,
) -> EmbeddedFace | Rejection:
    """The one usable face of a photo, or why there is none.

    Faces that fail the quality gate (a blurred face in the background, a poster) do not count
    against "exactly one face"; two usable faces do, unless the caller asked for the largest.
    """
    if isinstance(outcome, ImageError):
        return Rejection(index, outcome.code, outcome.detail)
    if not outcome:
        return Rejection(index, "no_face", "no face was found in the photo")
    judged = [(face, pipeline.quality_issues(face)) for face in outcome]
    usable = [face for face, issues in judged if not issues]
    if len(usable) > 1 and not largest_only:
        return Rejection(
            index,
            "multiple_faces",
            f"the photo holds {len(usable)} usable faces; send one face per photo or use "
            "face=largest",
        )
    if usable and (not largest_only or usable[0] is outcome[0]):
        return usable[0]
    issues = judged[0][1]  # why the largest face cannot be used
    return Rejection(
        index, "low_quality", "; ".join(reason for _, reason in issues), [c for c, _ in issues]
    )


def enroll_faces(
    *,
    session: Session,
    index: FaceIndex,
    pipeline: VisionPipeline,
    runner: InferenceRunner,
    collection_id: uuid.UUID,
    identity_id: uuid.UUID,
    images: list[bytes],
    largest_only: bool,
    min_face_size: int,
) -> EnrollResult:
    """Enroll one face per photo; photos that fail are listed in `rejected`.

    Raises FaceRejected (with every rejection) when no photo yields a usable face, and NotFound
    when the identity or its collection is gone, also when a delete wins a race with the enroll.
    """
    collection = require_collection(session=session, collection_id=collection_id)
    require_identity(session=session, collection_id=collection_id, identity_id=identity_id)
    require_compatible_model(collection, pipeline.model_id)
    # Photos already enrolled for the identity (or sent twice in this request) are refused before
    # any analysis, so a resumed import or a client retry costs no CPU.
    digests = [hashlib.sha256(data).hexdigest() for data in images]
    duplicates = _duplicates(digests, repo.known_hashes(session, identity_id=identity_id))
    fresh = [i for i in range(len(images)) if i not in duplicates]
    # From here on only ids are used: the rollback expires the rows read above, and reloading one
    # that a concurrent delete removed raised ObjectDeletedError (a 500, issue 11).
    release_connection(session)  # enroll may take a second per photo
    outcomes = runner.run_many(
        [
            partial(
                _analyze_one,
                pipeline,
                images[i],
                largest_only=largest_only,
                min_face_size=min_face_size,
            )
            for i in fresh
        ]
    )
    judged_by_index: dict[int, EmbeddedFace | Rejection] = {i: duplicates[i] for i in duplicates}
    for i, outcome in zip(fresh, outcomes, strict=True):
        judged_by_index[i] = _judge(i, outcome, pipeline, largest_only)
    for _ in range(_STORE_ATTEMPTS):
        rows, rejected = _store(
            session,
            collection_id=collection_id,
            identity_id=identity_id,
            model_id=pipeline.model_id,
            digests=digests,
            judged_by_index=judged_by_index,
        )
        if rows:
            index.catch_up(session)
            return EnrollResult(rows, rejected)
    # Each retry follows a concurrent writer that stored one of these photos; that many in a row
    # is not a race any more.
    raise Conflict("the identity's photos kept changing during the enroll; try again")


# A retry is needed only when a concurrent enroll stored one of this request's photos between
# our check and our insert; every retry turns at least one photo into a duplicate, so a request
# of many photos racing many others may need a few.
_STORE_ATTEMPTS = 5


def _store(
    session: Session,
    *,
    collection_id: uuid.UUID,
    identity_id: uuid.UUID,
    model_id: str,
    digests: list[str],
    judged_by_index: dict[int, EmbeddedFace | Rejection],
) -> tuple[list[FaceRow], list[Rejection]]:
    """Insert the accepted faces and commit; ([], _) when the insert lost a race and must be
    tried again. Raises FaceRejected when nothing is left to store, NotFound when the identity or
    its collection is gone."""
    # Enrolled by a concurrent request while we computed: still a duplicate.
    known = repo.known_hashes(session, identity_id=identity_id)
    accepted: list[tuple[EmbeddedFace, str]] = []
    rejected: list[Rejection] = []
    for i, digest in enumerate(digests):
        judged = judged_by_index[i]
        if not isinstance(judged, Rejection) and digest in known:
            judged = judged_by_index[i] = _duplicate(i)
        if isinstance(judged, Rejection):
            rejected.append(judged)
        else:
            accepted.append((judged, digest))
    # Re-read under this transaction: the identity may have been deleted while we computed.
    require_collection(session=session, collection_id=collection_id)
    identity = require_identity(
        session=session, collection_id=collection_id, identity_id=identity_id
    )
    if not accepted:
        first = rejected[0]
        raise FaceRejected(first.reason, code=first.code, rejected=[_rej(r) for r in rejected])
    try:
        rows = repo.add_faces(
            session,
            identity=identity,
            model_id=model_id,
            faces=[
                (face.template, box_json(face), quality_json(face), digest)
                for face, digest in accepted
            ],
        )
        session.commit()
    except IntegrityError:
        # Between the reads above and this insert another request committed: an enroll of one
        # of these photos (the unique index uq_faces_identity_photo), or a delete of the identity
        # or its collection (the foreign keys). Answer as if it had come first: the duplicates
        # are found by the next attempt's check, a delete as 404 here.
        session.rollback()
        require_collection(session=session, collection_id=collection_id)
        require_identity(session=session, collection_id=collection_id, identity_id=identity_id)
        return [], rejected
    return rows, rejected


def _duplicate(
    index: int, reason: str = "this photo is already enrolled for the identity"
) -> Rejection:
    return Rejection(index, "duplicate_image", reason)


def _duplicates(digests: list[str], known: set[str]) -> dict[int, Rejection]:
    """Photos whose bytes the identity already holds, or that repeat an earlier photo of the
    request, by position."""
    found: dict[int, Rejection] = {}
    first_at: dict[str, int] = {}
    for i, digest in enumerate(digests):
        if digest in known:
            found[i] = _duplicate(i)
        elif digest in first_at:
            found[i] = _duplicate(i, f"the same photo as image {first_at[digest]} of this request")
        else:
            first_at[digest] = i
    return found


def _rej(r: Rejection) -> dict[str, object]:
    return {"index": r.index, "code": r.code, "reason": r.reason, "issues": r.issues}


def list_faces(
    *,
    session: Session,
    collection_id: uuid.UUID,
    identity_id: uuid.UUID,
    limit: int,
    offset: int,
) -> tuple[list[FaceRow], int]:
    require_identity(session=session, collection_id=collection_id, identity_id=identity_id)
    return repo.list_faces(session, identity_id=identity_id, limit=limit, offset=offset)


def delete_face(
    *,
    session: Session,
    index: FaceIndex,
    collection_id: uuid.UUID,
    identity_id: uuid.UUID,
    face_id: int,
) -> None:
    require_identity(session=session, collection_id=collection_id, identity_id=identity_id)
    face = repo.get_face(session, identity_id=identity_id, face_id=face_id)
    if face is None:
        raise NotFound(f"face {face_id} not found for identity {identity_id}")
    repo.delete_face(session, face)
    session.commit()
    index.catch_up(session)

"""SQL reads and writes. Knows nothing of FAISS or HTTP; callers own the transaction (commit)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.db import vectors
from app.db.models import (
    ApiKey,
    AuditEvent,
    Collection,
    Face,
    FaceChange,
    Identity,
    ServiceInstance,
)
from app.db.template_codec import (
    TemplateKeyring,
    decode_template,
    encode_template,
    session_keyring,
)

# Any constant works; it only has to be the same for every writer of the change log.
_CHANGE_LOG_LOCK = 0x46414345  # "FACE"


@dataclass(frozen=True, slots=True)
class CollectionStats:
    collection: Collection
    identity_count: int
    face_count: int


@dataclass(frozen=True, slots=True)
class LoggedChange:
    """A change-log row joined with its template (None when the face is gone or deleted, or
    when it cannot be read: then `unreadable` says why)."""

    seq: int
    collection_id: uuid.UUID
    face_id: int
    op: str
    template: np.ndarray | None
    unreadable: str | None = None


@dataclass(frozen=True, slots=True)
class UnreadableTemplate:
    """A stored template this process cannot decode (a key it lacks, tampered or truncated bytes).
    One such row must not stop start-up or searches in other collections: it is skipped, named in
    the log and reported by /readyz."""

    face_id: int
    collection_id: uuid.UUID
    reason: str


def _decode(blob: bytes, model_id: str, keyring: TemplateKeyring | None) -> np.ndarray | str:
    """The template, or why it cannot be read."""
    try:
        return decode_template(blob, model_id=model_id, keyring=keyring)
    except ValueError as exc:  # TemplateKeyError, or bytes that are not float32s
        return str(exc)


@dataclass(frozen=True, slots=True)
class FaceOwner:
    face_id: int
    identity_id: uuid.UUID
    external_id: str | None
    display_name: str | None


# --- collections ----------------------------------------------------------------------------


def add_collection(session: Session, *, name: str, model_id: str) -> Collection:
    collection = Collection(id=uuid.uuid4(), name=name, model_id=model_id)
    session.add(collection)
    session.flush()
    return collection


def get_collection(session: Session, collection_id: uuid.UUID) -> Collection | None:
    return session.get(Collection, collection_id)


def collection_by_name(session: Session, name: str) -> Collection | None:
    return session.scalar(sa.select(Collection).where(Collection.name == name))


def collection_stats(session: Session, collections: Sequence[Collection]) -> list[CollectionStats]:
    """Counts for several collections in two grouped queries, not two per collection."""
    ids = [c.id for c in collections]
    if not ids:
        return []
    identity_counts = dict(
        session.execute(
            sa.select(Identity.collection_id, sa.func.count())
            .where(Identity.collection_id.in_(ids))
            .group_by(Identity.collection_id)
        ).all()
    )
    face_counts = dict(
        session.execute(
            sa.select(Face.collection_id, sa.func.count())
            .where(Face.collection_id.in_(ids))
            .group_by(Face.collection_id)
        ).all()
    )
    return [
        CollectionStats(c, identity_counts.get(c.id, 0), face_counts.get(c.id, 0))
        for c in collections
    ]


def _page(
    session: Session,
    query: sa.Select[Any],
    order: tuple[Any, ...],
    limit: int,
    offset: int,
) -> tuple[list[Any], int]:
    """One page of `query` in a stable order (ties broken by id), and the total it pages over."""
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
    return list(rows), total


def list_collections(
    session: Session, *, limit: int, offset: int, only_id: uuid.UUID | None = None
) -> tuple[list[Collection], int]:
    query = sa.select(Collection)
    if only_id is not None:
        query = query.where(Collection.id == only_id)
    return _page(session, query, (Collection.created_at, Collection.id), limit, offset)


def delete_collection(session: Session, collection: Collection) -> int:
    """Delete a collection with everything in it; logs a delete for each of its faces."""
    _lock_change_log(session)
    face_ids = session.scalars(sa.select(Face.id).where(Face.collection_id == collection.id)).all()
    _log_changes(session, collection.id, face_ids, "delete")
    # Explicit deletes rather than relying on ON DELETE CASCADE alone keep SQLite honest even on a
    # connection where foreign keys were not switched on.
    session.execute(sa.delete(Face).where(Face.collection_id == collection.id))
    session.execute(sa.delete(Identity).where(Identity.collection_id == collection.id))
    session.execute(sa.delete(ApiKey).where(ApiKey.collection_id == collection.id))
    session.delete(collection)
    session.flush()
    return len(face_ids)


# --- identities -----------------------------------------------------------------------------


def add_identity(
    session: Session,
    *,
    collection_id: uuid.UUID,
    external_id: str | None,
    display_name: str | None,
    metadata: dict[str, Any] | None,
) -> Identity:
    identity = Identity(
        id=uuid.uuid4(),
        collection_id=collection_id,
        external_id=external_id,
        display_name=display_name,
        meta=metadata,
    )
    session.add(identity)
    session.flush()
    return identity


def get_identity(
    session: Session, *, collection_id: uuid.UUID, identity_id: uuid.UUID
) -> Identity | None:
    return session.scalar(
        sa.select(Identity).where(
            Identity.id == identity_id, Identity.collection_id == collection_id
        )
    )


def identity_by_external_id(
    session: Session, *, collection_id: uuid.UUID, external_id: str
) -> Identity | None:
    return session.scalar(
        sa.select(Identity).where(
            Identity.collection_id == collection_id, Identity.external_id == external_id
        )
    )


def list_identities(
    session: Session,
    *,
    collection_id: uuid.UUID,
    limit: int,
    offset: int,
    external_id: str | None = None,
) -> tuple[list[Identity], int]:
    query = sa.select(Identity).where(Identity.collection_id == collection_id)
    if external_id is not None:
        query = query.where(Identity.external_id == external_id)
    return _page(session, query, (Identity.created_at, Identity.id), limit, offset)


def face_counts(session: Session, identity_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not identity_ids:
        return {}
    return dict(
        session.execute(
            sa.select(Face.identity_id, sa.func.count())
            .where(Face.identity_id.in_(identity_ids))
            .group_by(Face.identity_id)
        ).all()
    )


def delete_identity(session: Session, identity: Identity) -> int:
    """Delete an identity and its faces; logs a delete for each face."""
    _lock_change_log(session)
    face_ids = session.scalars(sa.select(Face.id).where(Face.identity_id == identity.id)).all()
    _log_changes(session, identity.collection_id, face_ids, "delete")
    session.execute(sa.delete(Face).where(Face.identity_id == identity.id))
    session.delete(identity)
    session.flush()
    return len(face_ids)


# --- faces ----------------------------------------------------------------------------------


def add_faces(
    session: Session,
    *,
    identity: Identity,
    model_id: str,
    faces: Sequence[tuple[np.ndarray, dict[str, Any], dict[str, Any], str]],
    external_image_id: str | None = None,
    unique_photo: bool = True,
) -> list[Face]:
    """Insert (template, box, quality, sha256) rows and their "add" changes in this transaction.

    `unique_photo`: the identity may hold each photo once (enroll); the unique index refuses a
    second face of the same photo with IntegrityError at flush. False for face-centred faces."""
    _lock_change_log(session)
    keyring = session_keyring(session)
    rows = [
        Face(
            identity_id=identity.id,
            collection_id=identity.collection_id,
            model_id=model_id,
            template=encode_template(template, model_id=model_id, keyring=keyring),
            box=box,
            quality=quality,
            content_sha256=sha256,
            external_image_id=external_image_id,
            unique_photo=unique_photo,
        )
        for template, box, quality, sha256 in faces
    ]
    session.add_all(rows)
    session.flush()
    _log_changes(session, identity.collection_id, [r.id for r in rows], "add")
    vectors.write_face_vectors(
        session, [(r.collection_id, r.id, face[0]) for r, face in zip(rows, faces, strict=True)]
    )
    return rows


def list_faces(
    session: Session, *, identity_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[Face], int]:
    query = sa.select(Face).where(Face.identity_id == identity_id)
    return _page(session, query, (Face.id,), limit, offset)


def collection_face_rows(
    session: Session,
    *,
    collection_id: uuid.UUID,
    identity_id: uuid.UUID | None,
    face_ids: Sequence[int] | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[Face, str | None]], int]:
    """Faces of a collection (optionally of one identity, or among ids) in id order, each with
    its identity's external id."""
    query = (
        sa.select(Face, Identity.external_id)
        .join(Identity, Identity.id == Face.identity_id)
        .where(Face.collection_id == collection_id)
    )
    if identity_id is not None:
        query = query.where(Face.identity_id == identity_id)
    if face_ids is not None:
        query = query.where(Face.id.in_([int(i) for i in face_ids]))
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(Face.id).limit(limit).offset(offset)).all()
    return [(face, external_id) for face, external_id in rows], total


def identity_faces(session: Session, *, identity_id: uuid.UUID) -> list[Face]:
    return list(session.scalars(sa.select(Face).where(Face.identity_id == identity_id)))


def face_templates(session: Session, *, face_ids: Sequence[int]) -> list[tuple[int, np.ndarray]]:
    if not face_ids:
        return []
    rows = session.execute(
        sa.select(Face.id, Face.template, Face.model_id).where(
            Face.id.in_([int(i) for i in face_ids])
        )
    ).all()
    keyring = session_keyring(session)
    return [(fid, decode_template(blob, model_id=mid, keyring=keyring)) for fid, blob, mid in rows]


def delete_identity_if_empty_holder(
    session: Session, identity_id: uuid.UUID, holder_metadata: dict[str, Any]
) -> None:
    """Drop an identity that only existed to hold one face, once it holds none."""
    identity = session.get(Identity, identity_id)
    if identity is None or identity.external_id is not None or identity.meta != holder_metadata:
        return
    if session.scalar(sa.select(sa.func.count()).where(Face.identity_id == identity_id)):
        return
    session.delete(identity)
    session.flush()


def list_named_identities(
    session: Session, *, collection_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[Identity], int]:
    """Identities with an external id (Rekognition's users), in a stable order."""
    query = sa.select(Identity).where(
        Identity.collection_id == collection_id, Identity.external_id.is_not(None)
    )
    return _page(session, query, (Identity.created_at, Identity.id), limit, offset)


def named_identity_counts(
    session: Session, collection_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not collection_ids:
        return {}
    return dict(
        session.execute(
            sa.select(Identity.collection_id, sa.func.count())
            .where(Identity.collection_id.in_(collection_ids), Identity.external_id.is_not(None))
            .group_by(Identity.collection_id)
        ).all()
    )


def get_face(session: Session, *, identity_id: uuid.UUID, face_id: int) -> Face | None:
    return session.scalar(
        sa.select(Face).where(Face.id == face_id, Face.identity_id == identity_id)
    )


def face_by_content(session: Session, *, identity_id: uuid.UUID, sha256: str) -> Face | None:
    return session.scalar(
        sa.select(Face)
        .where(Face.identity_id == identity_id, Face.content_sha256 == sha256)
        .order_by(Face.id)
        .limit(1)
    )


def known_hashes(session: Session, *, identity_id: uuid.UUID) -> set[str]:
    return set(
        session.scalars(sa.select(Face.content_sha256).where(Face.identity_id == identity_id))
    )


def delete_face(session: Session, face: Face) -> None:
    _lock_change_log(session)
    _log_changes(session, face.collection_id, [face.id], "delete")
    session.delete(face)
    session.flush()


def identity_templates(session: Session, *, identity_id: uuid.UUID) -> list[tuple[int, np.ndarray]]:
    rows = session.execute(
        sa.select(Face.id, Face.template, Face.model_id).where(Face.identity_id == identity_id)
    ).all()
    keyring = session_keyring(session)
    return [(fid, decode_template(blob, model_id=mid, keyring=keyring)) for fid, blob, mid in rows]


def face_owners(session: Session, face_ids: Iterable[int]) -> dict[int, FaceOwner]:
    """Which identity each face belongs to; faces no longer in SQL are simply absent."""
    ids = [int(i) for i in face_ids]
    if not ids:
        return {}
    rows = session.execute(
        sa.select(Face.id, Identity.id, Identity.external_id, Identity.display_name)
        .join(Identity, Identity.id == Face.identity_id)
        .where(Face.id.in_(ids))
    ).all()
    return {fid: FaceOwner(fid, iid, ext, name) for fid, iid, ext, name in rows}


def identity_names(
    session: Session, *, collection_id: uuid.UUID
) -> list[tuple[uuid.UUID, str | None]]:
    """(id, external_id) of every identity of a collection, oldest first."""
    rows = session.execute(
        sa.select(Identity.id, Identity.external_id)
        .where(Identity.collection_id == collection_id)
        .order_by(Identity.created_at, Identity.id)
    ).all()
    return [(iid, ext) for iid, ext in rows]


def list_collection_faces(
    session: Session,
    *,
    collection_id: uuid.UUID,
    identity_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[FaceOwner], int]:
    """Faces of a collection (of one identity when given) with their owners, by face id."""
    query = (
        sa.select(Face.id, Identity.id, Identity.external_id, Identity.display_name)
        .join(Identity, Identity.id == Face.identity_id)
        .where(Face.collection_id == collection_id)
    )
    if identity_id is not None:
        query = query.where(Face.identity_id == identity_id)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(Face.id).limit(limit).offset(offset)).all()
    return [FaceOwner(fid, iid, ext, name) for fid, iid, ext, name in rows], total


def collection_face(session: Session, *, collection_id: uuid.UUID, face_id: int) -> Face | None:
    return session.scalar(
        sa.select(Face).where(Face.id == face_id, Face.collection_id == collection_id)
    )


def face_template(session: Session, face: Face) -> np.ndarray:
    return decode_template(face.template, model_id=face.model_id, keyring=session_keyring(session))


def delete_faces_of(
    session: Session, *, collection_id: uuid.UUID, identity_ids: Sequence[uuid.UUID]
) -> int:
    """Delete every face of the given identities (the identities stay); logs each delete.
    Row by row through the ORM, so the audit trail records each face."""
    if not identity_ids:
        return 0
    faces = session.scalars(
        sa.select(Face).where(
            Face.collection_id == collection_id, Face.identity_id.in_(identity_ids)
        )
    ).all()
    if faces:
        _lock_change_log(session)
        _log_changes(session, collection_id, [f.id for f in faces], "delete")
        for face in faces:
            session.delete(face)
        session.flush()
    return len(faces)


def move_faces(session: Session, *, source: Identity, target: Identity) -> list[int]:
    """Give every face of `source` to `target` (same collection); a photo `target` already holds
    (same content hash) is deleted instead, so no identity holds one photo twice. Templates and
    face ids stay, so the index needs no change except for those deletes. Returns the moved ids."""
    held = known_hashes(session, identity_id=target.id)
    faces = session.scalars(sa.select(Face).where(Face.identity_id == source.id)).all()
    repeats = [f for f in faces if f.content_sha256 in held]
    if repeats:
        _lock_change_log(session)
        _log_changes(session, source.collection_id, [f.id for f in repeats], "delete")
        for face in repeats:
            session.delete(face)
    moved = [f for f in faces if f.content_sha256 not in held]
    for face in moved:
        face.identity_id = target.id
    session.flush()
    return [f.id for f in moved]


# --- change log and index rebuild -----------------------------------------------------------


def _lock_change_log(session: Session) -> None:
    """Serialise change-log writers on PostgreSQL so seq order equals commit order.

    Without it a reader could see seq 6 committed before seq 5 and skip 5 forever. SQLite already
    allows one writer at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_CHANGE_LOG_LOCK)))


def _log_changes(
    session: Session, collection_id: uuid.UUID, face_ids: Sequence[int], op: str
) -> None:
    if face_ids:
        session.add_all(
            FaceChange(collection_id=collection_id, face_id=int(fid), op=op) for fid in face_ids
        )
        session.flush()


def database_instance_id(session: Session) -> uuid.UUID | None:
    return session.scalar(sa.select(ServiceInstance.id).limit(1))


def last_change_seq(session: Session) -> int:
    return session.scalar(sa.select(sa.func.max(FaceChange.seq))) or 0


_CHANGE_COLUMNS = (FaceChange.seq, FaceChange.collection_id, FaceChange.face_id, FaceChange.op)

# How many change-log rows up to a snapshot's seq its history digest covers. The row at the seq
# alone would do (created_at differs between histories); a few more make a coincidence hopeless.
_HISTORY_ROWS = 16


def change_log_digest(session: Session, seq: int) -> str:
    """SHA-256 of the last change-log rows at or below `seq` (seq, collection, face, op, time).

    Two databases that share this digest share the history the rows describe; after a restore,
    rows reusing the same seqs and face ids still differ in collection, face or time."""
    rows = session.execute(
        sa.select(*_CHANGE_COLUMNS, FaceChange.created_at)
        .where(FaceChange.seq <= seq)
        .order_by(FaceChange.seq.desc())
        .limit(_HISTORY_ROWS)
    ).all()
    digest = hashlib.sha256()
    for s, cid, fid, op, created_at in rows:
        # Timezone dropped: SQLite returns naive UTC datetimes, PostgreSQL aware ones.
        when = created_at.replace(tzinfo=None).isoformat() if created_at else ""
        digest.update(f"{s}|{cid}|{fid}|{op}|{when}\n".encode())
    return digest.hexdigest()


def changes_after(session: Session, seq: int) -> list[LoggedChange]:
    """Every change with a higher seq, with the template of faces still present (one query)."""
    rows = session.execute(
        sa.select(*_CHANGE_COLUMNS, Face.template, Face.model_id)
        .outerjoin(Face, Face.id == FaceChange.face_id)
        .where(FaceChange.seq > seq)
        .order_by(FaceChange.seq)
    ).all()
    keyring = session_keyring(session)
    changes = []
    for s, cid, fid, op, blob, mid in rows:
        template = _decode(blob, mid, keyring) if op == "add" and blob is not None else None
        unreadable = template if isinstance(template, str) else None
        vector = None if isinstance(template, str) else template
        changes.append(LoggedChange(s, cid, fid, op, vector, unreadable))
    return changes


def begin_bulk_snapshot_read(session: Session) -> None:
    """Start a transaction for one consistent, possibly long read of every template.

    On PostgreSQL: REPEATABLE READ, so every statement sees one snapshot, and no statement
    timeout, since the request-sized one would kill the one big read of a large gallery (a
    million templates is ~0.5 GB). SQLite's transactions are serializable already."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        session.execute(sa.text("SET LOCAL statement_timeout = 0"))


def all_templates(
    session: Session,
) -> tuple[
    dict[uuid.UUID, tuple[np.ndarray, np.ndarray]], list[uuid.UUID], list[UnreadableTemplate]
]:
    """Every face of every collection in one query: {collection_id: (ids, vectors)}, the ids of
    all collections (empty ones included), and the templates that could not be read."""
    keyring = session_keyring(session)
    collection_ids = list(session.scalars(sa.select(Collection.id)))
    grouped: dict[uuid.UUID, tuple[list[int], list[np.ndarray]]] = {}
    unreadable: list[UnreadableTemplate] = []
    for fid, cid, blob, mid in session.execute(
        sa.select(Face.id, Face.collection_id, Face.template, Face.model_id).order_by(
            Face.collection_id, Face.id
        )
    ):
        template = _decode(blob, mid, keyring)
        if isinstance(template, str):
            unreadable.append(UnreadableTemplate(fid, cid, template))
            continue
        ids, vecs = grouped.setdefault(cid, ([], []))
        ids.append(fid)
        vecs.append(template)
    result = {
        cid: (np.asarray(ids, dtype=np.int64), np.vstack(vecs).astype(np.float32))
        for cid, (ids, vecs) in grouped.items()
    }
    return result, collection_ids, unreadable


def stored_templates_after(
    session: Session, *, after_id: int, limit: int
) -> list[tuple[int, bytes, str]]:
    """(face id, template bytes as stored (sealed or plain), model id) of the next `limit` faces
    after `after_id`, in id order: what a key rotation re-encodes."""
    rows = session.execute(
        sa.select(Face.id, Face.template, Face.model_id)
        .where(Face.id > after_id)
        .order_by(Face.id)
        .limit(limit)
    )
    return [(fid, blob, mid) for fid, blob, mid in rows]


def replace_stored_template(session: Session, *, face_id: int, expected: bytes, new: bytes) -> bool:
    """Compare-and-set: write `new` only if the row still holds `expected`, so a face deleted or
    rewritten meanwhile is never resurrected or clobbered. True when the row was updated."""
    result = session.execute(
        sa.update(Face).where(Face.id == face_id, Face.template == expected).values(template=new)
    )
    return cast("sa.CursorResult[Any]", result).rowcount == 1


# --- API keys -------------------------------------------------------------------------------


def add_api_key(
    session: Session,
    *,
    prefix: str,
    key_hash: str,
    role: str,
    collection_id: uuid.UUID | None,
    name: str | None,
    kind: str = "api_key",
    access_key_id: str | None = None,
    secret_box: bytes | None = None,
) -> ApiKey:
    key = ApiKey(
        id=uuid.uuid4(),
        prefix=prefix,
        key_hash=key_hash,
        role=role,
        collection_id=collection_id,
        name=name,
        kind=kind,
        access_key_id=access_key_id,
        secret_box=secret_box,
    )
    session.add(key)
    session.flush()
    return key


def api_key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.scalar(sa.select(ApiKey).where(ApiKey.prefix == prefix))


def api_key_by_access_key_id(session: Session, access_key_id: str) -> ApiKey | None:
    return session.scalar(sa.select(ApiKey).where(ApiKey.access_key_id == access_key_id))


def sealed_sigv4_keys(session: Session) -> list[ApiKey]:
    return list(
        session.scalars(
            sa.select(ApiKey).where(ApiKey.kind == "sigv4", ApiKey.secret_box.is_not(None))
        )
    )


def get_api_key(session: Session, key_id: uuid.UUID) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def list_api_keys(
    session: Session, *, limit: int, offset: int, collection_id: uuid.UUID | None = None
) -> tuple[list[ApiKey], int]:
    query = sa.select(ApiKey)
    if collection_id is not None:
        query = query.where(ApiKey.collection_id == collection_id)
    return _page(session, query, (ApiKey.created_at, ApiKey.id), limit, offset)


def live_key_count(session: Session, collection_id: uuid.UUID) -> int:
    """Keys of the collection that are not revoked."""
    return (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(ApiKey)
            .where(ApiKey.collection_id == collection_id, ApiKey.revoked_at.is_(None))
        )
        or 0
    )


def touch_api_key(session: Session, key_id: uuid.UUID, when: datetime) -> None:
    session.execute(sa.update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when))


# --- audit trail ------------------------------------------------------------------------------


def list_audit_events(
    session: Session,
    *,
    limit: int,
    before_id: int | None = None,
    collection_id: uuid.UUID | None = None,
    collection_ids: Sequence[uuid.UUID] | None = None,
    actor: str | None = None,
    action: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[AuditEvent]:
    """Newest first, every filter optional; `collection_ids` limits to those collections."""
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    if collection_id is not None:
        query = query.where(AuditEvent.collection_id == collection_id)
    if collection_ids is not None:
        query = query.where(AuditEvent.collection_id.in_(list(collection_ids)))
    if actor is not None:
        query = query.where(AuditEvent.key_id == actor)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if until is not None:
        query = query.where(AuditEvent.created_at < until)
    return list(session.scalars(query))


def ping(engine: Engine) -> None:
    """One round trip to the database; raises the driver's error when it does not answer."""
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))

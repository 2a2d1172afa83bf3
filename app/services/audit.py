"""The audit trail: who did what to which ids, and when — and never any biometric data.

An event is added to the caller's session, so it commits (or rolls back) with the change it
describes: an acknowledged write always has its audit row, a failed one never does. `details`
is checked to hold only ids, names and counts — strings, integers, booleans — so a template, an
image or a list of floats cannot end up in the trail by mistake.

`track_writes(sessions)` records every change to collections, identities, faces and keys from the
ORM flush itself, so no use case can forget to audit; the actor is whatever the request's
authentication put in `session.info[ACTOR_KEY]`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Literal, get_args

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from app.db import repositories as repo
from app.db.models import (
    ApiKey,
    AuditEvent,
    Base,
    Collection,
    Face,
    FaceChange,
    Identity,
    ServiceInstance,
)

ACTOR_KEY = "audit_actor"  # Session.info entry naming who is calling (a key id, or "admin")

# The vocabulary, so callers and the admin endpoint's filter agree on spelling: the type checker
# holds every constant to `Action`, and the endpoint's enum is `ACTIONS`, read from it.
Action = Literal[
    "collection.create",
    "collection.delete",
    "identity.create",
    "identity.update",
    "identity.delete",
    "face.enroll",
    "face.delete",
    "face.move",
    "key.create",
    "key.revoke",
    "templates.rotate_key",
    "identify",
    "verify",
]
ACTIONS: tuple[str, ...] = get_args(Action)
COLLECTION_CREATE: Action = "collection.create"
COLLECTION_DELETE: Action = "collection.delete"
IDENTITY_CREATE: Action = "identity.create"
IDENTITY_UPDATE: Action = "identity.update"
IDENTITY_DELETE: Action = "identity.delete"
FACE_ENROLL: Action = "face.enroll"
FACE_DELETE: Action = "face.delete"
FACE_MOVE: Action = "face.move"  # a face moved to another identity (Rekognition's AssociateFaces)
KEY_CREATE: Action = "key.create"
KEY_REVOKE: Action = "key.revoke"
TEMPLATES_ROTATE_KEY: Action = "templates.rotate_key"
IDENTIFY: Action = "identify"
VERIFY: Action = "verify"

# Every mapped entity is either audited by the flush hook below, with the actions its writes
# produce, or listed as not audited with the reason; tests/services/test_audit_complete.py fails
# on an entity in neither, and checks that each write below really leaves its row.
AUDITED: dict[type[Base], tuple[Action, ...]] = {
    Collection: (COLLECTION_CREATE, COLLECTION_DELETE),
    Identity: (IDENTITY_CREATE, IDENTITY_UPDATE, IDENTITY_DELETE),
    Face: (FACE_ENROLL, FACE_DELETE),
    ApiKey: (KEY_CREATE, KEY_REVOKE),
}
NOT_AUDITED: dict[type[Base], str] = {
    AuditEvent: "the trail itself",
    FaceChange: "the index change log, written in the same transaction as the audited face",
    ServiceInstance: "the database's own random id, written once by a migration",
}

_MAX_TEXT = 256
_MAX_LIST = 1000
Scalar = str | int | bool | None
Detail = Scalar | list[Scalar]


def _checked_details(details: Mapping[str, object] | None) -> dict[str, Detail] | None:
    """Ids, names and counts only: anything else is a programming error, refused loudly."""
    if not details:
        return None
    clean: dict[str, Detail] = {}
    for name, value in details.items():
        if isinstance(value, (list, tuple)):
            if len(value) > _MAX_LIST:
                raise ValueError(f"audit detail {name!r} lists more than {_MAX_LIST} items")
            clean[name] = [_checked_scalar(name, item) for item in value]
        else:
            clean[name] = _checked_scalar(name, value)
    return clean


def _checked_scalar(name: str, value: object) -> Scalar:
    if isinstance(value, uuid.UUID):
        return str(value)
    # bool is an int; float is refused on purpose: vectors and scores are made of floats.
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        if len(value) > _MAX_TEXT:
            raise ValueError(f"audit detail {name!r} is longer than {_MAX_TEXT} characters")
        return value
    raise ValueError(
        f"audit detail {name!r} is a {type(value).__name__}; only ids, names and counts are kept"
    )


def record(
    session: Session,
    *,
    actor: str | None,
    action: Action,
    collection_id: uuid.UUID | None = None,
    target_type: str | None = None,
    target_id: uuid.UUID | int | str | None = None,
    details: Mapping[str, object] | None = None,
) -> AuditEvent:
    """Add one event to `session`; it is written when the caller commits its change."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(
        key_id=actor,
        action=action,
        collection_id=collection_id,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details=_checked_details(details),
    )
    session.add(event)
    return event


# Reading the trail has no rule beyond its filters (newest first; page with `before_id` = the
# last id of the previous page; `collection_ids` limits a tenant-scoped reader), so the use case is
# the repository query itself.
list_events = repo.list_audit_events


# --- recording from the ORM flush ---------------------------------------------------------------

_PENDING = "audit_pending"
_DELETED_FACES = "audit_deleted_faces"


def _collect(session: Session, _context: object) -> None:
    """after_flush: ids now exist and new/dirty/deleted still describe what was flushed."""
    actor = session.info.get(ACTOR_KEY)
    pending: list[AuditEvent] = session.info.setdefault(_PENDING, [])
    # The change log may be flushed before the identity or collection row it belongs to, so the
    # deleted face ids are gathered over the whole transaction.
    seen: set[int] = session.info.setdefault(_DELETED_FACES, set())
    seen.update(
        change.face_id
        for change in session.new
        if isinstance(change, FaceChange) and change.op == "delete"
    )
    deleted_faces = sorted(seen)
    enrolled: dict[uuid.UUID, list[int]] = {}

    def add(action: str, **fields: object) -> None:
        event = AuditEvent(key_id=actor, action=action)
        for name, value in fields.items():
            setattr(event, name, value)
        pending.append(event)

    for obj in session.new:
        if isinstance(obj, Collection):
            add(COLLECTION_CREATE, collection_id=obj.id, target_type="collection",
                target_id=str(obj.id))  # fmt: skip
        elif isinstance(obj, Identity):
            add(IDENTITY_CREATE, collection_id=obj.collection_id, target_type="identity",
                target_id=str(obj.id))  # fmt: skip
        elif isinstance(obj, Face):
            enrolled.setdefault(obj.identity_id, []).append(obj.id)
        elif isinstance(obj, ApiKey):
            add(KEY_CREATE, collection_id=obj.collection_id, target_type="key",
                target_id=str(obj.id), details={"role": obj.role})  # fmt: skip
    for identity_id, face_ids in enrolled.items():
        first = next(o for o in session.new if isinstance(o, Face) and o.id == face_ids[0])
        add(FACE_ENROLL, collection_id=first.collection_id, target_type="identity",
            target_id=str(identity_id), details={"face_ids": sorted(face_ids)})  # fmt: skip
    for obj in session.dirty:
        if not session.is_modified(obj, include_collections=False):
            continue
        if isinstance(obj, Identity):
            changed = sorted(
                attr.key for attr in sa.inspect(obj).attrs if attr.history.has_changes()
            )
            add(IDENTITY_UPDATE, collection_id=obj.collection_id, target_type="identity",
                target_id=str(obj.id), details={"fields": changed})  # fmt: skip
        elif isinstance(obj, Face) and sa.inspect(obj).attrs.identity_id.history.has_changes():
            before = sa.inspect(obj).attrs.identity_id.history.deleted
            add(FACE_MOVE, collection_id=obj.collection_id, target_type="face",
                target_id=str(obj.id), details={"identity_id": str(obj.identity_id),
                "from_identity_id": str(before[0]) if before else None})  # fmt: skip
        elif isinstance(obj, ApiKey) and sa.inspect(obj).attrs.revoked_at.history.added:
            add(KEY_REVOKE, collection_id=obj.collection_id, target_type="key",
                target_id=str(obj.id))  # fmt: skip
    for obj in session.deleted:
        if isinstance(obj, Collection):
            add(COLLECTION_DELETE, collection_id=obj.id, target_type="collection",
                target_id=str(obj.id), details={"face_ids": deleted_faces})  # fmt: skip
        elif isinstance(obj, Identity):
            add(IDENTITY_DELETE, collection_id=obj.collection_id, target_type="identity",
                target_id=str(obj.id), details={"face_ids": deleted_faces})  # fmt: skip
        elif isinstance(obj, Face):
            add(FACE_DELETE, collection_id=obj.collection_id, target_type="face",
                target_id=str(obj.id), details={"identity_id": str(obj.identity_id)})  # fmt: skip


def _write(session: Session, _context: object) -> None:
    """after_flush_postexec: the events join the same transaction in the flush's next round."""
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.add_all(pending)


def _discard(session: Session, *_: object) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_DELETED_FACES, None)


def track_writes(sessions: sessionmaker[Session]) -> None:
    """Record an audit event for every write made through sessions from this factory."""
    sa.event.listen(sessions, "after_flush", _collect)
    sa.event.listen(sessions, "after_flush_postexec", _write)
    sa.event.listen(sessions, "after_commit", _discard)
    sa.event.listen(sessions, "after_rollback", _discard)

"""The audit trail: who did what to which ids, and when — and never any biometric data.

An event is added to the caller's session, so it commits (or rolls back) with the change it
describes: an acknowledged write always has its audit row, a failed one never does. `details`
is checked to hold only ids, names and counts — strings, integers, booleans — so a template, an
image or a list of floats cannot end up in the trail by mistake.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.models import AuditEvent

# The vocabulary, so callers and the admin endpoint's filter agree on spelling.
COLLECTION_CREATE = "collection.create"
COLLECTION_DELETE = "collection.delete"
IDENTITY_CREATE = "identity.create"
IDENTITY_UPDATE = "identity.update"
IDENTITY_DELETE = "identity.delete"
FACE_ENROLL = "face.enroll"
FACE_DELETE = "face.delete"
KEY_CREATE = "key.create"
KEY_REVOKE = "key.revoke"
TEMPLATES_ROTATE_KEY = "templates.rotate_key"
IDENTIFY = "identify"
VERIFY = "verify"
ACTIONS: tuple[str, ...] = (
    COLLECTION_CREATE,
    COLLECTION_DELETE,
    IDENTITY_CREATE,
    IDENTITY_UPDATE,
    IDENTITY_DELETE,
    FACE_ENROLL,
    FACE_DELETE,
    KEY_CREATE,
    KEY_REVOKE,
    TEMPLATES_ROTATE_KEY,
    IDENTIFY,
    VERIFY,
)

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
        return value  # type: ignore[return-value]
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
    action: str,
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


def list_events(
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
    """Newest first; page with `before_id` = the last id of the previous page.

    `collection_ids` restricts the result to those collections (a tenant-scoped reader).
    """
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

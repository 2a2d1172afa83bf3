"""API keys: creation (shown once), hashing, constant-time authentication, revocation, scopes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.models import ApiKey
from app.services.collections import require_collection
from app.services.errors import Forbidden, NotFound

ROLES: tuple[str, ...] = ("identify", "enroll", "admin")  # each role includes the ones before it
KEY_PREFIX = "fm"
# Writing last_used_at on every call would turn every search into a write; a minute is precise
# enough to tell which keys are still in use.
_TOUCH_EVERY = timedelta(seconds=60)
# Compared against when no stored key has the presented prefix, so a miss costs the same time.
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the configured admin key (key_id None) or a stored key."""

    key_id: uuid.UUID | None
    role: str
    collection_id: uuid.UUID | None  # None: every collection

    @property
    def name(self) -> str:
        return str(self.key_id) if self.key_id else "admin"

    def has_role(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def require_role(self, role: str) -> None:
        if not self.has_role(role):
            raise Forbidden(f"this key has role {self.role!r}; {role!r} is needed")

    def can_see(self, collection_id: uuid.UUID) -> bool:
        return self.collection_id is None or self.collection_id == collection_id

    def require_collection(self, collection_id: uuid.UUID) -> None:
        """Another tenant's collection is reported as missing, so its existence does not leak."""
        if not self.can_see(collection_id):
            raise NotFound(f"collection {collection_id} not found")


def hash_key(key: str) -> str:
    # Keys are 256-bit random strings, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(key.encode()).hexdigest()


def _split(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def new_key_material() -> tuple[str, str]:
    """(plaintext key, lookup prefix)."""
    prefix = secrets.token_hex(6)
    return f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def create_key(
    *,
    session: Session,
    role: str,
    collection_id: uuid.UUID | None,
    name: str | None,
    scope: uuid.UUID | None = None,
) -> tuple[ApiKey, str]:
    """A new key; `scope` is the creating key's collection (None: an admin of every collection),
    which may only create keys for that collection."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if scope is not None:
        if collection_id is None:
            raise Forbidden("a collection-scoped key can only create keys for its collection")
        if collection_id != scope:
            # Another tenant's collection is reported as missing, so its existence does not leak.
            raise NotFound(f"collection {collection_id} not found")
    if collection_id is not None:
        require_collection(session=session, collection_id=collection_id)
    key, prefix = new_key_material()
    row = repo.add_api_key(
        session,
        prefix=prefix,
        key_hash=hash_key(key),
        role=role,
        collection_id=collection_id,
        name=name,
    )
    session.commit()
    return row, key


def authenticate(*, session: Session, presented: str, admin_key: str | None) -> Caller | None:
    """The caller a key belongs to, or None. Every comparison is constant-time."""
    if admin_key and hmac.compare_digest(presented.encode(), admin_key.encode()):
        return Caller(key_id=None, role="admin", collection_id=None)
    prefix = _split(presented)
    row = repo.api_key_by_prefix(session, prefix) if prefix else None
    stored = row.key_hash if row is not None else _DUMMY_HASH
    if not hmac.compare_digest(hash_key(presented), stored) or row is None:
        return None
    if row.revoked_at is not None:
        return None
    now = datetime.now(UTC)
    last = row.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    if last is None or now - last > _TOUCH_EVERY:
        repo.touch_api_key(session, row.id, now)
        session.commit()
    return Caller(key_id=row.id, role=row.role, collection_id=row.collection_id)


def list_keys(
    *, session: Session, limit: int, offset: int, collection_id: uuid.UUID | None
) -> tuple[list[ApiKey], int]:
    return repo.list_api_keys(session, limit=limit, offset=offset, collection_id=collection_id)


def revoke_key(*, session: Session, key_id: uuid.UUID, scope: uuid.UUID | None) -> ApiKey:
    """Mark a key revoked; a collection-scoped admin may only revoke its collection's keys."""
    row = repo.get_api_key(session, key_id)
    if row is None or (scope is not None and row.collection_id != scope):
        raise NotFound(f"key {key_id} not found")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.commit()
    return row

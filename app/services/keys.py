"""API keys: creation (shown once), hashing, constant-time authentication, revocation, scopes.

Two kinds: `api_key` (the `X-API-Key` secret, stored only as a hash) and `sigv4` (an AWS-style
access key id and secret for the Rekognition door). A SigV4 server must recompute the client's
HMAC, so it needs the secret itself: `SigV4Secrets` seals it under the at-rest key when one is
configured, and otherwise derives it from the admin key (nothing secret is stored then).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.models import ApiKey
from app.db.template_codec import TemplateKeyError, TemplateKeyring, key_id_of
from app.services.collections import require_collection
from app.services.errors import Conflict, Forbidden, NotFound
from app.settings import Settings

log = logging.getLogger(__name__)

ROLES: tuple[str, ...] = ("identify", "enroll", "admin")  # each role includes the ones before it
KINDS: tuple[str, ...] = ("api_key", "sigv4")
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
    max_per_collection: int | None = None,
) -> tuple[ApiKey, str]:
    """A new key; `scope` is the creating key's collection (None: an admin of every collection),
    which may only create keys for that collection."""
    _check_new_key(
        session, role=role, collection_id=collection_id, scope=scope, cap=max_per_collection
    )
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


def _check_new_key(
    session: Session,
    *,
    role: str,
    collection_id: uuid.UUID | None,
    scope: uuid.UUID | None,
    cap: int | None,
) -> None:
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
        # Rate limits are per key: without a cap, minting keys multiplies a tenant's budget.
        live = repo.live_key_count(session, collection_id)
        if cap is not None and live >= cap:
            raise Conflict(
                f"the collection already has {live} keys (the limit is {cap}); revoke one first"
            )


def authenticate(*, session: Session, presented: str, admin_key: str | None) -> Caller | None:
    """The caller a key belongs to, or None. Every comparison is constant-time."""
    if admin_key and hmac.compare_digest(presented.encode(), admin_key.encode()):
        return Caller(key_id=None, role="admin", collection_id=None)
    prefix = _split(presented)
    row = repo.api_key_by_prefix(session, prefix) if prefix else None
    stored = row.key_hash if row is not None else _DUMMY_HASH
    if not hmac.compare_digest(hash_key(presented), stored) or row is None:
        return None
    if row.revoked_at is not None or row.kind != "api_key":
        return None
    return _caller_of(session, row)


def _caller_of(session: Session, row: ApiKey) -> Caller:
    """The caller a live key row stands for; notes when it was last used."""
    now = datetime.now(UTC)
    last = row.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    if last is None or now - last > _TOUCH_EVERY:
        repo.touch_api_key(session, row.id, now)
        session.commit()
    return Caller(key_id=row.id, role=row.role, collection_id=row.collection_id)


# --- SigV4 access keys ------------------------------------------------------------------------

# AWS access key ids are 20 upper-case characters; ours start with FMAK so a log reader can tell
# them from real AWS keys (AKIA...) at a glance.
ACCESS_KEY_PREFIX = "FMAK"
_DERIVATION_LABEL = b"facematch sigv4 secret v1\0"


@dataclass(frozen=True, slots=True)
class SigV4Secrets:
    """Where SigV4 secrets come from (SECURITY.md, "SigV4 secrets").

    - With an at-rest key (`FACEMATCH_TEMPLATE_KEY`): a random 256-bit secret, AES-GCM sealed in
      `api_keys.secret_box` with the access key id as associated data (a sealed secret cannot be
      moved to another key's row). Retired keys still open it, as for templates.
    - Otherwise: HMAC-SHA256(admin key, label || access key id); nothing secret is stored, and a
      database reader without the admin key cannot compute it. Rotating the admin key changes
      these secrets, which is why the at-rest key is preferred when configured.
    - Neither configured: SigV4 keys cannot be made (refused with a clear message).
    """

    keyring: TemplateKeyring | None
    admin_key: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> SigV4Secrets:
        admin = settings.admin_api_key
        return cls(
            keyring=TemplateKeyring.from_settings(settings),
            admin_key=admin.get_secret_value() if admin is not None else None,
        )

    def _derived(self, access_key_id: str) -> str | None:
        if not self.admin_key:
            return None
        digest = hmac.new(
            self.admin_key.encode(), _DERIVATION_LABEL + access_key_id.encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def new_secret(self, access_key_id: str) -> tuple[str, bytes | None]:
        """(secret, what to store in `secret_box`)."""
        if self.keyring is not None and self.keyring.encrypts:
            secret = secrets.token_urlsafe(32)
            return secret, self.keyring.seal(secret.encode(), model_id=_bound(access_key_id))
        derived = self._derived(access_key_id)
        if derived is None:
            raise Conflict(
                "SigV4 keys need FACEMATCH_TEMPLATE_KEY (secrets sealed at rest) or "
                "FACEMATCH_ADMIN_API_KEY (secrets derived from it); neither is configured"
            )
        return derived, None

    def recover(self, access_key_id: str, box: bytes | None) -> str | None:
        if box is None:
            return self._derived(access_key_id)
        if self.keyring is None:
            log.error("SigV4 key %s is sealed but no at-rest key is configured", access_key_id)
            return None
        try:
            return self.keyring.open(box, model_id=_bound(access_key_id)).decode()
        except TemplateKeyError as exc:
            log.error("SigV4 key %s cannot be opened: %s", access_key_id, exc)
            return None


def reseal_sigv4_secrets(*, session: Session, keyring: TemplateKeyring) -> int:
    """Re-seal every sealed SigV4 secret under the keyring's active key (part of
    `facematch rotate-key`); returns how many were rewritten. Without an active key the sealed
    secrets stay under their old key: a derived secret would be a different secret, so switching
    encryption off keeps the retired key listed until those access keys are replaced."""
    if not keyring.encrypts:
        return 0
    rewritten = 0
    for row in repo.sealed_sigv4_keys(session):
        assert row.secret_box is not None and row.access_key_id is not None
        if key_id_of(row.secret_box) == keyring.active_id:
            continue
        bound = _bound(row.access_key_id)
        row.secret_box = keyring.seal(keyring.open(row.secret_box, model_id=bound), model_id=bound)
        rewritten += 1
    session.commit()
    return rewritten


def _bound(access_key_id: str) -> str:
    # The sealing call names its associated data `model_id` (it was written for templates); a
    # distinct prefix keeps a secret's blob from ever opening as a template, and vice versa.
    return f"sigv4-secret:{access_key_id}"


def new_access_key_id() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return ACCESS_KEY_PREFIX + "".join(secrets.choice(alphabet) for _ in range(16))


def create_sigv4_key(
    *,
    session: Session,
    role: str,
    collection_id: uuid.UUID | None,
    name: str | None,
    sigv4: SigV4Secrets,
    scope: uuid.UUID | None = None,
    max_per_collection: int | None = None,
) -> tuple[ApiKey, str]:
    """A SigV4 key: (row with `access_key_id`, secret access key shown once); `scope` as for
    `create_key`."""
    _check_new_key(
        session, role=role, collection_id=collection_id, scope=scope, cap=max_per_collection
    )
    access_key_id = new_access_key_id()
    secret, box = sigv4.new_secret(access_key_id)
    row = repo.add_api_key(
        session,
        prefix=secrets.token_hex(6),
        # Never used to authenticate (authenticate() refuses sigv4 rows); kept non-null and
        # unguessable so the column's meaning does not change.
        key_hash=hash_key(secret),
        role=role,
        collection_id=collection_id,
        name=name,
        kind="sigv4",
        access_key_id=access_key_id,
        secret_box=box,
    )
    session.commit()
    return row, secret


@dataclass(frozen=True, slots=True)
class SigV4Key:
    """A live SigV4 key and its secret, for the door to recompute the signature with."""

    row: ApiKey
    secret: str

    def caller(self, session: Session) -> Caller:
        return _caller_of(session, self.row)


def sigv4_key(*, session: Session, access_key_id: str, sigv4: SigV4Secrets) -> SigV4Key | None:
    """The live key with this access key id and its secret; None when unknown or revoked."""
    row = repo.api_key_by_access_key_id(session, access_key_id)
    if row is None or row.revoked_at is not None or row.kind != "sigv4":
        return None
    secret = sigv4.recover(access_key_id, row.secret_box)
    return SigV4Key(row, secret) if secret is not None else None


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

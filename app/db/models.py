"""ORM tables. The schema itself is created only by the Alembic migrations in alembic/versions/."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Constraint names must be deterministic so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only autoincrements an INTEGER PRIMARY KEY (the rowid); PostgreSQL gets a real bigint.
BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class Collection(Base):
    __tablename__ = "collections"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    model_id: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (sa.UniqueConstraint("collection_id", "external_id"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    collection_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str | None] = mapped_column(sa.String(200))
    display_name: Mapped[str | None] = mapped_column(sa.String(200))
    # "metadata" is reserved by declarative classes, hence the attribute name.
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", sa.JSON)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    collection: Mapped[Collection] = relationship()


class Face(Base):
    """One enrolled template. `id` is also the FAISS label of the template."""

    __tablename__ = "faces"
    __table_args__ = (
        # An identity holds a photo enrolled one face per photo (/v1, DeepStack, CompreFace) once,
        # even when concurrent enrolls of it race (migration 0006). Partial: face-centred faces
        # (Rekognition) may share a photo within one identity.
        sa.Index(
            "uq_faces_identity_photo",
            "identity_id",
            "content_sha256",
            unique=True,
            sqlite_where=sa.text("unique_photo"),
            postgresql_where=sa.text("unique_photo"),
        ),
        # Ids are never reused, even on SQLite: they are the index labels (migration 0003).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    identity_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )
    collection_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    model_id: Mapped[str] = mapped_column(sa.String(100))
    template: Mapped[bytes] = mapped_column(sa.LargeBinary)
    box: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    quality: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    # Rekognition's IndexFaces label; kept on the face so it survives AssociateFaces.
    external_image_id: Mapped[str | None] = mapped_column(sa.String(255))
    # True for a face enrolled as its photo's one face of the identity (/v1, DeepStack,
    # CompreFace): the identity holds that photo at most once. False for face-centred faces
    # (Rekognition's IndexFaces, and faces AssociateFaces/DisassociateFaces moved): one user may
    # legitimately hold several faces of one photo (the photo indexed twice, or two faces of a
    # group photo associated with one user), so the rule cannot cover them.
    unique_photo: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class FaceChange(Base):
    """Append-only log of face inserts and deletes; the index replays it (seq > last_seq).

    No foreign keys: the log must outlive the rows it describes.
    """

    __tablename__ = "face_changes"
    __table_args__ = ({"sqlite_autoincrement": True},)

    seq: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    collection_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    face_id: Mapped[int] = mapped_column(sa.BigInteger)
    op: Mapped[str] = mapped_column(sa.String(8))  # "add" | "delete"
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    """A scoped key. `kind` "api_key": an `X-API-Key` secret stored only as a hash, `prefix` finds
    the row without scanning hashes. `kind` "sigv4": an AWS-style access key id and a secret the
    server must recompute HMACs with, so it is sealed in `secret_box` (or derived; SECURITY.md)."""

    __tablename__ = "api_keys"
    __table_args__ = (sa.Index("ix_api_keys_access_key_id", "access_key_id", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    role: Mapped[str] = mapped_column(sa.String(16))  # identify | enroll | admin
    collection_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(sa.String(16), default="api_key", server_default="api_key")
    access_key_id: Mapped[str | None] = mapped_column(sa.String(32))
    secret_box: Mapped[bytes | None] = mapped_column(sa.LargeBinary)


class AuditEvent(Base):
    """Who did what to which ids, and when. Never biometric data (no templates, no images)."""

    __tablename__ = "audit_events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, index=True
    )
    key_id: Mapped[str | None] = mapped_column(sa.String(64))  # api_keys.id, or "admin"
    action: Mapped[str] = mapped_column(sa.String(64))
    collection_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, index=True)
    target_type: Mapped[str | None] = mapped_column(sa.String(32))
    target_id: Mapped[str | None] = mapped_column(sa.String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)


class ServiceInstance(Base):
    """One row with a random id made when the database was created (guards index snapshots)."""

    __tablename__ = "service_instance"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

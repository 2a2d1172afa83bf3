"""An identity holds each photo enrolled through /v1, DeepStack or CompreFace once (issue 11).

Enroll checked the identity's photos (`content_sha256`) before analysing and again before
inserting, but concurrent enrolls of one photo all passed both checks before any had committed,
and stored it several times. The rule now lives in SQL: a unique index on (identity_id,
content_sha256).

A plain unique index would be wrong for Rekognition's face-centred faces: IndexFaces stores each
face of a photo as a face of its own (in a holder identity), and AssociateFaces may then move
several faces of one photo into one user (the photo indexed twice, or two faces of a group photo),
which Rekognition allows. No column tells such faces apart (a photo indexed twice gives identical
rows but for the id), so the index is partial: it covers faces with `unique_photo` true, the faces
enrolled one per photo. Existing faces are classified by what each path stores: Rekognition's
boxes carry `image_width` (app/services/collection_faces.py), enroll's never do.

Before the index is built, duplicates already stored are removed: for each (identity, photo) the
oldest face stays, every later one is deleted with a "delete" row in the change log, so every
replica's index and any snapshot drop it on catch-up; its pgvector row goes with it (ON DELETE
CASCADE on face_vectors).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 11:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_faces_identity_photo"
# app/db/repositories.py: writers of the change log take this lock on PostgreSQL so seq order is
# commit order; the duplicates' delete rows are change-log writes like any other.
_CHANGE_LOG_LOCK = 0x46414345

faces = sa.table(
    "faces",
    sa.column("id", sa.BigInteger),
    sa.column("identity_id", sa.Uuid),
    sa.column("collection_id", sa.Uuid),
    sa.column("content_sha256", sa.String),
    sa.column("unique_photo", sa.Boolean),
)
face_changes = sa.table(
    "face_changes",
    sa.column("collection_id", sa.Uuid),
    sa.column("face_id", sa.BigInteger),
    sa.column("op", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.add_column(
        "faces",
        sa.Column("unique_photo", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    # Enroll's boxes are {x, y, width, height}; Rekognition's add the image size.
    enrolled = (
        "json_extract(box, '$.image_width') IS NULL"
        if dialect == "sqlite"
        else "(box ->> 'image_width') IS NULL"
    )
    op.execute(sa.text(f"UPDATE faces SET unique_photo = true WHERE {enrolled}"))

    if dialect == "postgresql":
        bind.execute(sa.select(sa.func.pg_advisory_xact_lock(_CHANGE_LOG_LOCK)))
    older = sa.alias(faces, "older")
    duplicates = bind.execute(
        sa.select(faces.c.id, faces.c.collection_id)
        .where(
            faces.c.unique_photo.is_(True),
            sa.exists().where(
                older.c.identity_id == faces.c.identity_id,
                older.c.content_sha256 == faces.c.content_sha256,
                older.c.unique_photo.is_(True),
                older.c.id < faces.c.id,
            ),
        )
        .order_by(faces.c.id)
    ).all()
    if duplicates:
        now = datetime.now(UTC)
        bind.execute(
            face_changes.insert(),
            [
                {"collection_id": cid, "face_id": fid, "op": "delete", "created_at": now}
                for fid, cid in duplicates
            ],
        )
        ids = [fid for fid, _ in duplicates]
        for start in range(0, len(ids), 500):
            bind.execute(faces.delete().where(faces.c.id.in_(ids[start : start + 500])))

    op.create_index(
        INDEX,
        "faces",
        ["identity_id", "content_sha256"],
        unique=True,
        sqlite_where=sa.text("unique_photo"),
        postgresql_where=sa.text("unique_photo"),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="faces")
    # Recreating faces on SQLite must keep AUTOINCREMENT (migration 0003).
    with op.batch_alter_table("faces", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("unique_photo")

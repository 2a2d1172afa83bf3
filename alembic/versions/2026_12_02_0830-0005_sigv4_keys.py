"""SigV4 credentials for the Rekognition door, and a per-face ExternalImageId.

`api_keys.kind` tells an `X-API-Key` secret (stored as a hash, as before) from a SigV4 access key,
whose secret the server must be able to recompute HMACs with: `secret_box` holds it AES-GCM sealed
under the at-rest key when one is configured, NULL when it is derived from the admin key (see
SECURITY.md). `faces.external_image_id` keeps the label Rekognition's IndexFaces attaches to a face;
it survives the face moving between identities (AssociateFaces), which an identity column would not.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 08:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "api_keys",
        sa.Column("kind", sa.String(16), nullable=False, server_default="api_key"),
    )
    op.add_column("api_keys", sa.Column("access_key_id", sa.String(32), nullable=True))
    op.add_column("api_keys", sa.Column("secret_box", sa.LargeBinary(), nullable=True))
    # An index rather than a constraint: SQLite cannot add a constraint to an existing table.
    op.create_index(
        "ix_api_keys_access_key_id", "api_keys", ["access_key_id"], unique=True
    )
    op.add_column("faces", sa.Column("external_image_id", sa.String(255), nullable=True))


def downgrade() -> None:
    # Recreating faces on SQLite must keep AUTOINCREMENT (migration 0003).
    with op.batch_alter_table("faces", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("external_image_id")
    op.drop_index("ix_api_keys_access_key_id", table_name="api_keys")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("secret_box")
        batch.drop_column("access_key_id")
        batch.drop_column("kind")

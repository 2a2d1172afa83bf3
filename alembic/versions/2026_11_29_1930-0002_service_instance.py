"""A random id per database, so an index snapshot is never loaded into another database.

Face ids restart at 1 in a recreated database; a snapshot taken from the old one would map those
ids to other people's templates. The snapshot tag includes this id.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 19:30:00
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "service_instance",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_service_instance"),
    )
    op.bulk_insert(table, [{"id": uuid.uuid4(), "created_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("service_instance")

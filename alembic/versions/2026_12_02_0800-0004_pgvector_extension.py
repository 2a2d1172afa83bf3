"""PostgreSQL: install the pgvector extension where the server has it and the role may.

The `pgvector` index backend (FACEMATCH_INDEX_BACKEND=pgvector) needs the `vector` type. Installing
it here, where migrations run with the schema owner's rights, spares a separate superuser step on
servers that allow it. Where the server has no pgvector, or the role may not create extensions,
nothing happens: the FAISS backend does not need it, and the pgvector backend refuses to start
with an error saying which of the two is missing (app/db/vectors.py). The backend's own tables
(a partition per collection) are made at run time, like FAISS snapshots: they are index storage.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.scalar(
        sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
    )
    if not available:
        return
    try:
        with bind.begin_nested():  # a refusal must not abort the migration's transaction
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
    except sa.exc.DBAPIError:
        return  # no privilege: the pgvector backend says so at start-up


def downgrade() -> None:
    # The extension may serve other tables in this database: leave it.
    pass

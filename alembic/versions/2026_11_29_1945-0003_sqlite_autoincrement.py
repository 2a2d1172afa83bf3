"""SQLite: never reuse a face id, change seq or audit id (AUTOINCREMENT).

Without AUTOINCREMENT SQLite hands out max(rowid) + 1, so deleting the newest face and enrolling
another gives the new face the old id. Face ids are the index labels: a worker that has not yet
replayed the delete would map the new person's id to the old person's vector. PostgreSQL
sequences never go back, so this is a no-op there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 19:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("faces", "face_changes", "audit_events")


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        # Copying the rows with their ids sets sqlite_sequence to the highest id in use.
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)

"""The schema exists only through Alembic, and the migrations match the ORM models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db.migrate import upgrade_to_head
from app.db.models import Base

TABLES = {"collections", "identities", "faces", "face_changes", "api_keys", "audit_events"}


def test_upgrade_creates_every_table(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = sa.create_engine(database_url)
    try:
        assert set(sa.inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_migrations_match_the_orm_models(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    upgrade_to_head(database_url)
    upgrade_to_head(database_url)

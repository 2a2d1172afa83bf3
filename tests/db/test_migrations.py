"""The schema exists only through Alembic, and the migrations match the ORM models."""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db import repositories as repo
from app.db.engine import create_db_engine, session_factory
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


def test_a_deleted_newest_face_id_is_never_reused(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = create_db_engine(database_url)
    try:
        with session_factory(engine)() as session:
            collection = repo.add_collection(session, name="c", model_id="m")
            identity = repo.add_identity(
                session,
                collection_id=collection.id,
                external_id=None,
                display_name=None,
                metadata=None,
            )
            vec = np.ones(128, np.float32) / np.sqrt(128)
            (first,) = repo.add_faces(session, identity=identity, model_id="m",
                                      faces=[(vec, {}, {}, "a")])  # fmt: skip
            session.commit()
            first_id = first.id
            repo.delete_face(session, first)
            session.commit()
            (second,) = repo.add_faces(session, identity=identity, model_id="m",
                                       faces=[(vec, {}, {}, "b")])  # fmt: skip
            session.commit()
            assert second.id > first_id
    finally:
        engine.dispose()

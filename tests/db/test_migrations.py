"""The schema exists only through Alembic, and the migrations match the ORM models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from alembic import command
from app.db import repositories as repo
from app.db import vectors
from app.db.engine import create_db_engine, session_factory
from app.db.migrate import alembic_config, upgrade_to_head
from app.db.models import Base, Collection, Identity

# The faces table as migration 0005 left it (the ORM model has columns added since).
FACES_AT_0005 = sa.table(
    "faces",
    *(
        sa.column(c.name, c.type)
        for c in Base.metadata.tables["faces"].c
        if c.name != "unique_photo"
    ),
)

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


def _face_row(
    fid: int, identity: uuid.UUID, collection: uuid.UUID, sha: str, box: dict[str, float]
) -> dict[str, object]:
    return {
        "id": fid,
        "identity_id": identity,
        "collection_id": collection,
        "model_id": "m",
        "template": np.ones(128, np.float32).tobytes(),
        "box": box,
        "quality": {},
        "content_sha256": sha,
        "created_at": datetime.now(UTC),
    }


def test_0006_removes_duplicate_photos_of_an_identity_and_then_refuses_them(
    database_url: str,
) -> None:
    """Duplicates stored by racing enrolls before 0006: the oldest face of each (identity, photo)
    stays, the others go with a logged delete (and their pgvector rows); Rekognition's
    face-centred faces of one photo in one user stay; afterwards SQL refuses a duplicate."""
    command.upgrade(alembic_config(database_url), "0005")
    engine = create_db_engine(database_url)
    collection, alice, bob = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    enrolled = {"x": 1.0, "y": 1.0, "width": 50.0, "height": 50.0}
    indexed = enrolled | {"image_width": 250, "image_height": 250}
    pgvector = _pgvector_available(engine)
    try:
        with engine.begin() as connection:
            connection.execute(
                Collection.__table__.insert(),
                [{"id": collection, "name": "c", "model_id": "m", "created_at": datetime.now(UTC)}],
            )
            connection.execute(
                Identity.__table__.insert(),
                [
                    {"id": i, "collection_id": collection, "external_id": name,
                     "created_at": datetime.now(UTC)}
                    for i, name in ((alice, "alice"), (bob, "bob"))
                ],
            )  # fmt: skip
            connection.execute(
                FACES_AT_0005.insert(),
                [
                    _face_row(1, alice, collection, "a" * 64, enrolled),
                    _face_row(2, alice, collection, "a" * 64, enrolled),  # racing duplicate
                    _face_row(3, alice, collection, "a" * 64, enrolled),  # and another
                    _face_row(4, alice, collection, "b" * 64, enrolled),
                    _face_row(5, bob, collection, "a" * 64, enrolled),  # another identity
                    _face_row(6, bob, collection, "c" * 64, indexed),  # Rekognition: one photo,
                    _face_row(7, bob, collection, "c" * 64, indexed),  # two faces, one user
                ],
            )
            if pgvector:
                vectors.ensure_table(connection, 128)
                vectors.create_partition(connection, collection, vectors.HnswParams())
                vectors.insert_vectors(
                    connection,
                    [(collection, fid, np.ones(128, np.float32)) for fid in range(1, 8)],
                )
        upgrade_to_head(database_url)
        with engine.connect() as connection:
            kept = connection.execute(
                sa.text("SELECT id, unique_photo FROM faces ORDER BY id")
            ).all()
            assert [(fid, bool(flag)) for fid, flag in kept] == [
                (1, True), (4, True), (5, True), (6, False), (7, False)
            ]  # fmt: skip
            logged = connection.execute(
                sa.text("SELECT face_id, op FROM face_changes ORDER BY seq")
            ).all()
            assert [tuple(r) for r in logged] == [(2, "delete"), (3, "delete")]
            if pgvector:
                left = connection.execute(sa.text("SELECT face_id FROM face_vectors ORDER BY 1"))
                assert [r[0] for r in left] == [1, 4, 5, 6, 7]
        with session_factory(engine)() as session:
            identity = session.get(Identity, alice)
            assert identity is not None
            vec = np.ones(128, np.float32) / np.sqrt(128)
            with pytest.raises(IntegrityError):
                repo.add_faces(session, identity=identity, model_id="m",
                               faces=[(vec, {}, {}, "b" * 64)])  # fmt: skip
            session.rollback()
            # Face-centred faces are outside the rule.
            repo.add_faces(session, identity=identity, model_id="m",
                           faces=[(vec, {}, {}, "b" * 64)], unique_photo=False)  # fmt: skip
            session.commit()
    finally:
        engine.dispose()


def _pgvector_available(engine: sa.Engine) -> bool:
    if engine.dialect.name != "postgresql":
        return False
    with engine.begin() as connection:
        installed, _ = vectors.extension_status(connection)
        return installed

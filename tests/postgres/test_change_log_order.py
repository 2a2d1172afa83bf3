"""Concurrent writers on PostgreSQL: a reader catching up while they commit misses no change.

Sequence numbers are handed out before commit; without the change-log lock a reader could see
seq N+1 committed before N, advance past N and never apply it. Two readers stand in for two
service workers sharing one database.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.db import repositories as repo
from app.db.engine import create_db_engine, session_factory
from app.db.migrate import upgrade_to_head
from app.db.models import Identity
from app.index.registry import IndexRegistry
from app.services.index_sync import IndexSync
from tests.db.fresh import fresh_database

pytestmark = pytest.mark.postgres

DIM = 128
WRITERS = 4
FACES_PER_WRITER = 15


@pytest.fixture
def engine(postgres_url: str, tmp_path: Path) -> Iterator[Engine]:
    with fresh_database("postgres", tmp_dir=tmp_path, postgres_url=postgres_url) as url:
        upgrade_to_head(url)
        engine = create_db_engine(url)
        yield engine
        engine.dispose()


def _writer(sessions: sessionmaker[Session], identity_id: uuid.UUID, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for i in range(FACES_PER_WRITER):
        with sessions() as session:
            identity = session.get(Identity, identity_id)
            v = rng.standard_normal(DIM).astype(np.float32)
            repo.add_faces(
                session,
                identity=identity,  # type: ignore[arg-type]
                model_id="m",
                faces=[(v / np.linalg.norm(v), {}, {}, f"{seed}-{i}")],
            )
            session.commit()


def test_readers_catching_up_during_concurrent_writes_see_every_face(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions() as session:
        collection = repo.add_collection(session, name="c", model_id="m")
        identity = repo.add_identity(
            session,
            collection_id=collection.id,
            external_id=None,
            display_name=None,
            metadata=None,
        )
        session.commit()
        cid, iid = collection.id, identity.id
    readers = [IndexSync(IndexRegistry(DIM)) for _ in range(2)]
    for reader in readers:
        with sessions() as session:
            reader.rebuild(session)
    writers = [
        threading.Thread(target=_writer, args=(sessions, iid, seed)) for seed in range(WRITERS)
    ]
    done = threading.Event()

    def follow(reader: IndexSync) -> None:
        while not done.is_set():
            with sessions() as session:
                reader.catch_up(session)

    followers = [threading.Thread(target=follow, args=(r,)) for r in readers]
    for t in writers + followers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    for t in followers:
        t.join()
    with sessions() as session:
        in_sql = {fid for fid, _ in repo.identity_templates(session, identity_id=iid)}
        for reader in readers:
            reader.catch_up(session)
    assert len(in_sql) == WRITERS * FACES_PER_WRITER
    for reader in readers:
        index = reader.registry.get(str(cid))
        _, ids = index.search(np.ones((1, DIM), np.float32) / np.sqrt(DIM), len(index))
        assert {int(i) for i in ids[0] if i >= 0} == in_sql

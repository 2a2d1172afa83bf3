"""The index follows SQL: rebuilt from it, caught up from the change log, never ahead of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.engine import create_db_engine, session_factory
from app.db.migrate import upgrade_to_head
from app.index.registry import IndexRegistry
from app.services.index_sync import IndexSync
from tests.db.fresh import fresh_database

DIM = 128
MODEL = "test-model"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    pg = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with fresh_database(request.param, tmp_dir=tmp_path, postgres_url=pg) as url:
        upgrade_to_head(url)
        engine = create_db_engine(url)
        with session_factory(engine)() as s:
            yield s
        engine.dispose()


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _person(session: Session, name: str = "p") -> tuple[uuid.UUID, object]:
    collection = repo.add_collection(session, name=f"c-{uuid.uuid4().hex}", model_id=MODEL)
    identity = repo.add_identity(
        session, collection_id=collection.id, external_id=name, display_name=None, metadata=None
    )
    session.commit()
    return collection.id, identity


def _add(session: Session, identity: object, *seeds: int) -> list[int]:
    rows = repo.add_faces(
        session,
        identity=identity,  # type: ignore[arg-type]
        model_id=MODEL,
        faces=[(_unit(s), {}, {}, f"sha{s}") for s in seeds],
    )
    session.commit()
    return [r.id for r in rows]


def _ids_found(sync: IndexSync, cid: uuid.UUID, seed: int) -> set[int]:
    index = sync.registry.get(str(cid))
    if len(index) == 0:
        return set()
    _, ids = index.search(_unit(seed)[None, :], len(index))
    return {int(i) for i in ids[0] if i >= 0}


def test_rebuild_loads_every_committed_face(session: Session) -> None:
    cid, person = _person(session)
    ids = _add(session, person, 1, 2, 3)
    sync = IndexSync(IndexRegistry(DIM))
    assert sync.rebuild(session) == 3
    assert _ids_found(sync, cid, 1) == set(ids)
    assert sync.registry.last_seq == repo.last_change_seq(session)


def test_catch_up_applies_adds_and_deletes_from_the_log(session: Session) -> None:
    cid, person = _person(session)
    sync = IndexSync(IndexRegistry(DIM))
    sync.rebuild(session)
    first, second = _add(session, person, 1, 2)
    assert sync.catch_up(session) == 2
    face = repo.get_face(session, identity_id=person.id, face_id=first)  # type: ignore[attr-defined]
    assert face is not None
    repo.delete_face(session, face)
    session.commit()
    sync.catch_up(session)
    assert _ids_found(sync, cid, 2) == {second}


def test_uncommitted_faces_never_reach_the_index(session: Session) -> None:
    cid, person = _person(session)
    sync = IndexSync(IndexRegistry(DIM))
    sync.rebuild(session)
    repo.add_faces(session, identity=person, model_id=MODEL, faces=[(_unit(5), {}, {}, "x")])  # type: ignore[arg-type]
    session.rollback()
    sync.catch_up(session)
    assert _ids_found(sync, cid, 5) == set()


def test_deleting_an_identity_logs_a_delete_per_face(session: Session) -> None:
    cid, person = _person(session)
    _add(session, person, 1, 2, 3)
    sync = IndexSync(IndexRegistry(DIM))
    sync.rebuild(session)
    repo.delete_identity(session, person)  # type: ignore[arg-type]
    session.commit()
    sync.catch_up(session)
    assert _ids_found(sync, cid, 1) == set()


def test_add_then_delete_before_catch_up_leaves_nothing(session: Session) -> None:
    cid, person = _person(session)
    sync = IndexSync(IndexRegistry(DIM))
    sync.rebuild(session)
    (face_id,) = _add(session, person, 7)
    repo.delete_face(session, repo.get_face(session, identity_id=person.id, face_id=face_id))  # type: ignore[arg-type, attr-defined]
    session.commit()
    sync.catch_up(session)
    assert _ids_found(sync, cid, 7) == set()


def test_snapshot_start_then_replays_later_changes(session: Session, tmp_path: Path) -> None:
    cid, person = _person(session)
    early = _add(session, person, 1)
    first = IndexSync(IndexRegistry(DIM))
    assert first.start(session, snapshot_dir=None, model_id=MODEL) == "rebuild"
    first.save_snapshot(session, snapshot_dir=tmp_path / "snap", model_id=MODEL)
    late = _add(session, person, 2)
    second = IndexSync(IndexRegistry(DIM))
    assert second.start(session, snapshot_dir=tmp_path / "snap", model_id=MODEL) == "snapshot"
    assert _ids_found(second, cid, 1) == set(early + late)


def test_snapshot_of_another_model_is_not_loaded(session: Session, tmp_path: Path) -> None:
    _, person = _person(session)
    _add(session, person, 1)
    first = IndexSync(IndexRegistry(DIM))
    first.rebuild(session)
    first.save_snapshot(session, snapshot_dir=tmp_path / "snap", model_id="other-model")
    second = IndexSync(IndexRegistry(DIM))
    assert second.start(session, snapshot_dir=tmp_path / "snap", model_id=MODEL) == "rebuild"


def test_a_search_racing_a_collection_delete_leaves_no_ghost_index(session: Session) -> None:
    cid, person = _person(session)
    _add(session, person, 1)
    sync = IndexSync(IndexRegistry(DIM))
    sync.rebuild(session)
    sync.drop(str(cid))  # the delete won the race: the search below was already past its checks
    sims, ids = sync.search(session, str(cid), np.ones((1, DIM), dtype=np.float32), 3)
    assert (ids == -1).all() and np.isneginf(sims).all()
    assert str(cid) not in sync.face_counts()  # nothing re-created in memory or in /metrics

"""Audit writes come from one flush hook; these tests keep it complete. A new mapped entity must be
declared audited (with the actions its writes produce) or not audited (with why), and every
declared action must really be written when the entity is created, changed or deleted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.engine import create_db_engine, session_factory
from app.db.migrate import upgrade_to_head
from app.db.models import Base
from app.services import audit


def test_every_mapped_entity_is_declared_audited_or_not() -> None:
    mapped = {mapper.class_ for mapper in Base.registry.mappers}
    declared = set(audit.AUDITED) | set(audit.NOT_AUDITED)
    assert mapped - declared == set(), "declare it in services.audit.AUDITED or NOT_AUDITED"
    assert set(audit.AUDITED) & set(audit.NOT_AUDITED) == set()


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade_to_head(url)
    engine = create_db_engine(url)
    sessions = session_factory(engine)
    audit.track_writes(sessions)
    try:
        with sessions() as db:
            db.info[audit.ACTOR_KEY] = "tester"
            yield db
    finally:
        engine.dispose()


def _actions(session: Session) -> set[str]:
    return {e.action for e in audit.list_events(session, limit=1000) if e.key_id == "tester"}


def test_every_write_of_every_audited_entity_leaves_its_row(session: Session) -> None:
    collection = repo.add_collection(session, name="c", model_id="m@1")
    session.commit()
    identity = repo.add_identity(
        session, collection_id=collection.id, external_id="e", display_name=None, metadata=None
    )
    session.commit()
    identity.display_name = "Someone"
    session.commit()
    vector = np.ones(128, np.float32) / np.sqrt(128)
    faces = repo.add_faces(
        session,
        identity=identity,
        model_id="m@1",
        # Two photos: one identity holds a photo once (migration 0006).
        faces=[(vector, {}, {}, digit * 64) for digit in "01"],
    )
    session.commit()
    repo.delete_face(session, faces[0])
    session.commit()
    key = repo.add_api_key(
        session,
        prefix="p" * 12,
        key_hash="h" * 64,
        role="identify",
        collection_id=collection.id,
        name=None,
    )
    session.commit()
    key.revoked_at = datetime.now(UTC)
    session.commit()
    repo.delete_identity(session, identity)
    session.commit()
    repo.delete_collection(session, collection)
    session.commit()

    expected = {action for actions in audit.AUDITED.values() for action in actions}
    assert _actions(session) == expected

"""The audit trail keeps who, what, when and which ids; it refuses what could be biometric."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from app.db.engine import create_db_engine, session_factory
from app.db.migrate import upgrade_to_head
from app.services import audit


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade_to_head(url)
    engine = create_db_engine(url)
    try:
        with session_factory(engine)() as db:
            yield db
    finally:
        engine.dispose()


def test_recorded_event_keeps_actor_action_ids_and_time(session: Session) -> None:
    cid, iid = uuid.uuid4(), uuid.uuid4()
    audit.record(
        session,
        actor="key-1",
        action=audit.IDENTITY_DELETE,
        collection_id=cid,
        target_type="identity",
        target_id=iid,
        details={"faces_removed": 3, "face_ids": [7, 8, 9]},
    )
    session.commit()
    [event] = audit.list_events(session, limit=10)
    assert (event.key_id, event.action, event.collection_id) == ("key-1", "identity.delete", cid)
    assert (event.target_type, event.target_id) == ("identity", str(iid))
    assert event.details == {"faces_removed": 3, "face_ids": [7, 8, 9]}
    assert event.created_at is not None


def test_event_is_discarded_with_a_rolled_back_change(session: Session) -> None:
    audit.record(session, actor="admin", action=audit.COLLECTION_CREATE)
    session.rollback()
    assert audit.list_events(session, limit=10) == []


def test_template_in_details_is_refused(session: Session) -> None:
    template = np.ones(128, dtype=np.float32)
    with pytest.raises(ValueError, match="only ids, names and counts"):
        audit.record(session, actor="admin", action=audit.FACE_ENROLL, details={"t": template})


def test_list_of_floats_in_details_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="float"):
        audit.record(session, actor="admin", action=audit.FACE_ENROLL, details={"v": [0.1, 0.2]})


def test_bytes_in_details_are_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="bytes"):
        audit.record(session, actor="admin", action=audit.FACE_ENROLL, details={"img": b"\xff"})


def test_unknown_action_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(session, actor="admin", action="face.peek")


def test_events_list_newest_first_and_page_with_before_id(session: Session) -> None:
    for n in range(5):
        audit.record(session, actor="admin", action=audit.FACE_DELETE, target_id=n)
    session.commit()
    first = audit.list_events(session, limit=3)
    rest = audit.list_events(session, limit=3, before_id=first[-1].id)
    assert [e.target_id for e in first + rest] == ["4", "3", "2", "1", "0"]


def test_events_filter_by_collection_actor_and_action(session: Session) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    audit.record(session, actor="k1", action=audit.FACE_ENROLL, collection_id=a)
    audit.record(session, actor="k2", action=audit.FACE_ENROLL, collection_id=b)
    audit.record(session, actor="k1", action=audit.FACE_DELETE, collection_id=b)
    session.commit()
    assert {e.key_id for e in audit.list_events(session, limit=10, collection_id=b)} == {"k1", "k2"}
    assert len(audit.list_events(session, limit=10, actor="k1")) == 2
    only = audit.list_events(session, limit=10, action=audit.FACE_DELETE, collection_ids=[b])
    assert [(e.key_id, e.collection_id) for e in only] == [("k1", b)]

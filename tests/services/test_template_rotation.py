"""Key rotation rewrites every template under the active key, losslessly and re-runnably."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.db.engine import create_db_engine
from app.db.migrate import upgrade_to_head
from app.db.models import AuditEvent, Collection, Face, Identity
from app.db.template_codec import (
    TemplateKeyError,
    TemplateKeyring,
    decode_template,
    encode_template,
)
from app.services.template_rotation import PLAIN, count_by_key, rotate_templates

MODEL = "dlib-resnet-v1@0123abcd"
OLD = TemplateKeyring({"old": bytes(32)}, "old")
NEW = TemplateKeyring({"old": bytes(32), "new": bytes(range(32))}, "new")
OFF = TemplateKeyring({"old": bytes(32), "new": bytes(range(32))}, None)


def _vectors(n: int) -> np.ndarray:
    vecs = np.random.default_rng(7).standard_normal((n, 128)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'rotation.db'}"
    upgrade_to_head(url)
    engine = create_db_engine(url)
    yield engine
    engine.dispose()


def _enroll(engine: Engine, vecs: np.ndarray, keyring: TemplateKeyring | None) -> None:
    with Session(engine) as session:
        collection = Collection(name=f"c-{uuid.uuid4()}", model_id=MODEL)
        identity = Identity(collection=collection, external_id="p")
        session.add_all([collection, identity])
        session.flush()
        for n, vec in enumerate(vecs):
            session.add(
                Face(
                    identity_id=identity.id,
                    collection_id=collection.id,
                    model_id=MODEL,
                    template=encode_template(vec, model_id=MODEL, keyring=keyring),
                    box={},
                    quality={},
                    content_sha256=f"{n:064x}",
                )
            )
        session.commit()


def _stored(engine: Engine, keyring: TemplateKeyring) -> np.ndarray:
    with Session(engine) as session:
        blobs = session.scalars(sa.select(Face.template).order_by(Face.id)).all()
    return np.stack([decode_template(b, model_id=MODEL, keyring=keyring) for b in blobs])


def test_rotation_moves_every_template_to_the_new_key(engine: Engine) -> None:
    vecs = _vectors(23)
    _enroll(engine, vecs, OLD)
    report = rotate_templates(engine, keyring=NEW, batch_size=5)
    assert (report.scanned, report.rewritten) == (23, 23)
    assert count_by_key(engine) == {"new": 23}
    np.testing.assert_array_equal(_stored(engine, NEW), vecs)


def test_rotation_run_twice_rewrites_nothing_the_second_time(engine: Engine) -> None:
    _enroll(engine, _vectors(4), OLD)
    rotate_templates(engine, keyring=NEW)
    assert rotate_templates(engine, keyring=NEW).rewritten == 0


def test_rotation_encrypts_plain_templates(engine: Engine) -> None:
    vecs = _vectors(3)
    _enroll(engine, vecs, None)
    rotate_templates(engine, keyring=NEW)
    assert count_by_key(engine) == {"new": 3}
    np.testing.assert_array_equal(_stored(engine, NEW), vecs)


def test_rotation_without_an_active_key_decrypts_everything(engine: Engine) -> None:
    vecs = _vectors(3)
    _enroll(engine, vecs, OLD)
    rotate_templates(engine, keyring=OFF)
    assert count_by_key(engine) == {PLAIN: 3}
    np.testing.assert_array_equal(_stored(engine, OFF), vecs)


def test_dry_run_writes_nothing(engine: Engine) -> None:
    _enroll(engine, _vectors(3), OLD)
    report = rotate_templates(engine, keyring=NEW, dry_run=True)
    assert report.before == {"old": 3}
    assert count_by_key(engine) == {"old": 3}


def test_rotation_stops_on_a_template_under_an_unknown_key(engine: Engine) -> None:
    _enroll(engine, _vectors(2), OLD)
    with pytest.raises(TemplateKeyError, match="unknown key 'old'"):
        rotate_templates(engine, keyring=TemplateKeyring({"other": bytes(16)}, "other"))


def test_rotation_leaves_an_audit_event_without_biometric_data(engine: Engine) -> None:
    _enroll(engine, _vectors(2), OLD)
    rotate_templates(engine, keyring=NEW, actor="ops")
    with Session(engine) as session:
        [event] = session.scalars(sa.select(AuditEvent)).all()
    assert (event.key_id, event.action) == ("ops", "templates.rotate_key")
    assert event.details is not None and event.details["rewritten"] == 2

"""Templates encrypted at rest through the real app: what lands in SQL is sealed, search still
works, a restart decrypts them, a rotation moves them to a new key, a lost key fails loudly."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db.engine import create_db_engine
from app.db.template_codec import TemplateKeyring, is_sealed, key_id_of
from app.main import create_app
from app.services.template_rotation import rotate_templates
from app.vision.pipeline import VisionPipeline
from tests.attack.service import attack_settings
from tests.helpers import ADMIN_KEY, add_identity, create_collection, enroll, photo

OLD_KEY = base64.b64encode(bytes(range(32))).decode()
NEW_KEY = base64.b64encode(bytes(range(100, 132))).decode()


def _client(pipeline: VisionPipeline, data_dir: Path, **keys: object) -> TestClient:
    app = create_app(attack_settings(data_dir, **keys), pipeline=pipeline)
    return TestClient(app, headers={"X-API-Key": ADMIN_KEY}, raise_server_exceptions=True)


def _stored_key_ids(data_dir: Path) -> set[str | None]:
    engine = create_db_engine(f"sqlite:///{data_dir / 'facematch.db'}")
    try:
        with engine.connect() as connection:
            blobs = connection.execute(sa.text("SELECT template FROM faces")).scalars().all()
    finally:
        engine.dispose()
    assert blobs
    assert all(is_sealed(b) for b in blobs) or all(not is_sealed(b) for b in blobs)
    return {key_id_of(b) for b in blobs}


def _match(client: TestClient, collection_id: str) -> str | None:
    response = client.post(
        f"/v1/collections/{collection_id}/identify",
        files={"image": ("p.jpg", photo("obama/obama2.jpg"), "image/jpeg")},
    )
    assert response.status_code == 200, response.text
    match = response.json()["faces"][0]["match"]
    return match["identity_id"] if match else None


@pytest.fixture
def enrolled(pipeline: VisionPipeline, tmp_path: Path) -> tuple[Path, str, str]:
    """A database whose one face was enrolled under key `old`."""
    with _client(pipeline, tmp_path, template_key=OLD_KEY, template_key_id="old") as client:
        collection_id = create_collection(client, "sealed")
        identity_id = add_identity(client, collection_id, external_id="obama")["id"]
        enroll(client, collection_id, identity_id, "obama/obama1.jpg")
    return tmp_path, collection_id, identity_id


def test_enrolled_template_is_stored_sealed_under_the_active_key(
    enrolled: tuple[Path, str, str],
) -> None:
    data_dir, _, _ = enrolled
    assert _stored_key_ids(data_dir) == {"old"}


def test_restart_with_the_key_finds_the_sealed_face(
    pipeline: VisionPipeline, enrolled: tuple[Path, str, str]
) -> None:
    data_dir, collection_id, identity_id = enrolled
    with _client(pipeline, data_dir, template_key=OLD_KEY, template_key_id="old") as client:
        assert _match(client, collection_id) == identity_id


def test_restart_without_the_key_serves_but_reports_the_unreadable_template(
    pipeline: VisionPipeline, enrolled: tuple[Path, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # One unreadable template used to stop start-up for every tenant without naming the row.
    data_dir, collection_id, _ = enrolled
    with _client(pipeline, data_dir) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["code"] == "not_ready"
        assert "unknown key 'old'" in ready.json()["detail"]
        assert _match(client, collection_id) is None  # left out of search, never a zero vector
    assert "cannot be read" in caplog.text


def test_rotation_moves_templates_and_the_service_reads_them_with_the_new_key(
    pipeline: VisionPipeline, enrolled: tuple[Path, str, str]
) -> None:
    data_dir, collection_id, identity_id = enrolled
    settings = attack_settings(
        data_dir,
        template_key=NEW_KEY,
        template_key_id="new",
        template_retired_keys=f"old:{OLD_KEY}",
    )
    engine = create_db_engine(settings.effective_database_url)
    try:
        report = rotate_templates(engine, keyring=TemplateKeyring.from_settings(settings))
    finally:
        engine.dispose()
    assert report.rewritten == 1
    assert _stored_key_ids(data_dir) == {"new"}
    with _client(pipeline, data_dir, template_key=NEW_KEY, template_key_id="new") as client:
        assert _match(client, collection_id) == identity_id

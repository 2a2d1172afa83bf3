"""The service under attack: the real app, real ONNX models, a fresh SQLite database per module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.vision.pipeline import VisionPipeline

ADMIN_KEY = "attack-admin-key-0123456789abcdef0123456789"
PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"


def photo(relative: str) -> bytes:
    return (PHOTOS / relative).read_bytes()


def attack_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a throwaway service: its own SQLite file, the admin key above, no rate limit."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": f"sqlite:///{data_dir / 'facematch.db'}",
        "admin_api_key": ADMIN_KEY,
        "rate_limit_per_minute": 0,
        "inference_workers": 1,
        "inference_threads": 1,
        "template_key": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def pipeline(models_dir: Path) -> VisionPipeline:
    # Loaded once: every app in this package shares the ONNX sessions (they are thread-safe).
    return VisionPipeline.load(models_dir, threads=1)


@pytest.fixture(scope="module")
def service(
    pipeline: VisionPipeline, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """An admin client of a fresh app; a 500 comes back as a response, so tests can assert on it."""
    settings = attack_settings(tmp_path_factory.mktemp("service"))
    app = create_app(settings, pipeline=pipeline)
    with TestClient(app, headers={"X-API-Key": ADMIN_KEY}, raise_server_exceptions=False) as client:
        yield client


def create_collection(client: TestClient, name: str) -> str:
    response = client.post("/v1/collections", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def create_identity(client: TestClient, collection_id: str, external_id: str) -> str:
    response = client.post(
        f"/v1/collections/{collection_id}/identities", json={"external_id": external_id}
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def enroll(client: TestClient, collection_id: str, identity_id: str, data: bytes) -> int:
    response = client.post(
        f"/v1/collections/{collection_id}/identities/{identity_id}/faces",
        files={"image": ("face.jpg", data, "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    return response.json()["faces"][0]["id"]


def assert_problem(response: Any, status: int, code: str) -> None:
    """An RFC 9457 problem with this status and code, whose body repeats the status."""
    assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body = response.json()
    assert body["code"] == code, body
    assert body["status"] == status, body
    assert isinstance(body.get("detail"), str), body


@contextmanager
def fresh_postgres_database(server_url: str, purpose: str) -> Iterator[str]:
    """A new, empty database on the shared server, dropped afterwards: parallel runs never meet."""
    name = f"facematch_attack_{purpose}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

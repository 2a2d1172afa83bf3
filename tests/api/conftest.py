"""The real app over HTTP (httpx via Starlette's TestClient), real models, real photos, on SQLite
and on PostgreSQL. The pipeline is loaded once per session; each backend gets one database and
one app for the session, and tests isolate themselves by creating their own collections."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.vision.pipeline import VisionPipeline
from tests.db.fresh import fresh_database, server_url
from tests.helpers import ADMIN, ADMIN_KEY, unique


@pytest.fixture(scope="session")
def pipeline(models_dir: Path) -> VisionPipeline:
    return VisionPipeline.load(models_dir)


@pytest.fixture(
    scope="session",
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        # PostgreSQL again, searched by pgvector instead of in-process FAISS.
        pytest.param("pgvector", marks=pytest.mark.pgvector),
    ],
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def backend_url(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    pg = server_url(request, backend)
    tmp = tmp_path_factory.mktemp(f"db-{backend}")
    with fresh_database(backend, tmp_dir=tmp, postgres_url=pg) as url:
        yield url


@pytest.fixture(scope="session")
def make_settings(
    backend: str, backend_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Settings]:
    data_dir = tmp_path_factory.mktemp("data")

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": data_dir,
            "database_url": backend_url,
            "admin_api_key": ADMIN_KEY,
            "inference_workers": 2,
            "index_backend": "pgvector" if backend == "pgvector" else "faiss",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture(scope="session")
def start_app(
    make_settings: Callable[..., Settings], pipeline: VisionPipeline
) -> Callable[..., TestClient]:
    """A TestClient for a new app instance (not started; use it as a context manager)."""

    def start(**overrides: object) -> TestClient:
        app = create_app(make_settings(**overrides), pipeline=pipeline, json_logs=False)
        return TestClient(app, raise_server_exceptions=False)

    return start


@pytest.fixture(scope="session")
def client(start_app: Callable[..., TestClient]) -> Iterator[TestClient]:
    with start_app() as c:
        yield c


@pytest.fixture
def collection(client: TestClient) -> dict[str, object]:
    response = client.post("/v1/collections", json={"name": unique("col")}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()

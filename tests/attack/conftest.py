"""The service under attack: the real app, real ONNX models, a fresh SQLite database per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.vision.pipeline import VisionPipeline
from tests.attack.service import attack_settings
from tests.helpers import ADMIN_KEY


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

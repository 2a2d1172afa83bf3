"""Vision fixtures: the real exported models, loaded once per test session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.vision.detector import MtcnnDetector
from app.vision.pipeline import VisionPipeline
from tests.helpers import PHOTOS


@pytest.fixture(scope="session")
def pipeline(models_dir: Path) -> VisionPipeline:
    return VisionPipeline.load(models_dir, threads=2)


@pytest.fixture(scope="session")
def detector(models_dir: Path) -> MtcnnDetector:
    manifest = json.loads((models_dir / "manifest.json").read_text())
    return MtcnnDetector.load(models_dir, manifest, threads=2)


@pytest.fixture(scope="session")
def photos() -> Path:
    return PHOTOS

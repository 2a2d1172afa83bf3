"""MTCNN's weights without facenet-pytorch installed: `pip install -e '.[export]'` is enough.

facenet-pytorch 2.6.0's own pins (torch<2.3, numpy<2, Pillow<10.3) rule it out of any extra, so
when it is absent the exporter has pip fetch its wheel (no dependencies, pinned sha256) and reads
the state dicts out of it. These tests hide the installed copy and use a fresh cache; pip's own
cache makes the download local after the first run.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest

from model_export import sources


@pytest.fixture
def facenet_absent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    real = importlib.metadata.distribution

    def distribution(name: str) -> importlib.metadata.Distribution:
        if name == sources.FACENET:
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


def test_weights_come_from_the_wheel_when_the_package_is_absent(
    facenet_absent: Path, models_dir: Path
) -> None:
    manifest = json.loads((models_dir / "manifest.json").read_text())
    for net in ("pnet", "rnet", "onet"):
        source = sources.mtcnn_weights(net)
        assert facenet_absent in source.path.parents
        # Byte for byte the files the committed models were exported from.
        assert source.describe() == manifest["models"][net]["source"]


def test_a_wheel_that_fails_its_hash_is_refused_with_what_to_install(
    facenet_absent: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "FACENET_WHEEL_SHA256", "0" * 64)
    with pytest.raises(sources.SourceMissingError, match="pip install --no-deps facenet-pytorch"):
        sources.mtcnn_weights("pnet")
    assert not list(facenet_absent.rglob("*.pt"))

"""``python -m model_export``: export and verify as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from model_export.__main__ import main


def test_export_writes_the_requested_model_and_its_manifest(tmp_path: Path) -> None:
    assert main(["export", "--out", str(tmp_path), "--only", "rnet"]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(manifest["models"]) == {"rnet"}
    assert (tmp_path / "mtcnn_rnet.onnx").is_file()


def test_export_refuses_an_unknown_model_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown model"):
        main(["export", "--out", str(tmp_path), "--only", "retinaface"])


def test_verify_fails_without_a_manifest(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["verify", "--out", str(tmp_path)]) == 1
    assert "no manifest" in capsys.readouterr().out


def test_verify_fails_on_a_file_that_no_longer_matches_its_hash(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    for path in models_dir.iterdir():
        if path.is_file():
            shutil.copy(path, tmp_path / path.name)
    (tmp_path / "mtcnn_pnet.onnx").write_bytes(b"tampered")
    assert main(["verify", "--out", str(tmp_path)]) == 1
    assert "pnet" in capsys.readouterr().out


@pytest.mark.slow
def test_verify_passes_on_the_exported_models(models_dir: Path) -> None:
    assert main(["verify", "--out", str(models_dir)]) == 0

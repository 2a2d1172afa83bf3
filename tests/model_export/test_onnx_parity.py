"""Exported ONNX files (from the models_dir fixture) against their torch modules and dlib."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_export import parity
from model_export.specs import SPECS


@pytest.mark.parametrize("key", ["pnet", "rnet", "onet", "embedder"])
def test_onnxruntime_matches_torch(models_dir: Path, key: str) -> None:
    spec = SPECS[key]
    result = parity.torch_vs_ort(spec, models_dir / spec.file)
    assert result.ok, str(result)


def test_onnx_embedder_matches_dlib_on_real_chips(models_dir: Path) -> None:
    if not parity.dlib_available():
        pytest.skip("dlib is not importable (install dlib-bin, an export/dev dependency)")
    result = parity.onnx_vs_dlib(models_dir / SPECS["embedder"].file)
    assert result.ok, str(result)


def test_pnet_accepts_any_image_size(models_dir: Path) -> None:
    import numpy as np

    sess = parity.session(models_dir / SPECS["pnet"].file)
    prob, reg = sess.run(["prob", "reg"], {"input": np.zeros((2, 3, 31, 57), np.float32)})
    assert prob.shape == (2, 2, 11, 24)
    assert reg.shape == (2, 4, 11, 24)
    assert np.allclose(prob.sum(axis=1), 1.0, atol=1e-6)

"""The exported MTCNN nets honour the contract on real faces: natural axes, RGB, landmark order."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from model_export import parity


def _crops(size: int) -> np.ndarray:
    """The fixture face chips resized to ``size``, as the detector feeds them: NCHW RGB, scaled."""
    chips = parity.load_chips(sorted(parity.FIXTURE_CHIPS.glob("*.jpg")))
    resized = [cv2.resize(chip, (size, size), interpolation=cv2.INTER_AREA) for chip in chips]
    x = (np.stack(resized).astype(np.float32) - 127.5) * 0.0078125
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


@pytest.mark.parametrize(("key", "size"), [("rnet", 24), ("onet", 48)])
def test_real_faces_score_as_faces(models_dir: Path, key: str, size: int) -> None:
    sess = parity.session(models_dir / f"mtcnn_{key}.onnx")
    prob = sess.run(["prob"], {"input": _crops(size)})[0]
    assert (prob[:, 1] > 0.99).all()


def test_onet_wants_natural_axes_not_transposed(models_dir: Path) -> None:
    sess = parity.session(models_dir / "mtcnn_onet.onnx")
    transposed = np.ascontiguousarray(_crops(48).transpose(0, 1, 3, 2))
    prob = sess.run(["prob"], {"input": transposed})[0]
    assert np.median(prob[:, 1]) < 0.9


def test_onet_landmarks_are_five_xs_then_five_ys(models_dir: Path) -> None:
    sess = parity.session(models_dir / "mtcnn_onet.onnx")
    marks = np.median(sess.run(["landmarks"], {"input": _crops(48)})[0], axis=0)
    xs, ys = marks[:5], marks[5:]
    left_eye, right_eye, nose, left_mouth, right_mouth = range(5)
    assert xs[left_eye] < xs[nose] < xs[right_eye]
    assert xs[left_mouth] < xs[right_mouth]
    assert ys[left_eye] < ys[nose] < ys[left_mouth]
    assert ((marks > 0) & (marks < 1)).all()  # relative to the box

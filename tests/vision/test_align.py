"""Alignment: the least-squares similarity and the warp onto dlib's chip frame."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.vision.align import (
    CHIP_SIZE,
    TEMPLATE_FILE,
    align_face,
    load_template,
    similarity_transform,
    transform_points,
)

# The issue's template, fitted on single-pass MTCNN landmarks; ours uses refined landmarks
# (a second ONet pass), which moves the points by up to 4 px, so agreement within 5 px.
ISSUE_TEMPLATE = np.array(
    [[48.71, 46.63], [103.59, 46.36], [75.22, 79.23], [51.25, 105.23], [102.12, 105.09]]
)


def _similarity(scale: float, angle: float, tx: float, ty: float) -> np.ndarray:
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]])


def test_similarity_transform_recovers_a_known_transform() -> None:
    template = load_template()
    truth = _similarity(0.37, 0.3, 12.0, -40.0)
    landmarks = transform_points(np.linalg.inv(np.vstack([truth, [0, 0, 1]]))[:2], template)
    np.testing.assert_allclose(similarity_transform(landmarks, template), truth, atol=1e-9)


def test_similarity_transform_never_mirrors() -> None:
    template = load_template()
    mirrored = template * np.array([-1.0, 1.0])
    matrix = similarity_transform(mirrored, template)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_degenerate_landmarks_are_refused() -> None:
    with pytest.raises(ValueError):
        similarity_transform(np.ones((5, 2)), load_template())


def test_committed_template_is_close_to_the_issue_reference() -> None:
    template = load_template()
    assert np.abs(template - ISSUE_TEMPLATE).max() < 5.0


def test_template_records_its_fit() -> None:
    fit = json.loads(TEMPLATE_FILE.read_text())["fit"]
    assert fit["faces"] >= 80
    assert len(fit["images"]) == fit["faces"]


def test_manifest_template_takes_precedence() -> None:
    custom = (load_template() + 1.0).tolist()
    np.testing.assert_allclose(load_template({"alignment": {"template": custom}}), custom)


def test_aligned_landmarks_land_on_the_template() -> None:
    template = load_template()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (400, 300, 3), dtype=np.uint8)
    landmarks = transform_points(_similarity(0.5, -0.2, 60.0, 80.0), template)
    chip, matrix = align_face(image, landmarks, template)
    assert chip.shape == (CHIP_SIZE, CHIP_SIZE, 3)
    np.testing.assert_allclose(transform_points(matrix, landmarks), template, atol=1e-6)


def test_large_face_is_shrunk_smoothly_not_aliased() -> None:
    # A face 8x larger than the chip: the direct bilinear warp would sample a fine checkerboard into
    # noise; the area-averaged path must give its mean gray instead.
    template = load_template()
    yy, xx = np.mgrid[0:1600, 0:1600]
    board = (((xx // 2) + (yy // 2)) % 2 * 255).astype(np.uint8)
    image = np.repeat(board[:, :, None], 3, axis=2)
    landmarks = template * 8.0 + 200.0
    chip, _ = align_face(image, landmarks, template)
    inner = chip[20:130, 20:130].astype(np.float64)
    assert abs(inner.mean() - 127.5) < 10
    assert inner.std() < 20

"""dlib's 5-point shape predictor, read from its .dat file and run in numpy, against dlib itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.vision.decode import decode_image
from app.vision.landmarks import ShapePredictor, dlib_chip_template, intensity, seed_rects
from app.vision.pipeline import VisionPipeline
from tests.helpers import PHOTOS


@pytest.fixture(scope="module")
def predictor(models_dir: Path) -> ShapePredictor:
    path = models_dir / "shape_predictor_5.npz"
    if not path.is_file():
        pytest.skip(f"{path} missing: re-run `python -m model_export export`")
    return ShapePredictor.load(path)


def _rgb(path: Path) -> np.ndarray:
    return decode_image(path.read_bytes(), max_pixels=40_000_000).pixels


def test_matches_dlib_on_hog_boxes(predictor: ShapePredictor) -> None:
    """Same boxes in, same points out: dlib rounds its points to whole pixels, and float32
    rounding lands a few points on the other side of .5, so allow 1 px and demand most exact."""
    dlib = pytest.importorskip("dlib")
    from model_export.shape_predictor import shape_predictor_weights

    reference = dlib.shape_predictor(str(shape_predictor_weights().path))
    hog = dlib.get_frontal_face_detector()
    errors = []
    for path in sorted(PHOTOS.rglob("*.jpg")):
        rgb = _rgb(path)
        if max(rgb.shape) > 1200:
            continue
        for rect in hog(rgb, 0):
            shape = reference(rgb, rect)
            theirs = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)])
            box = np.array([[rect.left(), rect.top(), rect.right(), rect.bottom()]])
            ours = predictor.predict(intensity(rgb), box)[0]
            errors.append(np.abs(np.floor(ours + 0.5) - theirs).max())
    assert len(errors) >= 5
    assert max(errors) <= 1
    assert np.mean(np.array(errors) == 0) >= 0.8


@pytest.fixture(scope="module")
def dlib_pipeline(models_dir: Path, predictor: ShapePredictor) -> VisionPipeline:
    return VisionPipeline.load(models_dir, threads=2, dlib_landmarks=True)


def test_seeded_from_mtcnn_points_lands_on_the_eye_corners(dlib_pipeline: VisionPipeline) -> None:
    """The seed box from MTCNN's eyes lets the cascade converge: the predicted eye corners
    straddle MTCNN's pupils, and the chip cut from them puts the eyes where dlib's chips do."""
    pipeline = dlib_pipeline
    assert pipeline.shape_predictor is not None
    rgb = _rgb(PHOTOS / "obama" / "obama2.jpg")
    found = pipeline.detector.detect(rgb)
    mtcnn = found.landmarks[:1].astype(np.float64)
    points = pipeline.chip_points(rgb, mtcnn)[0]
    eye_distance = np.hypot(*(mtcnn[0, 1] - mtcnn[0, 0]))
    # dlib: 0-1 corners of the image-right eye, 2-3 of the image-left one, 4 under the nose.
    right_eye, left_eye = points[0:2].mean(axis=0), points[2:4].mean(axis=0)
    assert np.hypot(*(right_eye - mtcnn[0, 1])) < 0.15 * eye_distance
    assert np.hypot(*(left_eye - mtcnn[0, 0])) < 0.15 * eye_distance
    assert points[4, 1] > max(points[:4, 1])
    rect = seed_rects(mtcnn, pipeline.shape_predictor.initial)[0]
    assert rect[2] - rect[0] == pytest.approx(rect[3] - rect[1])
    chip = pipeline.chip(rgb, points)
    assert chip.shape == (150, 150, 3)


def test_chip_template_is_dlibs_padding_025_frame() -> None:
    template = dlib_chip_template()
    # the mean shape's outer eye corners at (padding + x) / 1.5 · 150
    assert template[0] == pytest.approx(
        [(0.25 + 0.8595674595992) / 1.5 * 150, (0.25 + 0.2134981538014) / 1.5 * 150]
    )
    assert template[2, 0] < template[3, 0] < template[1, 0] < template[0, 0]

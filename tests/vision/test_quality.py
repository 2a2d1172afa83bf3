"""The enroll gate's quality signals react to the defect they name, and only to it."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from app.vision.pipeline import VisionPipeline
from app.vision.quality import QualityThresholds, pose_proxy, quality_issues
from app.vision.types import Face


def _jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _portrait(photos: Path) -> np.ndarray:
    return np.asarray(Image.open(photos / "obama" / "obama2.jpg").convert("RGB"))


def _codes(pipeline: VisionPipeline, rgb: np.ndarray) -> set[str]:
    faces = pipeline.detect(_jpeg(rgb))
    assert faces, "the altered portrait should still be detected"
    return {code for code, _ in pipeline.quality_issues(faces[0])}


def test_blurred_face_is_blurry(pipeline: VisionPipeline, photos: Path) -> None:
    rgb = _portrait(photos)
    assert _codes(pipeline, cv2.GaussianBlur(rgb, (0, 0), 8)) == {"blurry"}


def test_darkened_face_is_too_dark(pipeline: VisionPipeline, photos: Path) -> None:
    dark = (_portrait(photos).astype(np.float64) * 0.15).astype(np.uint8)
    assert "too_dark" in _codes(pipeline, dark)


def test_overexposed_face_is_too_bright(pipeline: VisionPipeline, photos: Path) -> None:
    bright = np.clip(_portrait(photos).astype(np.float64) * 2.2 + 60, 0, 255).astype(np.uint8)
    assert "too_bright" in _codes(pipeline, bright)


def test_small_face_is_too_small(pipeline: VisionPipeline, photos: Path) -> None:
    rgb = _portrait(photos)
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (w // 6, h // 6), interpolation=cv2.INTER_AREA)
    faces = pipeline.detect(_jpeg(small), min_face_size=20)
    assert "face_too_small" in {code for code, _ in pipeline.quality_issues(faces[0])}


def test_low_score_is_low_confidence(pipeline: VisionPipeline, photos: Path) -> None:
    face: Face = pipeline.detect(_jpeg(_portrait(photos)))[0]
    doubtful = replace(face, quality=replace(face.quality, detection_score=0.75))
    assert [c for c, _ in quality_issues(doubtful, QualityThresholds())] == ["low_confidence"]


def test_every_issue_has_a_readable_reason(pipeline: VisionPipeline, photos: Path) -> None:
    face: Face = pipeline.detect(_jpeg(_portrait(photos)))[0]
    awful = replace(
        face,
        quality=replace(
            face.quality,
            detection_score=0.1,
            interocular_px=2,
            sharpness=0,
            pose=1.0,
            brightness=0,
        ),
    )
    issues = quality_issues(awful, QualityThresholds())
    assert {c for c, _ in issues} == {
        "face_too_small",
        "blurry",
        "extreme_pose",
        "too_dark",
        "low_confidence",
    }
    assert all(reason and reason[0].islower() for _, reason in issues)


def test_pose_proxy_is_zero_for_a_frontal_face_and_one_for_a_profile() -> None:
    frontal = np.array([[50, 45], [100, 45], [75, 78], [52, 105], [98, 105]], dtype=np.float64)
    assert pose_proxy(frontal) < 0.05
    profile = frontal.copy()
    profile[2, 0] = 105  # the nose beyond the far eye
    assert pose_proxy(profile) == 1.0

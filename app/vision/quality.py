"""Per-face quality signals and the enroll gate's verdict on them."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from app.vision.align import similarity_transform, transform_points
from app.vision.types import Face, Quality


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    """Limits below/above which a face is not worth enrolling.

    Set from the signals of 1,024 LFW View 1 faces plus the fixture and identity photos (percentiles
    in docs/thresholds.md) so that at most about 1% of those normal photos is refused, for the most
    turned or softest faces.
    """

    min_interocular_px: float = 24.0  # LFW: 0.5th percentile 30.6 px
    min_sharpness: float = 10.0  # LFW: 0.5th percentile 12.3, median 50
    max_pose: float = 0.95  # LFW: 99th percentile 0.86; 1.0 means the nose reaches an eye
    min_brightness: float = 40.0  # LFW: minimum 60
    max_brightness: float = 225.0  # LFW: maximum 202
    min_detection_score: float = 0.95  # LFW: minimum 0.98


def measure_quality(
    chip: np.ndarray, landmarks: np.ndarray, template: np.ndarray, score: float
) -> Quality:
    """Signals from the aligned chip (independent of the photo's resolution) and the landmarks."""
    gray = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    # The central region only: the chip's corners hold background and black warp borders.
    inner = gray[25:125, 25:125]
    sharpness = float(cv2.Laplacian(inner, cv2.CV_64F).var())
    brightness = float(inner.mean())
    eyes = landmarks[:2]
    interocular = float(np.hypot(*(eyes[1] - eyes[0])))
    return Quality(
        detection_score=float(score),
        interocular_px=interocular,
        sharpness=sharpness,
        pose=pose_proxy(transform_points(similarity_transform(landmarks, template), landmarks)),
        brightness=brightness,
    )


def pose_proxy(chip_points: np.ndarray) -> float:
    """0 for a frontal face, 1 for a profile: how far the nose sits off the face's midline.

    Measured in the chip frame (roll and scale already removed), relative to half the eye distance —
    in a profile the nose reaches the outer eye, so the ratio reaches 1.
    """
    left_eye, right_eye, nose, mouth_left, mouth_right = chip_points
    half_eyes = max(1e-6, float(np.hypot(*(right_eye - left_eye))) / 2)
    midline_x = (left_eye[0] + right_eye[0] + mouth_left[0] + mouth_right[0]) / 4
    yaw = abs(float(nose[0]) - float(midline_x)) / half_eyes
    return float(min(1.0, yaw))


def quality_issues(face: Face, limits: QualityThresholds) -> list[tuple[str, str]]:
    """Reason codes the enroll gate returns; an empty list means the face is fit to enroll."""
    q = face.quality
    issues: list[tuple[str, str]] = []
    if q.interocular_px < limits.min_interocular_px:
        issues.append(
            (
                "face_too_small",
                f"eyes are {q.interocular_px:.0f} px apart; at least "
                f"{limits.min_interocular_px:.0f} px needed",
            )
        )
    if q.sharpness < limits.min_sharpness:
        issues.append(
            ("blurry", f"sharpness {q.sharpness:.1f} is below {limits.min_sharpness:.0f}")
        )
    if q.pose > limits.max_pose:
        issues.append(
            ("extreme_pose", f"face is turned too far from the camera (pose {q.pose:.2f})")
        )
    if q.brightness < limits.min_brightness:
        issues.append(("too_dark", f"mean brightness {q.brightness:.0f} of 255 is too dark"))
    if q.brightness > limits.max_brightness:
        issues.append(("too_bright", f"mean brightness {q.brightness:.0f} of 255 is overexposed"))
    if q.detection_score < limits.min_detection_score:
        issues.append(
            (
                "low_confidence",
                f"detector confidence {q.detection_score:.2f} is below "
                f"{limits.min_detection_score:.2f}",
            )
        )
    return issues

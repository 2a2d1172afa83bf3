"""Five MTCNN points → a 150×150 chip in the frame dlib's face descriptor was trained on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

CHIP_SIZE = 150
TEMPLATE_FILE = Path(__file__).resolve().parents[2] / "model_export" / "alignment_template.json"

# Downscaling by more than this in one bilinear warp aliases (bilinear reads only 4 source
# pixels), so bigger faces are first shrunk with area averaging, as dlib's get_face_chip does.
_MAX_DIRECT_DOWNSCALE = 1.5


def load_template(manifest: dict[str, Any] | None = None) -> np.ndarray:
    """The 5-point template, (5, 2) float64 chip pixels: the manifest's, else the committed one."""
    if manifest and "alignment" in manifest:
        points = manifest["alignment"]["template"]
    else:
        points = json.loads(TEMPLATE_FILE.read_text())["template"]
    template = np.asarray(points, dtype=np.float64)
    if template.shape != (5, 2):
        raise ValueError(f"alignment template must be 5 (x, y) points, got shape {template.shape}")
    return template


def similarity_transform(
    src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src onto dst, as 2×3.

    Umeyama (1991) closed form, optionally weighted per point; reflection is excluded because a
    mirrored face is a different face.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    src_mean, dst_mean = w @ src, w @ dst
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = float(w @ (src_c**2).sum(axis=1))
    if src_var <= 1e-12:
        raise ValueError("landmarks are degenerate (all points coincide)")
    cov = (dst_c * w[:, None]).T @ src_c
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1.0
    rotation = u @ np.diag(d) @ vt
    scale = float((s * d).sum() / src_var)
    matrix = np.empty((2, 3), dtype=np.float64)
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - matrix[:, :2] @ src_mean
    return matrix


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    moved: np.ndarray = points @ matrix[:, :2].T + matrix[:, 2]
    return moved


def align_face(
    image: np.ndarray,
    landmarks: np.ndarray,
    template: np.ndarray,
    size: int = CHIP_SIZE,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Warp the face onto the template → (chip (size, size, 3) uint8, 2×3 image→chip matrix)."""
    matrix = similarity_transform(landmarks, template, weights)
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))
    warp = matrix
    source = image
    if scale < 1.0 / _MAX_DIRECT_DOWNSCALE:
        # Shrink only the region the chip covers, so a face in a 40-megapixel photo costs little.
        inverse = cv2.invertAffineTransform(matrix)
        corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64)
        footprint = transform_points(inverse, corners)
        h, w = image.shape[:2]
        x0 = int(max(0, np.floor(footprint[:, 0].min()) - 2))
        y0 = int(max(0, np.floor(footprint[:, 1].min()) - 2))
        x1 = int(min(w, np.ceil(footprint[:, 0].max()) + 2))
        y1 = int(min(h, np.ceil(footprint[:, 1].max()) + 2))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            factor = scale * _MAX_DIRECT_DOWNSCALE * 0.999
            crop = image[y0:y1, x0:x1]
            new_w = max(2, round((x1 - x0) * factor))
            new_h = max(2, round((y1 - y0) * factor))
            source = cv2.resize(crop, (new_w, new_h), interpolation=cv2.INTER_AREA)
            fx, fy = new_w / (x1 - x0), new_h / (y1 - y0)
            # chip ← shrunk crop: undo the resize, then the crop offset, then the original map.
            to_original = np.array(
                [[1 / fx, 0, x0 + 0.5 / fx - 0.5], [0, 1 / fy, y0 + 0.5 / fy - 0.5]]
            )
            warp = matrix[:, :2] @ to_original[:, :2]
            warp = np.hstack([warp, (matrix[:, :2] @ to_original[:, 2] + matrix[:, 2])[:, None]])
    chip = cv2.warpAffine(
        source,
        warp,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    return chip, matrix

"""dlib's 5-point shape predictor in numpy: the landmarks dlib's face chips are cut from.

dlib's descriptor was trained on chips that `get_face_chip` cuts from these 5 points (eye corners
and the base of the nose), so placing them the way dlib does lets the embedder see what it was
trained on. The cascade is the regression-tree ensemble of Kazemi & Sullivan (2014), converted by
``model_export/shape_predictor.py``; this module mirrors ``dlib::shape_predictor::operator()``:
for each of the 15 cascades, 800 pixel intensities are sampled at offsets that follow the current
shape (via a similarity fit from the mean shape), then 500 depth-4 trees each add a leaf's shape
update. Every face of a photo and every tree of a cascade run at once as array operations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# chip = (padding + p) / (2·padding + 1) · size with dlib's mean 5-point shape p
# (dlib/image_transforms/interpolation.h, get_face_chip_details), padding 0.25 and size 150 as
# dlib's face-recognition examples and face_recognition use them.
_DLIB_MEAN_SHAPE_5 = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)


def dlib_chip_template(size: int = 150, padding: float = 0.25) -> np.ndarray:
    """Where dlib's `get_face_chip(size, padding)` puts the 5 predicted points, in chip pixels."""
    return (padding + _DLIB_MEAN_SHAPE_5) / (2 * padding + 1) * size


def _similarity_2x2(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(n, 2, 2) linear part of the least-squares similarity src[i] → dst[i] (Umeyama), as dlib's
    `find_similarity_transform`; src (p, 2) is shared, dst (n, p, 2)."""
    src_c = src - src.mean(axis=0)
    dst_c = dst - dst.mean(axis=1, keepdims=True)
    var = float((src_c**2).sum()) / len(src)
    cov = np.einsum("npi,pj->nij", dst_c, src_c) / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones((len(dst), 2))
    d[np.linalg.det(u) * np.linalg.det(vt) < 0, 1] = -1.0
    rotation = np.einsum("nij,nj,njk->nik", u, d, vt)
    scale = (s * d).sum(axis=1) / var
    linear: np.ndarray = scale[:, None, None] * rotation
    return linear


class ShapePredictor:
    """Thread-safe: read-only after construction."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.initial = arrays["initial_shape"].astype(np.float32).reshape(-1, 2)
        self.idx1 = arrays["split_idx1"].astype(np.intp)
        self.idx2 = arrays["split_idx2"].astype(np.intp)
        self.thresh = arrays["split_thresh"].astype(np.float32)
        self.leaves = arrays["leaves"].astype(np.float32)
        self.anchor = arrays["anchor_idx"].astype(np.intp)
        self.deltas = arrays["deltas"].astype(np.float32)
        cascades, trees, splits = self.idx1.shape
        if self.leaves.shape[:3] != (cascades, trees, splits + 1):
            raise ValueError("shape predictor arrays disagree on the tree layout")
        self.depth = int(np.log2(splits + 1))
        if 2**self.depth != splits + 1:
            raise ValueError("shape predictor trees must be complete binary trees")

    @classmethod
    def load(cls, path: Path) -> ShapePredictor:
        with np.load(path) as data:
            return cls({k: data[k] for k in data.files})

    @property
    def num_parts(self) -> int:
        return len(self.initial)

    def predict(self, gray: np.ndarray, rects: np.ndarray) -> np.ndarray:
        """Landmarks (n, 5, 2) float64 image pixels for rects (n, 4) left top right bottom.

        `gray` is dlib's intensity image, (R + G + B) // 3 as uint8 (see `intensity`). dlib rounds
        the final points to whole pixels; these stay fractional.
        """
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
        n = len(rects)
        if n == 0:
            return np.zeros((0, self.num_parts, 2))
        h, w = gray.shape
        origin = rects[:, None, :2]
        extent = (rects[:, 2:] - rects[:, :2])[:, None, :]  # unnormalizing_tform: (1,1) → br
        shape = np.broadcast_to(self.initial, (n, *self.initial.shape)).copy()
        faces = np.arange(n)[:, None]
        trees = np.arange(self.idx1.shape[1])
        for c in range(len(self.idx1)):
            tform = _similarity_2x2(self.initial, shape).astype(np.float32)
            offsets = np.einsum("nij,fj->nfi", tform, self.deltas[c])
            points = offsets + shape[:, self.anchor[c]]  # (n, features, 2) in unit-rect space
            pixel = points.astype(np.float64) * extent + origin
            # dlib converts to integer pixels by rounding half up
            col = np.floor(pixel[..., 0] + 0.5).astype(np.intp)
            row = np.floor(pixel[..., 1] + 0.5).astype(np.intp)
            inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
            values = np.where(
                inside, gray[np.clip(row, 0, h - 1), np.clip(col, 0, w - 1)], 0
            ).astype(np.float32)
            node = np.zeros((n, len(trees)), np.intp)
            for _ in range(self.depth):
                a = values[faces, self.idx1[c][trees, node]]
                b = values[faces, self.idx2[c][trees, node]]
                left = (a - b) > self.thresh[c][trees, node]
                node = 2 * node + np.where(left, 1, 2)
            leaf = node - self.idx1.shape[2]
            shape += self.leaves[c][trees, leaf].sum(axis=1).reshape(n, -1, 2)
        return shape.astype(np.float64) * extent + origin


def intensity(rgb: np.ndarray) -> np.ndarray:
    """dlib's `get_pixel_intensity` of an RGB pixel: the integer mean of the three channels."""
    gray: np.ndarray = (rgb.astype(np.uint16).sum(axis=2) // 3).astype(np.uint8)
    return gray


def seed_rects(mtcnn_points: np.ndarray, initial_shape: np.ndarray) -> np.ndarray:
    """Boxes (n, 4) left top right bottom to start the predictor from, given MTCNN's 5 points.

    The predictor was trained from dlib's detector boxes, square and axis-aligned, with its mean
    shape `initial_shape` (unit-box coordinates) as where the points sit on average. MTCNN's eye
    points are pupils, near the midpoints of dlib's two eye corners, so the box is the square that
    puts the mean shape's eye midpoints on MTCNN's eyes: scale from the eye distance, position
    from their midpoint. The cascade then moves the points from there, as from a HOG box.
    """
    points = np.asarray(mtcnn_points, dtype=np.float64).reshape(-1, 5, 2)
    unit = np.asarray(initial_shape, dtype=np.float64).reshape(-1, 2)
    # dlib's points 0-1 are the corners of the eye on the image's right, 2-3 the left one.
    unit_right, unit_left = (unit[0] + unit[1]) / 2, (unit[2] + unit[3]) / 2
    left_eye, right_eye = points[:, 0], points[:, 1]  # MTCNN: image-left eye first
    side = np.hypot(*(right_eye - left_eye).T) / (unit_right[0] - unit_left[0])
    middle = (left_eye + right_eye) / 2
    unit_middle = (unit_left + unit_right) / 2
    left = middle[:, 0] - unit_middle[0] * side
    top = middle[:, 1] - unit_middle[1] * side
    return np.stack([left, top, left + side, top + side], axis=1)


# dlib's HOG box relative to MTCNN's box of the same face: centre offset in units of MTCNN's
# width/height and side relative to sqrt(width × height). Medians over the 3,417 LFW View 1
# DevTrain images where both detectors found the centred face (DevTest people were not used).
_HOG_FROM_MTCNN_BOX = (-0.0246, 0.0520, 0.9838)


def box_seed_rects(mtcnn_boxes: np.ndarray) -> np.ndarray:
    """Boxes (n, 4) left top right bottom shaped as dlib's HOG detector draws them, from MTCNN's
    (n, 4) x1 y1 x2 y2 boxes: the square, slightly lower and tighter box the shape predictor was
    trained on. Seeding from the box (rather than from the eyes, `seed_rects`) gave the better
    chips on LFW View 1: 10-fold CV 98.75 % vs 98.44 % for that chip alone (docs/thresholds.md)."""
    boxes = np.asarray(mtcnn_boxes, dtype=np.float64).reshape(-1, 4)
    dx, dy, side_ratio = _HOG_FROM_MTCNN_BOX
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 + dx * w
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 + dy * h
    half = side_ratio * np.sqrt(np.maximum(w * h, 0.0)) / 2
    return np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)

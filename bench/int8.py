"""What int8 and the lean detector path cost in accuracy, on LFW View 1 and the shared photos.

    FACEMATCH_DATA=../shared/data .venv/bin/python -m bench.int8 \\
        [--detectors fp32 int8 lean] [--json bench/results/int8_accuracy.json]

For every detector variant: detection failures on the 4,992 LFW View 1 images (as `facematch eval`
counts them: no face at min size 40 nor 20), recall on photos/multiface (min size 20 and 40, the
test's IoU ≥ 0.3 matching) and faces reported on photos/nonface. For every detector × embedder
(fp32, int8) pair: View 1 accuracy the way `facematch eval` reports it (DevTest at the DevTrain
threshold, 10-fold CV over all 3,200 pairs, TAR at FAR 1e-3 on DevTest, ROC AUC), plus the FAR
over every cross-identity pair of the 4,992 images at the service's calibrated default threshold
(app/vision/calibration.json), which must keep holding. "mixed" scores fp32 templates against
int8 ones (a collection enrolled with one, queried with the other): it decides whether the int8
embedder may share the fp32 model id. Cosine between fp32 and int8 templates of the same chips is
reported beside it.

Landmarks and templates are cached under /tmp/facematch-bench/int8 (keyed by model hashes), so a
re-run only computes what changed. Nothing here is timed: speed is bench/embedder.py and
bench/vision.py, side by side in one process.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.vision.align import align_face, load_template  # noqa: E402
from app.vision.calibration import FarCalibration  # noqa: E402
from app.vision.decode import decode_image  # noqa: E402
from app.vision.detector import (  # noqa: E402
    LEAN,
    DetectorConfig,
    MtcnnDetector,
    downscale_for_detection,
    rescale,
)
from app.vision.embedder import Embedder  # noqa: E402
from app.vision.onnx import model_spec  # noqa: E402
from facematch_eval.eval import (  # noqa: E402
    FAR_TARGET,
    PairSet,
    accuracy,
    best_threshold,
    cross_validated_accuracy,
    read_pairs,
    roc_auc,
    tar_at_far,
)

CACHE = Path(os.environ.get("FACEMATCH_BENCH_CACHE", "/tmp/facematch-bench")) / "int8"
# Detector variants: (int8 nets?, config). "fp32" and "int8" run the default (paper) thresholds;
# "lean" is FACEMATCH_LEAN_DETECTOR's.
DETECTORS: dict[str, tuple[bool, DetectorConfig]] = {
    "fp32": (False, DetectorConfig()),
    "int8": (True, DetectorConfig()),
    "lean": (False, LEAN),
    "lean-norefine": (False, replace(LEAN, refine_landmarks=False)),
}
EMBEDDERS = ("fp32", "int8")


def _rgb(path: Path) -> np.ndarray:
    return decode_image(path.read_bytes(), max_pixels=40_000_000).pixels


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def _nearest_centre(boxes: np.ndarray, shape: tuple[int, ...]) -> int:
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    h, w = shape[:2]
    return int(np.argmin(np.hypot(centres[:, 0] - w / 2, centres[:, 1] - h / 2)))


def lfw_landmarks(
    detector: MtcnnDetector, root: Path, images: list[str], key: str
) -> dict[str, np.ndarray | None]:
    """As `facematch eval` finds them: min size 40, else 20; the face nearest the centre."""
    path = CACHE / f"landmarks-{key}.json"
    if path.is_file():
        raw = json.loads(path.read_text())
        return {k: None if v is None else np.asarray(v) for k, v in raw.items()}
    out: dict[str, np.ndarray | None] = {}
    for k, name in enumerate(images):
        rgb = _rgb(root / name)
        found = detector.detect(rgb, min_face_size=40)
        if len(found) == 0:
            found = detector.detect(rgb, min_face_size=20)
        out[name] = (
            None
            if len(found) == 0
            else found.landmarks[_nearest_centre(found.boxes, rgb.shape)].astype(np.float64)
        )
        if k % 1000 == 0:
            print(f"  {key}: detected {k}/{len(images)}", file=sys.stderr, flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: None if v is None else v.tolist() for k, v in out.items()}))
    return out


def lfw_chips(
    root: Path, images: list[str], marks: dict[str, np.ndarray | None], template: np.ndarray
) -> np.ndarray:
    good = [v for v in marks.values() if v is not None]
    fallback = np.mean(good, axis=0)
    chips = []
    for name in images:
        points = marks[name]
        chips.append(
            align_face(_rgb(root / name), fallback if points is None else points, template)[0]
        )
    return np.stack(chips)


def templates(embedder: Embedder, chips: np.ndarray, key: str) -> dict[str, np.ndarray]:
    """{"plain": (n, 128), "flip": (n, 128)} unit vectors, cached."""
    path = CACHE / f"templates-{key}.npz"
    if path.is_file():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    plain, mirrored = [], []
    for start in range(0, len(chips), 32):
        batch = chips[start : start + 32]
        plain.append(embedder.embed(batch))
        mirrored.append(embedder.embed(np.ascontiguousarray(batch[:, :, ::-1])))
    p, m = np.concatenate(plain), np.concatenate(mirrored)
    flip = p + m
    flip /= np.linalg.norm(flip, axis=1, keepdims=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, plain=p, flip=flip)
    return {"plain": p, "flip": flip}


def _scores(a: np.ndarray, b: np.ndarray, index: dict[str, int], pairs: PairSet) -> np.ndarray:
    i = np.array([index[p.first] for p in pairs.pairs])
    j = np.array([index[p.second] for p in pairs.pairs])
    return np.einsum("ij,ij->i", a[i], b[j]).astype(np.float64)


def verification(
    a: np.ndarray,
    b: np.ndarray,
    index: dict[str, int],
    test: PairSet,
    train: PairSet,
    people: np.ndarray,
    default_threshold: float,
) -> dict[str, float]:
    """`facematch eval`'s metrics for templates `a` (first image) against `b` (second)."""
    s_test, s_train = _scores(a, b, index, test), _scores(a, b, index, train)
    t = best_threshold(s_train, train.labels)
    both = np.concatenate([s_train, s_test])
    labels = np.concatenate([train.labels, test.labels])
    folds = [np.arange(len(both))[k::10] for k in range(10)]
    tar, _ = tar_at_far(s_test, test.labels, FAR_TARGET)
    # FAR at the service's default threshold over every cross-identity ordered pair.
    sims = a @ b.T
    different = people[:, None] != people[None, :]
    far = float(np.mean(sims[different] >= default_threshold))
    return {
        "devtest_accuracy": accuracy(s_test, test.labels, t),
        "cv10_all_pairs": cross_validated_accuracy(both, labels, folds),
        "tar_at_far_1e-3": tar,
        "auc": roc_auc(s_test, test.labels),
        "far_at_default_threshold": far,
        "tar_at_default_threshold": float(np.mean(s_test[test.labels] >= default_threshold)),
    }


# --- detection on the shared photos --------------------------------------------------------------


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def multiface_recall(detector: MtcnnDetector, data: Path, min_face: int) -> tuple[int, int]:
    """(faces found, faces there): boxes matched at IoU ≥ 0.3 where given, else counts."""
    folder = data / "photos" / "multiface"
    rows = list(csv.reader((folder / "faces.tsv").open(), delimiter="\t"))[1:]
    hits = total = 0
    for row in rows:
        small, factor = downscale_for_detection(_rgb(folder / row[0]), 1024)
        found = rescale(
            detector.detect(small, min_face_size=max(12, round(min_face / factor))), factor
        ).boxes
        truth = []
        for spec in (row[2] if len(row) > 2 else "").split():
            top, left, width, height = (int(v) for v in spec.split(","))
            truth.append(np.array([left, top, left + width, top + height], np.float64))
        if truth:
            hits += sum(any(_iou(g, f) >= 0.3 for f in found) for g in truth)
        else:
            hits += min(len(found), int(row[1]))
        total += int(row[1])
    return hits, total


def nonface_faces(detector: MtcnnDetector, data: Path) -> int:
    folder = data / "photos" / "nonface"
    count = 0
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in {".jpg", ".png"}:
            small, _ = downscale_for_detection(_rgb(path), 1024)
            count += len(detector.detect(small, min_face_size=40))
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("FACEMATCH_DATA", "../shared/data"))
    )
    parser.add_argument("--models", type=Path, default=REPO / "models")
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    lfw = args.data / "lfw-view1"
    if not lfw.is_dir():
        print("set FACEMATCH_DATA (or --data) to the shared reference data", file=sys.stderr)
        return 2
    started = time.perf_counter()
    manifest: dict[str, Any] = json.loads((args.models / "manifest.json").read_text())
    template = load_template(manifest)
    test = read_pairs(lfw / "pairsDevTest.txt")
    train = read_pairs(lfw / "pairsDevTrain.txt")
    images = sorted(set(test.images()) | set(train.images()))
    index = {name: i for i, name in enumerate(images)}
    people = np.array([name.split("/")[0] for name in images])
    default = FarCalibration.load().default_threshold
    embedders = {
        name: Embedder(
            args.models,
            model_spec(manifest, "embedder", int8=name == "int8"),
            threads=args.threads,
            flip_tta=False,
        )
        for name in EMBEDDERS
    }
    emb_sha = {
        name: model_spec(manifest, "embedder", int8=name == "int8")["sha256"] for name in EMBEDDERS
    }

    report: dict[str, Any] = {
        "command": "python -m bench.int8 " + " ".join(sys.argv[1:] if argv is None else argv),
        "default_threshold": default,
        "detectors": {},
        "verification": [],
        "template_cosine_fp32_vs_int8": {},
    }
    for det_name in args.detectors:
        int8, config = DETECTORS[det_name]
        detector = MtcnnDetector.load(
            args.models, manifest, threads=args.threads, config=config, int8=int8
        )
        det_key = _key(
            det_name,
            dataclasses.asdict(config),
            *(model_spec(manifest, k, int8=int8)["sha256"] for k in ("pnet", "rnet", "onet")),
        )
        marks = lfw_landmarks(detector, lfw / "images", images, det_key)
        hits20, total = multiface_recall(detector, args.data, 20)
        hits40, _ = multiface_recall(detector, args.data, 40)
        report["detectors"][det_name] = {
            "lfw_detection_failures": sum(v is None for v in marks.values()),
            "lfw_images": len(images),
            "multiface_recall_min20": f"{hits20}/{total}",
            "multiface_recall_min40": f"{hits40}/{total}",
            "nonface_faces": nonface_faces(detector, args.data),
        }
        print(det_name, report["detectors"][det_name], file=sys.stderr, flush=True)
        chips = lfw_chips(lfw / "images", images, marks, template)
        vectors = {e: templates(embedders[e], chips, _key(det_key, emb_sha[e])) for e in EMBEDDERS}
        if det_name == "fp32":
            for variant in ("plain", "flip"):
                cos = np.einsum("ij,ij->i", vectors["fp32"][variant], vectors["int8"][variant])
                report["template_cosine_fp32_vs_int8"][variant] = {
                    "min": float(cos.min()),
                    "p01": float(np.percentile(cos, 1)),
                    "mean": float(cos.mean()),
                    "chips": len(cos),
                }
        combos = [(e, e) for e in EMBEDDERS]
        if det_name == "fp32":
            combos.append(("fp32", "int8"))
        for first, second in combos:
            label = first if first == second else "mixed (fp32 vs int8)"
            row = verification(
                vectors[first]["plain"],
                vectors[second]["plain"],
                index,
                test,
                train,
                people,
                default,
            )
            report["verification"].append({"detector": det_name, "embedder": label, **row})
            print(det_name, label, row, file=sys.stderr, flush=True)
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| detector | embedder | DevTest acc | 10-fold CV (3,200) | TAR @ FAR 1e-3 | AUC "
        f"| FAR @ cos {report['default_threshold']} | TAR @ it |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["verification"]:
        lines.append(
            f"| {r['detector']} | {r['embedder']} | {r['devtest_accuracy']:.2%} "
            f"| {r['cv10_all_pairs']:.2%} | {r['tar_at_far_1e-3']:.2%} | {r['auc']:.5f} "
            f"| {r['far_at_default_threshold']:.2e} | {r['tar_at_default_threshold']:.2%} |"
        )
    lines += [
        "",
        "| detector | LFW failures | multiface recall, min 20 | min 40 | non-face faces |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, d in report["detectors"].items():
        lines.append(
            f"| {name} | {d['lfw_detection_failures']} / {d['lfw_images']} "
            f"| {d['multiface_recall_min20']} | {d['multiface_recall_min40']} "
            f"| {d['nonface_faces']} |"
        )
    for variant, c in report["template_cosine_fp32_vs_int8"].items():
        lines.append(
            f"\ncosine fp32 vs int8 templates ({variant}, {c['chips']} chips): min {c['min']:.4f}, "
            f"1st percentile {c['p01']:.4f}, mean {c['mean']:.4f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

"""Vision speed: our MTCNN detector and embedder beside dlib's HOG detector and descriptor.

    FACEMATCH_DATA=../shared/data .venv/bin/python bench/vision.py [--rounds 7] [--threads 2]

Detection is timed on real photos from the shared data, centre-cropped and resized to exactly
640×480 and 1920×1080 (our detector works on its max-1024 copy, as the pipeline does; dlib's HOG
sees the full photo at upsample 0 and at upsample 1, face_recognition's default). Embedding is
timed per face: our ONNX embedder with and without flip TTA, for one face and for a batch of 8,
beside dlib's `compute_face_descriptor` on the same chip. Everything runs in one process,
interleaved round by round so a busy shared machine slows all alike; each figure is the median
round. Prints a Markdown table and writes bench/results/vision.md and bench/results/vision.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere in a checkout

from app.vision.align import align_face  # noqa: E402
from app.vision.decode import decode_image  # noqa: E402
from app.vision.pipeline import VisionPipeline  # noqa: E402
from model_export.sources import dlib_model  # noqa: E402

PHOTOS = (
    "multiface/facenet_pytorch__multiface.jpg",
    "multiface/face_recognition__two_people.jpg",
    "multiface/deepface__couple.jpg",
    "identities/obama/obama1.jpg",
)
SIZES = ((640, 480), (1920, 1080))
EMBED_BATCH = 8


def _fit(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop to the target aspect, then resize: a real photo at exactly that size."""
    h, w = rgb.shape[:2]
    target = width / height
    if w / h > target:
        cw = round(h * target)
        rgb = rgb[:, (w - cw) // 2 : (w - cw) // 2 + cw]
    else:
        ch = round(w / target)
        rgb = rgb[(h - ch) // 2 : (h - ch) // 2 + ch]
    interpolation = cv2.INTER_AREA if rgb.shape[1] > width else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(rgb, (width, height), interpolation=interpolation))


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/vision.py", description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=REPO / "models")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("FACEMATCH_DATA", "")))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    if not (args.data / "photos").is_dir():
        print("set FACEMATCH_DATA (or --data) to the shared reference data", file=sys.stderr)
        return 2
    import dlib

    # One chip with and without its mirror: the embedder timings per chip (fused = 4 such chips).
    pipeline = VisionPipeline.load(
        args.models, threads=args.threads, flip_tta=True, fused_chips=False
    )
    plain_pipeline = VisionPipeline.load(
        args.models, threads=args.threads, flip_tta=False, fused_chips=False
    )
    int8_pipeline = VisionPipeline.load(args.models, threads=args.threads, int8_models="all")
    lean = VisionPipeline.load(args.models, threads=args.threads, lean_detector=True)
    hog = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib_model("shape_predictor_5_face_landmarks.dat").path))
    descriptor = dlib.face_recognition_model_v1(
        str(dlib_model("dlib_face_recognition_resnet_model_v1.dat").path)
    )

    sources = [
        decode_image((args.data / "photos" / p).read_bytes(), max_pixels=40_000_000).pixels
        for p in PHOTOS
    ]
    photos = {size: [_fit(rgb, *size) for rgb in sources] for size in SIZES}

    # Chips: every face our pipeline finds in the 640×480 photos; dlib gets each face's own chip.
    chips: list[np.ndarray] = []
    dlib_chips: list[np.ndarray] = []
    for rgb in photos[SIZES[0]]:
        found = pipeline.detect_pixels(rgb, min_face_size=40)
        for points in found.landmarks:
            chips.append(align_face(rgb, points.astype(np.float64), pipeline.template)[0])
        for rect in hog(rgb, 1):
            dlib_chips.append(dlib.get_face_chip(rgb, predictor(rgb, rect), size=150, padding=0.25))
    batch = np.stack((chips * EMBED_BATCH)[:EMBED_BATCH])
    one = batch[:1]

    # (row label, unit count per call, callable) — all interleaved in every round.
    cases: list[tuple[str, str, int, Callable[[], object]]] = []
    for size in SIZES:
        label = f"{size[0]}×{size[1]}"
        imgs = photos[size]
        n = len(imgs)
        cases += [
            (
                "detect",
                f"{label} ours (MTCNN, min face 40)",
                n,
                lambda imgs=imgs: [pipeline.detect_pixels(i, min_face_size=40) for i in imgs],
            ),
            (
                "detect",
                f"{label} ours, lean detector (FACEMATCH_LEAN_DETECTOR)",
                n,
                lambda imgs=imgs: [lean.detect_pixels(i, min_face_size=40) for i in imgs],
            ),
            (
                "detect",
                f"{label} ours, int8 P/R/O-Net",
                n,
                lambda imgs=imgs: [int8_pipeline.detect_pixels(i, min_face_size=40) for i in imgs],
            ),
            (
                "detect",
                f"{label} dlib HOG, upsample 0",
                n,
                lambda imgs=imgs: [hog(i, 0) for i in imgs],
            ),
            (
                "detect",
                f"{label} dlib HOG, upsample 1",
                n,
                lambda imgs=imgs: [hog(i, 1) for i in imgs],
            ),
        ]
    cases += [
        ("embed", "ours, flip TTA, 1 face", 1, lambda: pipeline.embedder.embed(one)),
        ("embed", "ours, no flip, 1 face", 1, lambda: plain_pipeline.embedder.embed(one)),
        (
            "embed",
            f"ours, flip TTA, batch of {EMBED_BATCH}",
            EMBED_BATCH,
            lambda: pipeline.embedder.embed(batch),
        ),
        (
            "embed",
            f"ours, no flip, batch of {EMBED_BATCH}",
            EMBED_BATCH,
            lambda: plain_pipeline.embedder.embed(batch),
        ),
        (
            "embed",
            f"ours, int8, batch of {EMBED_BATCH}",
            EMBED_BATCH,
            lambda: int8_pipeline.embedder.embed(batch),
        ),
        (
            "embed",
            "dlib compute_face_descriptor, 1 face",
            1,
            lambda: descriptor.compute_face_descriptor(dlib_chips[0]),
        ),
    ]
    for _, _, _, fn in cases:  # warm-up: first-run allocations are not what a server pays
        fn()
    samples: dict[str, list[float]] = {name: [] for _, name, _, _ in cases}
    for _ in range(args.rounds):
        for _, name, units, fn in cases:
            samples[name].append(_time(fn) / units)

    median = {name: statistics.median(v) for name, v in samples.items()}
    rows = []
    for kind, name, _, _ in cases:
        if kind == "detect":
            size_label = name.split(" ")[0]
            ours = median[f"{size_label} ours (MTCNN, min face 40)"]
        else:
            ours = None
        rows.append({"kind": kind, "case": name, "ms": round(median[name], 2), "ours_ms": ours})
    dlib_embed = median["dlib compute_face_descriptor, 1 face"]
    lines = [
        "| what | case | ms per photo / face | other ÷ ours (default) |",
        "|---|---|---|---|",
    ]
    for row in rows:
        if row["kind"] == "detect":
            ratio = (
                "—"
                if row["case"].endswith("ours (MTCNN, min face 40)")
                else f"{row['ms'] / row['ours_ms']:.1f}× (ours faster)"
                if row["ms"] > row["ours_ms"]
                else f"{row['ms'] / row['ours_ms']:.2f}"
            )
            unit = "photo"
        else:
            ratio = "—" if row["case"].startswith("dlib") else f"{dlib_embed / row['ms']:.1f}×"
            unit = "face"
        row["ratio_dlib_over_ours"] = None if ratio == "—" else ratio
        lines.append(f"| {row['kind']} | {row['case']} | {row['ms']:.1f} ms/{unit} | {ratio} |")
    table = "\n".join(lines)
    print(table)

    meta = {
        "benchmark": "vision",
        "command": "python bench/vision.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "rounds": args.rounds,
        "threads": args.threads,
        "photos": list(PHOTOS),
        "faces_in_640x480_photos": len(chips),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "onnxruntime": ort.__version__,
            "dlib": dlib.__version__,
            "load_average": os.getloadavg()[0],
        },
        "rows": [{k: v for k, v in r.items() if k != "ours_ms"} for r in rows],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "vision.json").write_text(json.dumps(meta, indent=2) + "\n")
    (args.out / "vision.md").write_text(
        f"# bench/vision.py\n\n`{meta['command']}` — {args.rounds} rounds, median; "
        f"{args.threads} onnxruntime threads; load average {meta['machine']['load_average']:.1f} "
        f"on {os.cpu_count()} shared cores.\n\n{table}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

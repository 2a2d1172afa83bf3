"""Detector speed of this checkout against another one (e.g. main), same photos, alternating runs.

    FACEMATCH_DATA=../shared/data .venv/bin/python bench/detector_ab.py --baseline /work/main \\
        [--rounds 4] [--reps 10] [--threads 2]

Each round runs one fresh process per checkout (baseline first, then this one), each timing
`MtcnnDetector.detect` on the 4 photos of bench/vision.py fitted to 640×480 (`--reps` passes after
a warm-up pass), and reports per-photo process CPU time and wall time. Both processes load the
same model files (this checkout's models/) so only the code differs. Alternating rounds let a busy
shared machine slow both alike; the ratios use the medians over rounds. Also checks that both
checkouts return the same boxes, scores and landmarks on those photos (max abs difference).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]


def _worker(repo: Path, models: Path, data: Path, reps: int, threads: int) -> dict[str, object]:
    sys.path.insert(0, str(repo))
    import cv2

    from app.vision.detector import MtcnnDetector  # the checkout under test

    sys.path.insert(0, str(HERE))
    from bench.vision import PHOTOS, _fit

    manifest = json.loads((models / "manifest.json").read_text())
    detector = MtcnnDetector.load(models, manifest, threads=threads)
    photos = [
        _fit(np.ascontiguousarray(cv2.imread(str(data / "photos" / p))[:, :, ::-1]), 640, 480)
        for p in PHOTOS
    ]
    found = [detector.detect(p, min_face_size=40) for p in photos]  # warm-up, and the outputs
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(reps):
        for p in photos:
            detector.detect(p, min_face_size=40)
    n = reps * len(photos)
    return {
        "cpu_ms": (time.process_time() - cpu) / n * 1000,
        "wall_ms": (time.perf_counter() - wall) / n * 1000,
        "outputs": [
            np.concatenate([d.boxes.ravel(), d.scores.ravel(), d.landmarks.ravel()]).tolist()
            for d in found
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/detector_ab.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--baseline", type=Path, help="the other checkout (e.g. /work/main)")
    parser.add_argument("--repo", type=Path, help=argparse.SUPPRESS)  # worker mode
    parser.add_argument("--models", type=Path, default=HERE / "models")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("FACEMATCH_DATA", "")))
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.repo is not None:
        print(json.dumps(_worker(args.repo, args.models, args.data, args.reps, args.threads)))
        return 0
    if args.baseline is None or not (args.data / "photos").is_dir():
        print("need --baseline CHECKOUT and FACEMATCH_DATA (or --data)", file=sys.stderr)
        return 2

    def run(repo: Path) -> dict[str, object]:
        cmd = [sys.executable, __file__, "--repo", str(repo), "--models", str(args.models)]
        cmd += ["--data", str(args.data), "--reps", str(args.reps), "--threads", str(args.threads)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
        return result

    runs: dict[str, list[dict[str, object]]] = {"baseline": [], "this": []}
    for r in range(args.rounds):
        for name, repo in (("baseline", args.baseline), ("this", HERE)):
            runs[name].append(run(repo.resolve()))
            print(
                f"round {r + 1} {name:8s} cpu {runs[name][-1]['cpu_ms']:.1f} ms/photo "
                f"wall {runs[name][-1]['wall_ms']:.1f}",
                flush=True,
            )
    med = {
        name: {k: statistics.median(float(x[k]) for x in v) for k in ("cpu_ms", "wall_ms")}  # type: ignore[arg-type]
        for name, v in runs.items()
    }
    diff = max(
        (
            float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if len(a) else 0.0  # type: ignore[arg-type]
            for a, b in zip(runs["baseline"][0]["outputs"], runs["this"][0]["outputs"], strict=True)  # type: ignore[call-overload]
        ),
        default=0.0,
    )
    summary = {
        "median": med,
        "cpu_ratio": med["baseline"]["cpu_ms"] / med["this"]["cpu_ms"],
        "wall_ratio": med["baseline"]["wall_ms"] / med["this"]["wall_ms"],
        "max_output_abs_diff": diff,
        "rounds": args.rounds,
        "reps": args.reps,
        "load_average": os.getloadavg(),
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

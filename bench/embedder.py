"""Embedder speed: the exported ONNX model vs torch eager vs dlib, side by side on the same chips.

    .venv/bin/python bench/embedder.py [--models models] [--rounds 5] [--threads 2]

All implementations run in the same process, interleaved round by round, so a busy shared machine
slows them alike and the ratios stay honest; the reported figure is the median round. Prints a
Markdown table and writes bench/results/embedder.json. Targets (issue 2): ONNX at batch 32 at least
25× faster per face than dlib's ``compute_face_descriptor``, and ≤ 4 ms per face at batch 1.
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

import numpy as np
import onnxruntime as ort
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere in a checkout

from model_export import parity  # noqa: E402
from model_export.dlib_resnet import load as load_torch_resnet  # noqa: E402
from model_export.specs import EMBEDDER  # noqa: E402

BATCH = 32
TARGET_SPEEDUP = 25.0
TARGET_BATCH1_MS = 4.0


def _chips() -> np.ndarray:
    """32 real 150×150 chips (the fixture chips repeated when the reference data is absent)."""
    paths = parity.chip_paths()
    paths = (paths * (BATCH // len(paths) + 1))[:BATCH]
    return parity.load_chips(paths)


def _ort_session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # As app/vision/onnx.py runs it: no spin-waiting, which on a shared 2-core box only steals
    # the cores the other thread needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


Impl = tuple[str, int, Callable[[], object]]  # label, batch size, embeds all 32 chips once
DLIB = "dlib compute_face_descriptor"


def _implementations(models: Path, chips: np.ndarray, threads: int) -> list[Impl]:
    x = parity.normalise_chips(chips)
    sess = _ort_session(models / EMBEDDER.file, threads)
    torch.set_num_threads(threads)
    net = load_torch_resnet()
    xt = torch.from_numpy(x)
    singles = [x[i : i + 1] for i in range(BATCH)]

    def onnx_b1() -> object:
        return [sess.run(None, {"input": one}) for one in singles]

    def onnx_b32() -> object:
        return sess.run(None, {"input": x})

    def torch_b1() -> object:
        with torch.inference_mode():
            return [net(xt[i : i + 1]) for i in range(BATCH)]

    def torch_b32() -> object:
        with torch.inference_mode():
            return net(xt)

    impls: list[Impl] = [
        ("onnxruntime (ORT_ENABLE_ALL)", 1, onnx_b1),
        ("onnxruntime (ORT_ENABLE_ALL)", BATCH, onnx_b32),
        ("torch eager", 1, torch_b1),
        ("torch eager", BATCH, torch_b32),
    ]
    if parity.dlib_available():
        import dlib

        model = dlib.face_recognition_model_v1(str(EMBEDDER.source().path))
        rgb = [np.ascontiguousarray(chip) for chip in chips]

        def dlib_each() -> object:
            return [model.compute_face_descriptor(chip) for chip in rgb]

        impls.append((DLIB, 1, dlib_each))
    return impls


def run(models: Path, rounds: int, threads: int) -> dict:
    chips = _chips()
    impls = _implementations(models, chips, threads)
    for _, _, call in impls:
        call()  # warm-up: session initialisation, allocator arenas, caches
    samples: list[list[float]] = [[] for _ in impls]
    cpu_samples: list[list[float]] = [[] for _ in impls]
    for _ in range(rounds):
        for (_, _, call), times, cpu in zip(impls, samples, cpu_samples, strict=True):
            started, cpu_started = time.perf_counter(), time.process_time()
            call()
            times.append((time.perf_counter() - started) * 1000 / BATCH)
            # CPU time over all threads: barely moved by other processes' load, unlike wall time.
            cpu.append((time.process_time() - cpu_started) * 1000 / BATCH)

    medians = [statistics.median(times) for times in samples]
    bests = [min(times) for times in samples]
    dlib_at = next((i for i, (label, _, _) in enumerate(impls) if label == DLIB), None)
    dlib_ms = medians[dlib_at] if dlib_at is not None else None
    dlib_best = bests[dlib_at] if dlib_at is not None else None
    rows = []
    cpu_medians = [statistics.median(cpu) for cpu in cpu_samples]
    dlib_cpu = cpu_medians[dlib_at] if dlib_at is not None else None
    for (label, batch, _), ms, best, cpu_ms in zip(impls, medians, bests, cpu_medians, strict=True):
        rows.append(
            {
                "implementation": label,
                "batch": batch,
                "ms_per_face": round(ms, 3),
                "min_ms_per_face": round(best, 3),
                "speedup_vs_dlib": round(dlib_ms / ms, 1) if dlib_ms else None,
                # Best round against best round: the least-disturbed figure on a shared machine.
                "best_speedup_vs_dlib": round(dlib_best / best, 1) if dlib_best else None,
                "cpu_ms_per_face": round(cpu_ms, 3),
                "cpu_speedup_vs_dlib": round(dlib_cpu / cpu_ms, 1) if dlib_cpu else None,
            }
        )
    onnx32 = next(r for r in rows if r["implementation"].startswith("onnx") and r["batch"] == BATCH)
    onnx1 = next(r for r in rows if r["implementation"].startswith("onnx") and r["batch"] == 1)
    return {
        "benchmark": "embedder",
        "command": "python bench/embedder.py " + " ".join(sys.argv[1:]),
        "faces_per_round": BATCH,
        "rounds": rounds,
        "threads": threads,
        "model_file": EMBEDDER.file,
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "onnxruntime": ort.__version__,
            "torch": torch.__version__,
        },
        "rows": rows,
        "targets": {
            "speedup_vs_dlib_at_batch_32": {
                "target": TARGET_SPEEDUP,
                "measured": onnx32["speedup_vs_dlib"],
                "measured_best": onnx32["best_speedup_vs_dlib"],
                "met": bool(onnx32["speedup_vs_dlib"])
                and onnx32["speedup_vs_dlib"] >= TARGET_SPEEDUP,
            },
            "ms_per_face_at_batch_1": {
                "target": TARGET_BATCH1_MS,
                "measured": onnx1["ms_per_face"],
                "measured_best": onnx1["min_ms_per_face"],
                "met": onnx1["ms_per_face"] <= TARGET_BATCH1_MS,
            },
        },
    }


def _ratio(value: float | None) -> str:
    return f"{value:.1f}×" if value else "n/a"


def markdown(result: dict) -> str:
    lines = [
        "| implementation | batch | ms/face (median) | ms/face (best) | × dlib (median) "
        "| × dlib (best) | CPU ms/face | × dlib (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        speedup = f"{row['speedup_vs_dlib']:.1f}×" if row["speedup_vs_dlib"] else "n/a"
        best = f"{row['best_speedup_vs_dlib']:.1f}×" if row["best_speedup_vs_dlib"] else "n/a"
        lines.append(
            f"| {row['implementation']} | {row['batch']} | {row['ms_per_face']:.2f} | "
            f"{row['min_ms_per_face']:.2f} | {speedup} | {best} | "
            f"{row['cpu_ms_per_face']:.2f} | {_ratio(row['cpu_speedup_vs_dlib'])} |"
        )
    targets = result["targets"]
    lines.append("")
    for name, target in targets.items():
        verdict = "met" if target["met"] else "NOT met"
        lines.append(
            f"- {name}: median {target['measured']}, best {target['measured_best']} "
            f"(target {target['target']}; judged on the median) — {verdict}"
        )
    lines.append(
        f"- {result['faces_per_round']} faces × {result['rounds']} rounds, "
        f"{result['threads']} threads, {result['machine']['cpu_count']} CPUs visible"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", type=Path, default=Path(os.environ.get("FACEMATCH_MODEL_DIR", REPO / "models"))
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "embedder.json")
    args = parser.parse_args(argv)
    result = run(args.models, args.rounds, args.threads)
    print(markdown(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

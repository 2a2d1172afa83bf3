"""Proof that the exported files compute what the originals compute.

Two checks, both run by ``python -m model_export verify`` and by tests/model_export:

- torch vs onnxruntime, every net, max |diff| ≤ 1e-5 (``TORCH_ORT_TOLERANCE``). Sessions use
  ``ORT_ENABLE_ALL``, the level the service runs at, so run-time fusions are covered too.
- the ONNX embedder vs ``dlib.face_recognition_model_v1.compute_face_descriptor`` on real aligned
  150×150 chips, min cosine ≥ 0.99999 (``DLIB_MIN_COSINE``); only where ``dlib`` imports.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from PIL import Image

from model_export import manifest as mf
from model_export.specs import EMBEDDER_MEAN, EMBEDDER_SCALE, SPECS, ModelSpec

TORCH_ORT_TOLERANCE = 1e-5
DLIB_MIN_COSINE = 0.99999
REPO = Path(__file__).resolve().parents[1]
FIXTURE_CHIPS = REPO / "tests" / "fixtures" / "photos" / "chips"
# PNet is fully convolutional: odd, non-square and large sizes exercise ceil-mode pooling edges.
PNET_SIZES = ((12, 12), (13, 17), (77, 100), (481, 640))


@dataclass(frozen=True)
class ParityResult:
    name: str
    metric: str  # "max_abs_diff" or "min_cosine"
    value: float
    limit: float
    cases: int

    @property
    def ok(self) -> bool:
        if self.metric == "min_cosine":
            return self.value >= self.limit
        return self.value <= self.limit

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "FAIL"
        relation = "≥" if self.metric == "min_cosine" else "≤"
        shown = f"{self.value:.10f}" if self.metric == "min_cosine" else f"{self.value:.3g}"
        return (
            f"{self.name}: {self.metric} {shown} ({relation} {self.limit:g}) "
            f"over {self.cases} case(s) … {verdict}"
        )


def session(path: Path, *, threads: int = 2) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


# -- inputs --------------------------------------------------------------------------------------


def chip_paths(data_dir: Path | None = None) -> list[Path]:
    """The committed fixture chips, plus dlib's example chips when the reference data is present."""
    paths = sorted(FIXTURE_CHIPS.glob("*.jpg"))
    root = data_dir or Path(os.environ.get("FACEMATCH_DATA", REPO.parent / "shared" / "data"))
    johns = root / "photos" / "identities" / "dlib_johns"
    if johns.is_dir():
        paths += sorted(johns.glob("*/*.jpg"))
    return paths


def load_chips(paths: list[Path]) -> np.ndarray:
    """(n, 150, 150, 3) uint8 RGB."""
    chips = [np.asarray(Image.open(path).convert("RGB")) for path in paths]
    for path, chip in zip(paths, chips, strict=True):
        if chip.shape != (150, 150, 3):
            raise ValueError(f"{path} is {chip.shape[1]}×{chip.shape[0]}, not a 150×150 chip")
    return np.stack(chips)


def normalise_chips(chips: np.ndarray) -> np.ndarray:
    """uint8 NHWC RGB → the embedder's float32 NCHW input: (pixel − mean) · scale."""
    x = (chips.astype(np.float32) - np.asarray(EMBEDDER_MEAN, np.float32)) * np.float32(
        EMBEDDER_SCALE
    )
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def _random_inputs(spec: ModelSpec) -> list[np.ndarray]:
    generator = np.random.default_rng(1234)
    if spec.key == "pnet":
        shapes = [(b, 3, h, w) for b in (1, 3) for h, w in PNET_SIZES]
    else:
        side = spec.example_shape[2]
        shapes = [(1, 3, side, side), (7, 3, side, side)]
    return [generator.uniform(-1, 1, shape).astype(np.float32) for shape in shapes]


def inputs_for(spec: ModelSpec) -> list[np.ndarray]:
    if spec.key == "embedder":
        chips = normalise_chips(load_chips(chip_paths()))
        return [chips[:1], chips[:32], *_random_inputs(spec)[:1]]
    return _random_inputs(spec)


# -- checks --------------------------------------------------------------------------------------


def torch_vs_ort(
    spec: ModelSpec, onnx_path: Path, module: torch.nn.Module | None = None
) -> ParityResult:
    module = (module or spec.build()).eval()
    sess = session(onnx_path)
    worst, cases = 0.0, 0
    for x in inputs_for(spec):
        with torch.no_grad():
            expected = module(torch.from_numpy(x))
        expected_list = [expected] if isinstance(expected, torch.Tensor) else list(expected)
        got = sess.run(list(spec.output_names), {spec.input_name: x})
        for e, g in zip(expected_list, got, strict=True):
            if tuple(e.shape) != g.shape:
                raise AssertionError(f"{spec.key}: torch shape {tuple(e.shape)} vs ORT {g.shape}")
            worst = max(worst, float(np.abs(e.numpy() - g).max()))
        cases += 1
    return ParityResult(
        f"{spec.key} torch vs onnxruntime", "max_abs_diff", worst, TORCH_ORT_TOLERANCE, cases
    )


def dlib_available() -> bool:
    return importlib.util.find_spec("dlib") is not None


def dlib_descriptors(chips: np.ndarray) -> np.ndarray:
    """dlib's own 128-D descriptors for uint8 RGB chips (the reference implementation)."""
    import dlib

    model = dlib.face_recognition_model_v1(str(SPECS["embedder"].source().path))
    return np.array([np.asarray(model.compute_face_descriptor(chip)) for chip in chips])


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def onnx_vs_dlib(onnx_path: Path, paths: list[Path] | None = None) -> ParityResult:
    chips = load_chips(paths or chip_paths())
    ours = session(onnx_path).run(["embedding"], {"input": normalise_chips(chips)})[0]
    theirs = dlib_descriptors(chips)
    return ParityResult(
        "embedder ONNX vs dlib",
        "min_cosine",
        float(cosine(ours, theirs).min()),
        DLIB_MIN_COSINE,
        len(chips),
    )


def verify(out: Path, *, progress=print) -> bool:
    """Hashes, then torch/ORT parity on every net, then dlib parity; True when all pass."""
    manifest = mf.read(out)
    if manifest is None:
        progress(f"no manifest in {out}: run `python -m model_export export --out {out}`")
        return False
    problems = mf.file_problems(out, manifest)
    missing = sorted(set(SPECS) - set(manifest.get("models", {})))
    problems += [f"{key}: not in the manifest" for key in missing]
    for problem in problems:
        progress(problem)
    if problems:
        return False
    progress(f"hashes: {len(manifest['models'])} file(s) match the manifest")
    if manifest.get("alignment") != mf.alignment():
        progress("alignment: manifest differs from model_export/alignment_template.json: re-export")
        return False
    results = [torch_vs_ort(spec, out / spec.file) for spec in SPECS.values()]
    if dlib_available():
        results.append(onnx_vs_dlib(out / SPECS["embedder"].file))
    else:
        progress("dlib is not importable: skipping the dlib parity check (install dlib-bin)")
    for result in results:
        progress(str(result))
    return all(result.ok for result in results)

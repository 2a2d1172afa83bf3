"""int8 variants of the exported models: onnxruntime static quantization (QDQ, per-channel weights).

Two steps, like the alignment template (model_export/template.py):

1. ``python -m model_export calibrate-int8 [--data DIR] [--models DIR]`` runs the fp32 models on
   calibration inputs taken from ``FACEMATCH_DATA`` and writes every activation's range (min/max)
   to ``model_export/int8_calibration.json``, committed with the list of photos it used and the
   sha256 of the fp32 file each table belongs to. Inputs: the photos under ``photos/`` (identities,
   group photos, non-face photos) — the embedder sees the aligned chips of every face the fp32
   detector finds in them plus dlib's ``dlib_johns`` chips; PNet, RNet and ONet see exactly the
   tensors the fp32 detector feeds them on those photos. The LFW images, on which accuracy is
   measured, are never used.
2. ``python -m model_export export`` quantizes each fp32 file with those committed ranges, so an
   export needs no data set and gives the same bytes on every machine with the same versions.

Settings, each measured (docs/thresholds.md, bench/README.md "int8"):

- QDQ format, per-channel symmetric int8 weights, asymmetric uint8 activations, MinMax ranges.
- ``reduce_range`` (7-bit weights): without AVX-512 VNNI, onnxruntime multiplies u8×s8 pairs with
  ``vpmaddubsw``, whose int16 sum of two products saturates at full 8-bit range. On the 55
  dlib_johns chips the int8 embedder's templates had min cosine 0.9867 to fp32 at full range and
  0.9991 with reduce_range, at the same speed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import onnx

from model_export.sources import file_sha256

CALIBRATION = Path(__file__).with_name("int8_calibration.json")
FORMAT = 1
# The fp32 models that get an int8 sibling; manifest key of the sibling = key + SUFFIX.
BASE_KEYS = ("embedder", "pnet", "rnet", "onet")
SUFFIX = "_int8"
_CALIBRATION_BATCH = 64
# Ops left in fp32, per model. The embedder's last layer (one Gemm, 3,200 → 128: 0.1 % of its
# FLOPs) writes the template itself; kept fp32, the min cosine to the fp32 templates of the
# calibration chips rose from 0.99902 to 0.99934 (mean 0.99930 → 0.99957) for 5 % more time.
KEEP_FP32: dict[str, tuple[str, ...]] = {"embedder": ("Gemm",)}
_PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}


def int8_file(fp32_file: str) -> str:
    """``dlib_resnet_v1.onnx`` → ``dlib_resnet_v1.int8.onnx``."""
    stem, _, ext = fp32_file.rpartition(".")
    return f"{stem}.int8.{ext}"


@dataclass(frozen=True)
class QuantSettings:
    per_channel: bool = True
    reduce_range: bool = True
    activations: str = "uint8"
    weights: str = "int8"
    format: str = "QDQ"
    calibration_method: str = "MinMax"

    def describe(self, key: str) -> dict[str, Any]:
        return {
            "kept_fp32_ops": list(KEEP_FP32.get(key, ())),
            "tool": "onnxruntime.quantization.quantize_static",
            "format": self.format,
            "per_channel": self.per_channel,
            "reduce_range": self.reduce_range,
            "activations": self.activations,
            "weights": self.weights,
            "calibration_method": self.calibration_method,
        }


SETTINGS = QuantSettings()


def _prepared(fp32: Path, tmp: Path) -> Path:
    """onnxruntime's recommended pre-processing (shape inference, basic graph optimisation): the
    tensor names the ranges are keyed by are those of this prepared graph, so calibration and
    export both start from it."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = tmp / "prepared.onnx"
    quant_pre_process(str(fp32), str(out), skip_symbolic_shape=True)
    return out


# --- step 1: ranges from data ---------------------------------------------------------------


class _Batches:
    """onnxruntime's CalibrationDataReader protocol over a list of NCHW float32 batches."""

    def __init__(self, input_name: str, batches: Sequence[np.ndarray]) -> None:
        self._name = input_name
        self._it: Iterator[np.ndarray] = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._it, None)
        return None if batch is None else {self._name: batch}


def _ranges(fp32: Path, input_name: str, batches: Sequence[np.ndarray]) -> dict[str, list[float]]:
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator

    with tempfile.TemporaryDirectory(prefix="facematch-calib-") as tmp:
        prepared = _prepared(fp32, Path(tmp))
        calibrator = create_calibrator(
            prepared,
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=CalibrationMethod.MinMax,
        )
        calibrator.collect_data(_Batches(input_name, batches))
        data = calibrator.compute_data()
    out: dict[str, list[float]] = {}
    for name in sorted(data.data):
        lo, hi = data.data[name].range_value
        out[name] = [float(np.asarray(lo).item()), float(np.asarray(hi).item())]
    return out


class _Recorder:
    """Stands in for a detector net: records the uint8 batches the fp32 detector feeds it."""

    def __init__(self, net: Any) -> None:
        self.net = net
        self.batches: list[np.ndarray] = []

    def run(self, batch_uint8: np.ndarray) -> list[np.ndarray]:
        x = (batch_uint8.astype(np.float32) - self.net.mean) * self.net.scale
        self.batches.append(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        return cast(list[np.ndarray], self.net.run(batch_uint8))


def _photos(data: Path) -> list[Path]:
    """Every photo under photos/ except the ready-made chips (those feed the embedder directly)."""
    root = data / "photos"
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in _PHOTO_SUFFIXES and "dlib_johns" not in p.parts
    )


def _rebatch(batches: Sequence[np.ndarray], size: int = _CALIBRATION_BATCH) -> list[np.ndarray]:
    if not batches:
        return []
    whole = np.concatenate(batches)
    return [whole[i : i + size] for i in range(0, len(whole), size)]


def calibration_inputs(
    data: Path, models: Path, log: Callable[[str], None] = print
) -> tuple[dict[str, list[np.ndarray]], list[str]]:
    """NCHW float32 batches per base model, and the photo/chip paths they came from."""
    from PIL import Image

    from app.vision.align import align_face, load_template
    from app.vision.decode import decode_image
    from app.vision.detector import MtcnnDetector, downscale_for_detection
    from model_export import parity

    manifest = json.loads((models / "manifest.json").read_text())
    fp32 = MtcnnDetector.load(models, manifest, threads=2)
    nets = {key: _Recorder(getattr(fp32, f"_{key}")) for key in ("pnet", "rnet", "onet")}
    detector = MtcnnDetector(
        cast(Any, nets["pnet"]), cast(Any, nets["rnet"]), cast(Any, nets["onet"]), fp32.config
    )
    template = load_template(manifest)
    chips: list[np.ndarray] = []
    used: list[str] = []
    for path in _photos(data):
        rgb = decode_image(path.read_bytes(), max_pixels=40_000_000).pixels
        # As the pipeline sees photos: a copy of at most 1024 px; min face 20 px so that the
        # small faces of the group photos reach RNet and ONet too.
        small, factor = downscale_for_detection(rgb, 1024)
        found = detector.detect(small, min_face_size=max(12, round(20 / factor)))
        for points in found.landmarks:
            chips.append(align_face(small, points.astype(np.float64), template)[0])
        used.append(path.relative_to(data).as_posix())
    johns = sorted((data / "photos" / "identities" / "dlib_johns").rglob("*.jpg"))
    for path in johns:
        chips.append(np.asarray(Image.open(path).convert("RGB")))
        used.append(path.relative_to(data).as_posix())
    log(f"calibration: {len(used)} photos/chips, {len(chips)} face chips")
    inputs = {
        "embedder": _rebatch([parity.normalise_chips(np.stack(chips))]),
        "pnet": nets["pnet"].batches,  # one canvas per photo; shapes differ, so never stacked
        "rnet": _rebatch(nets["rnet"].batches),
        "onet": _rebatch(nets["onet"].batches),
    }
    return inputs, used


def calibrate(
    data: Path, models: Path, out: Path = CALIBRATION, log: Callable[[str], None] = print
) -> Path:
    """Measure activation ranges of every base model and write the committed calibration file."""
    manifest = json.loads((models / "manifest.json").read_text())
    inputs, used = calibration_inputs(data, models, log)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "method": SETTINGS.calibration_method,
        "command": "python -m model_export calibrate-int8",
        "data": "FACEMATCH_DATA photos/ (never the LFW evaluation images)",
        "inputs": used,
        "models": {},
    }
    for key in BASE_KEYS:
        entry = manifest["models"][key]
        fp32 = models / entry["file"]
        log(f"{key}: {sum(len(b) for b in inputs[key])} inputs")
        doc["models"][key] = {
            "fp32_sha256": file_sha256(fp32),
            "inputs": int(sum(len(b) for b in inputs[key])),
            "ranges": _ranges(fp32, entry["input"]["name"], inputs[key]),
        }
    out.write_text(json.dumps(doc, indent=1) + "\n")
    log(f"wrote {out}")
    return out


# --- step 2: quantize with the committed ranges ---------------------------------------------


class CalibrationStaleError(RuntimeError):
    """The committed ranges were measured on another fp32 graph."""


def read_calibration(path: Path = CALIBRATION) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    return cast(dict[str, Any], json.loads(path.read_text()))


def calibration_for(key: str, fp32: Path, path: Path = CALIBRATION) -> dict[str, Any]:
    doc = read_calibration(path)
    if doc is None or key not in doc.get("models", {}):
        raise CalibrationStaleError(f"{path} has no ranges for {key}")
    entry = cast(dict[str, Any], doc["models"][key])
    if entry["fp32_sha256"] != file_sha256(fp32):
        raise CalibrationStaleError(
            f"{path}: the {key} ranges were measured on another fp32 file; run "
            "`python -m model_export calibrate-int8` (needs FACEMATCH_DATA) and commit the result"
        )
    return entry


def quantize(key: str, fp32: Path, target: Path, path: Path = CALIBRATION) -> Path:
    """Write the int8 sibling of ``fp32`` atomically, from the committed ranges."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import TensorData, TensorsData, save_tensors_data

    entry = calibration_for(key, fp32, path)
    ranges = TensorsData(
        CalibrationMethod.MinMax,
        {
            name: TensorData(lowest=np.float32(lo), highest=np.float32(hi))
            for name, (lo, hi) in entry["ranges"].items()
        },
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".quantize-") as tmp:
        cache = Path(tmp) / "ranges.json"
        save_tensors_data(ranges, cache)
        prepared = _prepared(fp32, Path(tmp))
        keep_ops = KEEP_FP32.get(key, ())
        excluded = [
            n.name for n in onnx.load_model(str(prepared)).graph.node if n.op_type in keep_ops
        ]
        written = Path(tmp) / "int8.onnx"
        quantize_static(
            str(prepared),
            str(written),
            None,
            quant_format=QuantFormat.QDQ,
            per_channel=SETTINGS.per_channel,
            reduce_range=SETTINGS.reduce_range,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            calibration_cache_path=str(cache),
            nodes_to_exclude=excluded,
        )
        model = onnx.load_model(str(written))
        model.producer_name = "facematch.model_export"
        model.doc_string = ""
        onnx.checker.check_model(model, full_check=True)
        onnx.save_model(model, str(written))
        os.replace(written, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model_export calibrate-int8", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("FACEMATCH_DATA", "../shared/data"))
    )
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--out", type=Path, default=CALIBRATION)
    args = parser.parse_args(argv)
    if not (args.data / "photos").is_dir():
        print(f"no photos/ under {args.data}; set FACEMATCH_DATA", file=sys.stderr)
        return 2
    calibrate(args.data, args.models, args.out)
    return 0

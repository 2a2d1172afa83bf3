"""int8 variants of the exported models: onnxruntime static quantization (QDQ, per-channel weights).

Two steps, like the alignment template (model_export/template.py):

1. ``python -m facematch_eval.int8_calibration [--data DIR] [--models DIR]`` runs the fp32 models on
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

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
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
# Ops left in fp32, per model. The embedder's last layer (one Gemm, 3,200 → 128: 0.1 % of its
# FLOPs) writes the template itself; kept fp32, the min cosine to the fp32 templates of the
# calibration chips rose from 0.99902 to 0.99934 (mean 0.99930 → 0.99957) for 5 % more time.
KEEP_FP32: dict[str, tuple[str, ...]] = {"embedder": ("Gemm",)}


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


def measure_ranges(
    fp32: Path, input_name: str, batches: Sequence[np.ndarray]
) -> dict[str, list[float]]:
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
            "`python -m facematch_eval.int8_calibration` (needs FACEMATCH_DATA) and commit it"
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

"""Step 1 of the int8 export (model_export/quantize.py): activation ranges measured on data.

    python -m facematch_eval.int8_calibration [--data DIR] [--models DIR] [--out FILE]

Runs the fp32 models on calibration inputs from ``FACEMATCH_DATA`` and writes every activation's
range (min/max) to ``model_export/int8_calibration.json``, committed with the list of photos used
and the sha256 of the fp32 file each table belongs to; ``python -m model_export export`` then
quantizes from that file alone. Inputs: the photos under ``photos/`` (identities, group photos,
non-face photos) — the embedder sees the aligned chips of every face the fp32 detector finds in
them plus dlib's ``dlib_johns`` chips; PNet, RNet and ONet see exactly the tensors the fp32
detector feeds them on those photos. The LFW images, on which accuracy is measured, are never used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from model_export import parity
from model_export.quantize import BASE_KEYS, CALIBRATION, FORMAT, SETTINGS, measure_ranges
from model_export.sources import file_sha256

_CALIBRATION_BATCH = 64
_PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}


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
        "command": "python -m facematch_eval.int8_calibration",
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
            "ranges": measure_ranges(fp32, entry["input"]["name"], inputs[key]),
        }
    out.write_text(json.dumps(doc, indent=1) + "\n")
    log(f"wrote {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m facematch_eval.int8_calibration", description=__doc__.split("\n\n")[0]
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


if __name__ == "__main__":
    raise SystemExit(main())

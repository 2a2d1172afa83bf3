"""models/manifest.json: what each exported file is, where it came from, and how to feed it.

Schema (docs/architecture.md): ``format``, ``exporter`` (versions), ``models`` (one entry per ONNX
file: file, sha256, input spec, outputs, source package/version/licence/file/sha256; the embedder
also has ``model_id``), and ``alignment`` (copied from model_export/alignment_template.json
when that exists). No timestamps, so an unchanged export writes a byte-identical manifest.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import onnx
import onnxruntime
import torch

from model_export.onnx_export import OPSET
from model_export.sources import Source, file_sha256
from model_export.specs import ModelSpec

FORMAT = 1
MANIFEST = "manifest.json"
ALIGNMENT_TEMPLATE = Path(__file__).with_name("alignment_template.json")
_PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

Manifest = dict[str, Any]


def facematch_version() -> str:
    try:
        return importlib.metadata.version("facematch")
    except importlib.metadata.PackageNotFoundError:
        # Running from a checkout that was never pip-installed.
        with _PYPROJECT.open("rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])


# The modules whose code decides the exported graphs: editing one of them invalidates the export.
_GRAPH_CODE = ("dlib_format.py", "dlib_resnet.py", "mtcnn.py", "onnx_export.py", "specs.py")


def code_sha256() -> str:
    digest = hashlib.sha256()
    for name in _GRAPH_CODE:
        digest.update(name.encode() + b"\0" + Path(__file__).with_name(name).read_bytes())
    return digest.hexdigest()


def exporter_info() -> dict[str, Any]:
    """Everything that can change the exported bytes; a change here means re-export."""
    return {
        "facematch": facematch_version(),
        "code_sha256": code_sha256(),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "opset": OPSET,
    }


def model_id(weights_sha256: str) -> str:
    """The id stored beside every template: names the pretrained weights, not the ONNX bytes.

    Templates from any export of the same weights are interchangeable (parity with dlib is
    checked to 1e-5), so a torch or onnxruntime upgrade that reorders the graph's bytes must not
    orphan every enrolled collection; new weights do get a new id.
    """
    return f"dlib-resnet-v1@{weights_sha256[:8]}"


def model_entry(spec: ModelSpec, path: Path, source: Source) -> dict[str, Any]:
    sha = file_sha256(path)
    entry: dict[str, Any] = {"file": spec.file, "sha256": sha}
    if spec.key == "embedder":
        entry["model_id"] = model_id(source.sha256())
    entry["input"] = spec.input_spec()
    entry.update(spec.extra)
    entry["source"] = source.describe()
    return entry


def int8_provenance(key: str, fp32: dict[str, Any], calibration: dict[str, Any]) -> dict[str, Any]:
    """What an int8 file is made from; an entry is current while this is unchanged."""
    from model_export import quantize

    ranges = json.dumps(calibration["ranges"], sort_keys=True).encode()
    return {
        **quantize.SETTINGS.describe(key),
        "code_sha256": hashlib.sha256(Path(quantize.__file__).read_bytes()).hexdigest(),
        "calibration_file": quantize.CALIBRATION.name,
        "calibration_inputs": calibration["inputs"],
        "calibration_sha256": hashlib.sha256(ranges).hexdigest(),
        "fp32_file": fp32["file"],
        "fp32_sha256": fp32["sha256"],
    }


def int8_entry(fp32: dict[str, Any], path: Path, provenance: dict[str, Any]) -> dict[str, Any]:
    """The int8 sibling's manifest entry: the fp32 entry's contract (input, outputs, source) with
    its own file, hash and quantization provenance. The embedder keeps the fp32 model_id: its
    templates are interchangeable with fp32 ones (docs/thresholds.md, "int8")."""
    entry = {k: v for k, v in fp32.items() if k not in ("file", "sha256")}
    return {"file": path.name, "sha256": file_sha256(path), **entry, "quantization": provenance}


def alignment() -> dict[str, Any] | None:
    if not ALIGNMENT_TEMPLATE.is_file():
        return None
    return json.loads(ALIGNMENT_TEMPLATE.read_text())


def read(out: Path) -> Manifest | None:
    path = out / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None  # a torn or hand-edited file is treated as absent: re-export rewrites it
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def write(out: Path, manifest: Manifest) -> Path:
    path = out / MANIFEST
    # A unique temporary name: two exports racing (parallel set-up runs) must not collide.
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(manifest, indent=2) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def file_problems(out: Path, manifest: Manifest) -> list[str]:
    """Files missing or not matching their recorded sha256; empty when all is well."""
    problems = []
    entries = dict(manifest.get("models", {}))
    if "landmarks" in manifest:
        entries["landmarks"] = manifest["landmarks"]
    for key, entry in entries.items():
        path = out / entry["file"]
        if not path.is_file():
            problems.append(f"{key}: {path} is missing")
        elif file_sha256(path) != entry.get("sha256"):
            problems.append(f"{key}: {path} does not match its sha256 in the manifest")
    return problems

"""Export every model into one folder and write its manifest; the API behind both CLIs.

``export_all(out)`` is what ``python -m model_export export`` and ``facematch export-models`` call.
It skips a model whose manifest entry still matches: same source file (package version and sha256),
same exporter versions, and the ONNX file on disk still has the recorded sha256.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from model_export import manifest as mf
from model_export import quantize as q8
from model_export.onnx_export import export_onnx
from model_export.sources import Source
from model_export.specs import SPECS, ModelSpec

Progress = Callable[[str], None]


def _is_current(
    out: Path, entry: dict[str, Any] | None, source: Source, same_exporter: bool
) -> bool:
    if not entry or not same_exporter:
        return False
    recorded = entry.get("source", {})
    if recorded.get("version") != source.version or recorded.get("sha256") != source.sha256():
        return False
    path = out / entry["file"]
    return path.is_file() and mf.file_sha256(path) == entry.get("sha256")


def export_model(spec: ModelSpec, out: Path) -> Path:
    """Build the torch module from its pretrained weights and write ``out/spec.file``."""
    module = spec.build()
    return export_onnx(
        module,
        spec.example(),
        out / spec.file,
        input_name=spec.input_name,
        output_names=spec.output_names,
        dynamic=spec.dynamic,
    )


def _int8_entry(
    out: Path,
    base: str,
    fp32: dict[str, Any],
    old: dict[str, Any] | None,
    force: bool,
    progress: Progress,
) -> dict[str, Any] | None:
    """Quantize ``fp32``'s file with the committed ranges; None (and a message) when they are
    missing or were measured on another fp32 graph: the fp32 export never fails because of it."""
    key = base + q8.SUFFIX
    source = out / fp32["file"]
    try:
        calibration = q8.calibration_for(base, source)
    except q8.CalibrationStaleError as exc:
        progress(f"{key}: skipped ({exc})")
        return None
    expected = mf.int8_provenance(base, fp32, calibration)
    if not force and old is not None and old.get("quantization") == expected:
        path = out / old["file"]
        if path.is_file() and mf.file_sha256(path) == old.get("sha256"):
            progress(f"{key}: up to date ({old['file']})")
            return old
    target = out / q8.int8_file(fp32["file"])
    progress(f"{key}: quantizing {fp32['file']} → {target.name}")
    started = time.perf_counter()
    q8.quantize(base, source, target)
    progress(f"{key}: done in {time.perf_counter() - started:.1f} s")
    return mf.int8_entry(fp32, target, expected)


def _export_shape_predictor(
    out: Path, entry: dict[str, Any] | None, force: bool
) -> dict[str, Any] | None:
    """dlib's 5-point shape predictor as numpy arrays (no ONNX: a tree cascade is cheaper in
    numpy); the runtime cuts dlib's own face chips with it. Skipped when already current."""
    from model_export.shape_predictor import (
        SHAPE_PREDICTOR_FILE,
        export_shape_predictor,
        shape_predictor_weights,
    )

    source = shape_predictor_weights()
    code = mf.file_sha256(Path(__file__).with_name("shape_predictor.py"))
    if entry and not force:
        recorded = entry.get("source", {})
        path = out / entry["file"]
        if (
            recorded.get("sha256") == source.sha256()
            and entry.get("code_sha256") == code
            and path.is_file()
            and mf.file_sha256(path) == entry.get("sha256")
        ):
            return entry
    path = export_shape_predictor(out)
    return {
        "file": SHAPE_PREDICTOR_FILE,
        "sha256": mf.file_sha256(path),
        "kind": "dlib-shape-predictor-5",
        "code_sha256": code,
        "source": source.describe(),
    }


def export_all(
    out: Path,
    *,
    force: bool = False,
    only: Iterable[str] | None = None,
    progress: Progress = print,
) -> mf.Manifest:
    """Export the models named in ``only`` (default: all) into ``out``; return the manifest.

    Entries outside ``only`` are kept from the existing manifest, so a partial export never
    forgets a model that is already there.
    """
    out.mkdir(parents=True, exist_ok=True)
    known = list(SPECS) + [key + q8.SUFFIX for key in q8.BASE_KEYS]
    wanted = known if only is None else list(only)
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {known}")

    old = mf.read(out) or {}
    exporter = mf.exporter_info()
    same_exporter = old.get("exporter") == exporter
    old_models: dict[str, Any] = old.get("models", {}) if same_exporter else {}
    models: dict[str, Any] = {}
    for key, spec in SPECS.items():
        if key not in wanted:
            if key in old_models:
                models[key] = old_models[key]
            continue
        source = spec.source()
        entry = old_models.get(key)
        if not force and _is_current(out, entry, source, same_exporter):
            progress(f"{key}: up to date ({spec.file})")
            models[key] = entry
            continue
        progress(f"{key}: exporting {source.package} {source.version} {source.file} → {spec.file}")
        started = time.perf_counter()
        path = export_model(spec, out)
        models[key] = mf.model_entry(spec, path, source)
        progress(f"{key}: done in {time.perf_counter() - started:.1f} s")

    for base in q8.BASE_KEYS:
        key = base + q8.SUFFIX
        if key not in wanted:
            if key in old_models:
                models[key] = old_models[key]
            continue
        if base not in models:
            continue
        entry = _int8_entry(out, base, models[base], old_models.get(key), force, progress)
        if entry is not None:
            models[key] = entry

    manifest: mf.Manifest = {"format": mf.FORMAT, "exporter": exporter, "models": models}
    landmarks = _export_shape_predictor(out, old.get("landmarks") if same_exporter else None, force)
    if landmarks is not None:
        manifest["landmarks"] = landmarks
    alignment = mf.alignment()
    if alignment is not None:
        manifest["alignment"] = alignment
    if manifest != old:
        mf.write(out, manifest)
        progress(f"wrote {out / mf.MANIFEST}")
    return manifest

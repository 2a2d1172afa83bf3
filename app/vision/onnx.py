"""onnxruntime sessions configured once, the same way for every model of the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import onnxruntime as ort

from app.settings import Int8Models

INT8_SUFFIX = "_int8"


def model_spec(manifest: dict[str, Any], key: str, *, int8: bool) -> dict[str, Any]:
    """The manifest entry to load for `key` ("embedder", "pnet", …), or its int8 sibling."""
    name = key + INT8_SUFFIX if int8 else key
    models: dict[str, Any] = manifest["models"]
    if name not in models:
        hint = " (int8 needs model_export/int8_calibration.json to match the fp32 files)"
        raise KeyError(
            f"{name} is not in the model manifest; run `python -m model_export export`"
            + (hint if int8 else "")
        )
    spec: dict[str, Any] = models[name]
    return spec


def uses_int8(selection: Int8Models, part: Literal["embedder", "detector"]) -> bool:
    return selection in (part, "all")


def create_session(path: Path, *, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    # One request runs one model at a time; inter-op parallelism would only fight the thread pool.
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    # Spinning worker threads burn the cores that OpenCV's resizes between the small MTCNN runs need
    # (measured: 60 → 30 ms per 640×480 photo on 2 cores), and the service shares its cores anyway.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])

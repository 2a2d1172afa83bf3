"""onnxruntime sessions configured once, the same way for every model of the pipeline."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


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

"""torch module → checked, CPU-optimised ONNX file.

Two steps per model:

1. ``torch.onnx.export`` (the torch.export-based exporter, opset 18) with symbolic batch and, where
   asked, symbolic image axes; constants are folded by the exporter's own ONNX optimiser, then
   ``onnx.checker`` runs in full-check mode (shape inference included).
2. onnxruntime's offline graph optimiser at ``ORT_ENABLE_BASIC``: constant folding, redundant-node
   elimination and Conv+Add/Mul fusions, all of them still standard ONNX ops. ``EXTENDED`` would
   write ``com.microsoft`` fused kernels that tie the file to the CPU provider; the service turns on
   ``ORT_ENABLE_ALL`` at load time anyway, so nothing is lost by leaving those to run time.

Reproducibility: the result is byte-identical from one run to the next on the same torch, onnx and
onnxruntime versions. ``tests/model_export/test_export.py`` checks it on PNet; the full export was
checked with two ``--force`` exports into fresh folders (all four files and the manifest matched).
It is also independent of where the checkout lives: the exporter's provenance annotations (stack
traces with absolute paths and line numbers) are stripped. Other torch/onnx/onnxruntime versions
may order or name nodes differently; the manifest records them for that reason.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import onnx
import onnxruntime as ort
import torch

OPSET = 18
# Upper bounds only tell torch.export the axes are unbounded in practice.
_MAX_BATCH = 4096
_MAX_SIDE = 16384


def _dims(dynamic: Mapping[int, str], example: torch.Tensor) -> dict[int, torch.export.Dim]:
    dims: dict[int, torch.export.Dim] = {}
    for axis, name in dynamic.items():
        if axis == 0:
            dims[axis] = torch.export.Dim(name, min=1, max=_MAX_BATCH)
        else:
            # Never below the example: the smallest valid input of a conv stack is model-specific.
            dims[axis] = torch.export.Dim(name, min=int(example.shape[axis]) // 4, max=_MAX_SIDE)
    return dims


def _torch_to_onnx(
    module: torch.nn.Module,
    example: torch.Tensor,
    path: Path,
    *,
    input_name: str,
    output_names: Sequence[str],
    dynamic: Mapping[int, str],
) -> None:
    # The exporter is chatty (progress lines, torchvision-missing warnings); keep the CLI readable.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    logging.getLogger("torch.export").setLevel(logging.ERROR)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module.eval(),
            (example,),
            dynamo=True,
            opset_version=OPSET,
            input_names=[input_name],
            output_names=list(output_names),
            dynamic_shapes=(_dims(dynamic, example),),
            optimize=True,
            verbose=False,
            external_data=False,
        )
    assert program is not None
    model = program.model_proto
    # The exporter names symbolic axes s0, s1...; give them the contract's names.
    _rename_input_dims(model, input_name, dynamic)
    _strip_metadata(model)
    onnx.save_model(model, str(path))


def _strip_metadata(model: onnx.ModelProto) -> None:
    """Drop the exporter's provenance annotations (stack traces with absolute paths and line
    numbers, FX node dumps): they would make the bytes, and so the embedder's model_id, depend
    on where the checkout lives and on edits that do not touch the graph."""
    del model.metadata_props[:]
    graph = model.graph
    del graph.metadata_props[:]
    for node in graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    for values in (graph.input, graph.output, graph.value_info, graph.initializer):
        for value in values:
            del value.metadata_props[:]
            value.doc_string = ""


def _rename_input_dims(model: onnx.ModelProto, input_name: str, dynamic: Mapping[int, str]) -> None:
    for value in model.graph.input:
        if value.name != input_name:
            continue
        for axis, name in dynamic.items():
            dim = value.type.tensor_type.shape.dim[axis]
            if dim.HasField("dim_param") or not dim.HasField("dim_value"):
                dim.dim_param = name


def _ort_optimise(source: Path, target: Path) -> None:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(target)
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def _strip_volatile(path: Path) -> None:
    """Drop fields that describe the tool run rather than the graph, so files stay comparable."""
    model = onnx.load_model(str(path))
    model.producer_name = "facematch.model_export"
    model.producer_version = f"torch-{torch.__version__};onnxruntime-{ort.__version__}"
    model.doc_string = ""
    # ORT's writer declares every domain it knows; keep only those the graph uses.
    used = {node.domain for node in model.graph.node}
    kept = [o for o in model.opset_import if o.domain in used or o.domain in ("", "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    onnx.checker.check_model(model, full_check=True)
    onnx.save_model(model, str(path))


def export_onnx(
    module: torch.nn.Module,
    example: torch.Tensor,
    path: Path,
    *,
    input_name: str,
    output_names: Sequence[str],
    dynamic: Mapping[int, str],
) -> Path:
    """Write ``path`` atomically: a crash mid-export never leaves a half-written model behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        optimised = Path(tmp) / "optimised.onnx"
        _torch_to_onnx(
            module, example, raw, input_name=input_name, output_names=output_names, dynamic=dynamic
        )
        onnx.checker.check_model(str(raw), full_check=True)
        _ort_optimise(raw, optimised)
        _strip_volatile(optimised)
        os.replace(optimised, path)
    return path

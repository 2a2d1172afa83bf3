"""What gets exported: one spec per ONNX file, with the contract the runtime reads from the
manifest.

The input/output descriptions here are exactly what docs/architecture.md promises the service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from model_export import mtcnn
from model_export.sources import Source, dlib_resnet_weights, mtcnn_weights

EMBEDDER_MEAN = (122.782, 117.001, 104.298)  # dlib's per-channel RGB means
EMBEDDER_SCALE = 1.0 / 256.0
CHIP_SIZE = 150


@dataclass(frozen=True)
class ModelSpec:
    key: str  # the manifest's key
    file: str
    source: Callable[[], Source]
    build: Callable[[], torch.nn.Module]
    example_shape: tuple[int, int, int, int]
    output_names: tuple[str, ...]
    dynamic: dict[int, str]
    input_meta: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    input_name: str = "input"

    def example(self) -> torch.Tensor:
        # Fixed values so two exports trace the same thing; the graph does not depend on them.
        generator = torch.Generator().manual_seed(0)
        return torch.rand(self.example_shape, generator=generator) * 2 - 1

    def input_spec(self) -> dict[str, Any]:
        shape: list[int | str] = list(self.example_shape)
        for axis, name in self.dynamic.items():
            shape[axis] = name
        return {"name": self.input_name, "shape": shape, "layout": "NCHW", **self.input_meta}


def _build_dlib_resnet() -> torch.nn.Module:
    from model_export.dlib_resnet import load  # needs only numpy and torch, but is the slow one

    return load()


_MTCNN_INPUT = {"channel_order": "RGB", "mean": mtcnn.INPUT_MEAN, "scale": mtcnn.INPUT_SCALE}


def _mtcnn_spec(name: str) -> ModelSpec:
    size = mtcnn.INPUT_SIZES[name]
    dynamic = {0: "N"} if size else {0: "N", 2: "H", 3: "W"}
    side = size or 48
    return ModelSpec(
        key=name,
        file=f"mtcnn_{name}.onnx",
        source=lambda: mtcnn_weights(name),
        build=lambda: mtcnn.load(name),
        example_shape=(2, 3, side, side),
        output_names=tuple(mtcnn.OUTPUT_NAMES[name]),
        dynamic=dynamic,
        input_meta=dict(_MTCNN_INPUT),
        extra={"outputs": list(mtcnn.OUTPUT_NAMES[name])},
    )


EMBEDDER = ModelSpec(
    key="embedder",
    file="dlib_resnet_v1.onnx",
    source=dlib_resnet_weights,
    build=_build_dlib_resnet,
    example_shape=(2, 3, CHIP_SIZE, CHIP_SIZE),
    output_names=("embedding",),
    dynamic={0: "N"},
    input_meta={"channel_order": "RGB", "mean": list(EMBEDDER_MEAN), "scale": EMBEDDER_SCALE},
    extra={"output": {"name": "embedding", "dim": 128, "normalized": False}},
)

SPECS: dict[str, ModelSpec] = {
    "embedder": EMBEDDER,
    "pnet": _mtcnn_spec("pnet"),
    "rnet": _mtcnn_spec("rnet"),
    "onet": _mtcnn_spec("onet"),
}

"""Aligned 150×150 chips → L2-normalised 128-D templates with the ONNX port of dlib's ResNet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from app.vision.onnx import create_session


class Embedder:
    """Thread-safe; one `embed` call is one onnxruntime run, whatever the number of chips."""

    def __init__(
        self, model_dir: Path, spec: dict[str, Any], *, threads: int, flip_tta: bool
    ) -> None:
        self._session = create_session(model_dir / spec["file"], threads=threads)
        inp = spec.get("input", {})
        self._input_name: str = inp.get("name", "input")
        self._output_name: str = spec.get("output", {}).get("name", "embedding")
        self._mean = np.asarray(inp.get("mean", [122.782, 117.001, 104.298]), np.float32)
        self._scale = np.float32(inp.get("scale", 1 / 256))
        if inp.get("channel_order", "RGB") != "RGB":
            raise ValueError("the embedder must take RGB input (see docs/architecture.md)")
        self.dim: int = int(spec.get("output", {}).get("dim", 128))
        self.flip_tta = flip_tta

    def descriptors(self, chips: np.ndarray) -> np.ndarray:
        """(n, 150, 150, 3) uint8 RGB → the network's raw (n, dim) outputs, as dlib returns them."""
        x = (chips.astype(np.float32) - self._mean) * self._scale
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        (raw,) = self._session.run([self._output_name], {self._input_name: x})
        return np.asarray(raw, dtype=np.float32)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """(n, 150, 150, 3) or (n, views, 150, 150, 3) uint8 RGB → (n, dim) float32 unit vectors.

        A face's views (`VisionPipeline.chip_views`), and with flip TTA each view's mirror image,
        are embedded in the same batch; each embedding is normalised and a face's are summed: the
        mirror is the same identity, and averaging cancels part of the error that depends on which
        side the light or the head turn falls, or on where alignment put the points.
        """
        if chips.ndim == 4:
            chips = chips[:, None]
        n, views = chips.shape[:2]
        if n == 0:
            return np.zeros((0, self.dim), np.float32)
        flat = chips.reshape(n * views, *chips.shape[2:])
        batch = np.concatenate([flat, flat[:, :, ::-1]]) if self.flip_tta else flat
        raw = self.descriptors(batch)
        if self.flip_tta or views > 1:
            raw = raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)
            raw = raw.reshape(-1, n, views, raw.shape[-1]).sum(axis=(0, 2))
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        unit: np.ndarray = (raw / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

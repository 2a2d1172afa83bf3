"""The model in service: its thresholds and the FAR calibration table behind them."""

from __future__ import annotations

from dataclasses import dataclass

from app.services.matching import resolve_threshold
from app.vision.pipeline import VisionPipeline


@dataclass(frozen=True, slots=True)
class CalibrationPoint:
    similarity: float
    far: float


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model_id: str
    embedding_dim: int
    default_threshold: float
    threshold: float
    estimated_far: float  # at `threshold`
    impostor_pairs: int
    far_floor: float
    calibration: list[CalibrationPoint]


def describe_model(*, pipeline: VisionPipeline, configured_threshold: float | None) -> ModelInfo:
    """What `/v1/models` reports: the threshold in force, what it costs in false accepts, and the
    measured table (similarity → share of impostor pairs at or above it) it was chosen from."""
    used = resolve_threshold(requested=None, configured=configured_threshold, pipeline=pipeline)
    table = pipeline.calibration
    return ModelInfo(
        model_id=pipeline.model_id,
        embedding_dim=pipeline.embedding_dim,
        default_threshold=float(pipeline.default_threshold),
        threshold=used,
        estimated_far=pipeline.estimate_far(used),
        impostor_pairs=table.impostor_pairs,
        far_floor=table.far_floor,
        calibration=[
            CalibrationPoint(similarity=float(s), far=float(f))
            for s, f in zip(table.similarities, table.fars, strict=True)
        ],
    )

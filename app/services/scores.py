"""Scores for the protocols that compare a 0-1 number against their clients' own defaults.

DeepStack's `confidence`, CompreFace's `similarity` and Rekognition's `Similarity` (x100) are all
`foreign_score`: a monotone function of the calibrated false-accept rate, defined by
`app.vision.calibration.ForeignScale` (the score <-> FAR <-> cosine table is in docs/compat.md,
written by `scripts/export_compat_scores.py`). Client defaults land at these FARs with the
committed calibration: DeepStack 0.67 -> 1e-3 (facematch's default operating point), Double
Take 0.60 -> 2.1e-3, CompreFace 0.5 -> 5.8e-3, deepstack-python 0.45 -> 9.7e-3, Rekognition
80 -> 2.4e-5 (tests/services/test_foreign_scale.py holds these bounds).
"""

from __future__ import annotations

from app.vision.pipeline import VisionPipeline


def foreign_score(similarity: float, *, pipeline: VisionPipeline) -> float:
    """Cosine similarity of two templates -> the 0-1 score foreign protocols report."""
    return pipeline.foreign_scale.score(similarity)


def foreign_threshold(score: float, *, pipeline: VisionPipeline) -> float:
    """A client's 0-1 score threshold as the cosine `/v1` services take (`score >= t` exactly
    when `similarity >= foreign_threshold(t)`)."""
    return pipeline.foreign_scale.similarity_for_score(score)


def far_at_score(score: float, *, pipeline: VisionPipeline) -> float:
    """The false-accept rate a client accepting `score >= score` gets."""
    return pipeline.foreign_scale.far_for_score(score)

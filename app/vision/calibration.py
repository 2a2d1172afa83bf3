"""Similarity → estimated false-accept rate, from impostor scores measured by `app.eval`.

The table (app/vision/calibration.json) holds, for a grid of cosine similarities, the fraction of
different-person pairs that scored at or above it; small, committed, with its provenance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


@dataclass(frozen=True, slots=True)
class FarCalibration:
    similarities: np.ndarray  # ascending
    fars: np.ndarray  # non-increasing, FAR at each similarity
    impostor_pairs: int
    model_id: str
    default_far: float
    default_threshold: float

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE, *, flip_tta: bool = False) -> FarCalibration:
        doc = json.loads(path.read_text())
        table = doc["tables"]["flip_tta" if flip_tta else "plain"]
        sims = np.asarray([row[0] for row in table], np.float64)
        fars = np.asarray([row[1] for row in table], np.float64)
        if np.any(np.diff(sims) <= 0) or np.any(np.diff(fars) > 0):
            raise ValueError(f"{path}: calibration table must be sorted with non-increasing FAR")
        default = doc["default_threshold"]["flip_tta" if flip_tta else "plain"]
        return cls(
            similarities=sims,
            fars=fars,
            impostor_pairs=int(doc["impostor_pairs"]),
            model_id=str(doc["model_id"]),
            default_far=float(default["far"]),
            default_threshold=float(default["similarity"]),
        )

    @property
    def far_floor(self) -> float:
        """Below one impostor in the measured set the table cannot tell; report that bound."""
        return 1.0 / self.impostor_pairs

    def estimate_far(self, similarity: float) -> float:
        """Interpolated in log-FAR between grid points; clamped to [1/impostor_pairs, 1]."""
        if not np.isfinite(similarity):
            raise ValueError("similarity must be finite")
        if similarity <= self.similarities[0]:
            return float(self.fars[0])
        floor = self.far_floor
        log_fars = np.log(np.maximum(self.fars, floor))
        value = float(np.exp(np.interp(similarity, self.similarities, log_fars)))
        return float(min(1.0, max(floor, value)))

"""Similarity → estimated false-accept rate, from impostor scores measured by `facematch eval`.

The table (app/vision/calibration.json) holds, for a grid of cosine similarities, the fraction of
different-person pairs that scored at or above it; small, committed, with its provenance.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
# The int8 embedder's own table (FACEMATCH_INT8_MODELS=embedder|all), measured the same way with
# int8 templates: its impostor scores sit lower than fp32's (FAR 0.89e-3 at the fp32 threshold
# for 1e-3, docs/thresholds.md), so the fp32 table would misstate its FAR.
INT8_CALIBRATION_FILE = Path(__file__).with_name("calibration_int8.json")


def calibration_file_for(*, int8_embedder: bool) -> Path:
    return INT8_CALIBRATION_FILE if int8_embedder else CALIBRATION_FILE


def template_mode(*, fused_chips: bool, flip_tta: bool) -> str:
    """How templates are made, naming the calibration table: "fused" (two chips and their mirrors,
    the default), "flip_tta" (MTCNN's chip and its mirror) or "plain" (MTCNN's chip alone)."""
    if fused_chips:
        return "fused"
    return "flip_tta" if flip_tta else "plain"


@dataclass(frozen=True, slots=True)
class FarCalibration:
    similarities: np.ndarray  # ascending
    fars: np.ndarray  # non-increasing, FAR at each similarity
    impostor_pairs: int
    model_id: str
    default_far: float
    default_threshold: float

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE, *, mode: str = "fused") -> FarCalibration:
        """The table of one template mode (`template_mode`): each mode's scores differ."""
        doc = json.loads(path.read_text())
        if mode not in doc["tables"]:
            raise KeyError(f"{path} has no calibration for templates {mode!r}; run facematch eval")
        table = doc["tables"][mode]
        sims = np.asarray([row[0] for row in table], np.float64)
        fars = np.asarray([row[1] for row in table], np.float64)
        if np.any(np.diff(sims) <= 0) or np.any(np.diff(fars) > 0):
            raise ValueError(f"{path}: calibration table must be sorted with non-increasing FAR")
        default = doc["default_threshold"][mode]
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


# The score a foreign 0-1 scale gives facematch's default operating point. 0.67 is DeepStack's own
# default `min_confidence`, the strictest of the common client defaults (deepstack-python 0.45,
# CompreFace 0.5, Double Take 0.60), so an unconfigured DeepStack client accepts exactly what
# `/v1` accepts by default, and every lower client default still lands between 1e-2 and the
# default FAR (with the committed table: 0.45 -> FAR 9.7e-3, see docs/compat.md).
DEFAULT_POINT_SCORE = 0.67


@dataclass(frozen=True, slots=True)
class ForeignScale:
    """One monotone 0-1 score for the APIs whose clients compare to their own 0-1 defaults.

    DeepStack's `confidence`, CompreFace's `similarity` and (x100) Rekognition's `Similarity` are
    all this score. It is a function of the calibrated false-accept rate, never of the raw cosine
    (a naive `(cos + 1) / 2` puts the typical impostor, cosine ~0.8, above every client default):

    - score 0 is FAR 1 (every impostor pair scores at least this),
    - from FAR 1 down to the calibration's default FAR the score climbs linearly in log10(FAR)
      to `DEFAULT_POINT_SCORE`,
    - from there to the table's resolution floor (one impostor pair in the measured set) it
      climbs linearly in log10(FAR) to 1.

    Both anchors (default FAR, floor) come from the calibration table at load time, so a
    re-calibrated pipeline moves the mapping with it. The score is non-decreasing in similarity
    (flat where the measured FAR is flat, and 1 beyond the floor).
    """

    calibration: FarCalibration

    @property
    def _decades_default(self) -> float:
        return -math.log10(self.calibration.default_far)

    @property
    def _decades_floor(self) -> float:
        return -math.log10(self.calibration.far_floor)

    def score_for_far(self, far: float) -> float:
        decades = -math.log10(min(1.0, max(far, self.calibration.far_floor)))
        d0, d1 = self._decades_default, self._decades_floor
        if decades <= d0:
            score = DEFAULT_POINT_SCORE * decades / d0
        else:
            score = DEFAULT_POINT_SCORE + (1 - DEFAULT_POINT_SCORE) * (decades - d0) / (d1 - d0)
        return float(min(1.0, max(0.0, score)))

    def far_for_score(self, score: float) -> float:
        """The FAR a client accepting `score >= score` gets (the inverse of `score_for_far`)."""
        if not 0.0 <= score <= 1.0:
            raise ValueError("score must be within [0, 1]")
        d0, d1 = self._decades_default, self._decades_floor
        if score <= DEFAULT_POINT_SCORE:
            decades = d0 * score / DEFAULT_POINT_SCORE
        else:
            decades = d0 + (d1 - d0) * (score - DEFAULT_POINT_SCORE) / (1 - DEFAULT_POINT_SCORE)
        return float(10.0**-decades)

    def score(self, similarity: float) -> float:
        """Cosine similarity -> score in [0, 1]."""
        return self.score_for_far(self.calibration.estimate_far(similarity))

    def similarity_for_score(self, score: float) -> float:
        """The lowest cosine whose score reaches `score` (a client threshold as a cosine).

        Bisection on the monotone `score`: exact to 1e-6, whatever shape the table has.
        """
        if not 0.0 <= score <= 1.0:
            raise ValueError("score must be within [0, 1]")
        lo, hi = -1.0, 1.0
        if self.score(lo) >= score:
            return lo
        while hi - lo > 1e-6:
            mid = (lo + hi) / 2
            if self.score(mid) >= score:
                hi = mid
            else:
                lo = mid
        return hi

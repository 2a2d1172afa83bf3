"""The 0-1 score foreign protocols report: monotone, derived from the calibrated FAR, and placing
every common client default at a false-accept rate no laxer than the issue allows."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.vision.calibration import (
    CALIBRATION_FILE,
    DEFAULT_POINT_SCORE,
    FarCalibration,
    ForeignScale,
)
from tests.helpers import REPO


@pytest.fixture(scope="module", params=["fused", "plain", "flip_tta"])
def scale(request: pytest.FixtureRequest) -> ForeignScale:
    return ForeignScale(FarCalibration.load(CALIBRATION_FILE, mode=request.param))


def test_score_is_monotone_and_within_0_1(scale: ForeignScale) -> None:
    sims = np.linspace(-1.0, 1.0, 4001)
    scores = np.array([scale.score(float(s)) for s in sims])
    assert scores.min() == 0.0 and scores.max() == 1.0
    assert np.all(np.diff(scores) >= 0)


@pytest.mark.parametrize(
    ("client_default", "far_limit"),
    [
        (0.45, 1e-2),  # deepstack-python
        (0.5, 1e-2),  # CompreFace's recommendation
        (0.6, 1e-2),  # Double Take 60 %
    ],
)
def test_client_defaults_land_at_far_1e_2_or_stricter(
    scale: ForeignScale, client_default: float, far_limit: float
) -> None:
    cosine = scale.similarity_for_score(client_default)
    assert scale.calibration.estimate_far(cosine) <= far_limit


@pytest.mark.parametrize("client_default", [0.67, 0.80])  # DeepStack server, Rekognition 80/100
def test_strict_defaults_land_at_the_default_operating_point_or_stricter(
    scale: ForeignScale, client_default: float
) -> None:
    cosine = scale.similarity_for_score(client_default)
    assert cosine >= scale.calibration.default_threshold - 1e-4
    assert scale.calibration.estimate_far(cosine) <= scale.calibration.default_far * 1.001


def test_threshold_and_score_agree(scale: ForeignScale) -> None:
    """`score >= t` exactly when `similarity >= similarity_for_score(t)` (bisection to 1e-6)."""
    for t in (0.1, 0.45, 0.5, 0.6, DEFAULT_POINT_SCORE, 0.8, 0.95):
        cosine = scale.similarity_for_score(t)
        assert scale.score(cosine) >= t
        assert scale.score(cosine - 2e-6) < t
        far = scale.calibration.estimate_far(cosine)
        assert far <= scale.far_for_score(t)
        assert far == pytest.approx(scale.far_for_score(t), rel=1e-3)


def test_naive_mapping_is_what_the_scale_avoids(scale: ForeignScale) -> None:
    """A typical impostor (cosine 0.8) must score far below every client default."""
    assert scale.score(0.8) < 0.05
    assert (0.8 + 1) / 2 > 0.67  # what DeepStack's own (cos+1)/2 would have reported


def test_scale_follows_a_recalibration(tmp_path: Path) -> None:
    """The anchors come from the table: a stricter default FAR moves the 0.67 point with it."""
    doc = json.loads(CALIBRATION_FILE.read_text())
    # The table's own cosine at FAR 1e-4 (the row nearest it).
    at_1e4 = min(doc["tables"]["fused"], key=lambda row: abs(math.log10(max(row[1], 1e-12)) + 4))[0]
    doc["default_threshold"]["fused"] = {"far": 1e-4, "similarity": at_1e4}
    moved = tmp_path / "calibration.json"
    moved.write_text(json.dumps(doc))
    scale = ForeignScale(FarCalibration.load(moved))
    assert scale.far_for_score(DEFAULT_POINT_SCORE) == pytest.approx(1e-4)
    assert scale.similarity_for_score(DEFAULT_POINT_SCORE) == pytest.approx(at_1e4, abs=1e-3)


def test_committed_score_table_is_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "export_compat_scores.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

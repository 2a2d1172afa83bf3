"""Our MTCNN + template alignment reproduces dlib's own face chips.

dlib's example chips (tests/fixtures/photos/chips, and all 55 of
$FACEMATCH_DATA/photos/identities/dlib_johns) were cut by dlib's get_face_chip. Aligning such a
chip again with our pipeline must give (nearly) the identity map. Tolerances, from the spread over
the 55 shared chips (worst case in brackets): scale within 10% (0.94-1.09), rotation within 5°
(2.7°), chip centre moved at most 5 px (3.9 px), mean absolute pixel difference over the inner
120×120 at most 20 of 255 (18.2; median 10.3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.vision.align import align_face, load_template, transform_points
from app.vision.decode import decode_image
from app.vision.detector import MtcnnDetector


def _check(detector: MtcnnDetector, path: Path) -> None:
    chip_in = decode_image(path.read_bytes(), max_pixels=1_000_000).pixels
    found = detector.detect(chip_in, min_face_size=40)
    assert len(found) >= 1, f"no face in dlib chip {path.name}"
    best = int(np.argmax(found.scores))
    chip_out, matrix = align_face(
        chip_in, found.landmarks[best].astype(np.float64), load_template()
    )
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))
    angle = float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
    centre_shift = float(np.hypot(*(transform_points(matrix, np.array([[74.5, 74.5]]))[0] - 74.5)))
    difference = np.abs(chip_out.astype(float) - chip_in.astype(float))[15:135, 15:135].mean()
    assert 0.90 <= scale <= 1.10, f"{path.name}: scale {scale:.3f}"
    assert abs(angle) <= 5.0, f"{path.name}: rotation {angle:.1f}°"
    assert centre_shift <= 5.0, f"{path.name}: centre moved {centre_shift:.1f} px"
    assert difference <= 20.0, f"{path.name}: mean pixel difference {difference:.1f}"


def test_fixture_dlib_chips_realign_to_themselves(detector: MtcnnDetector, photos: Path) -> None:
    chips = sorted((photos / "chips").glob("*.jpg"))
    assert len(chips) == 4
    for path in chips:
        _check(detector, path)


def test_all_dlib_example_chips_realign_to_themselves(
    detector: MtcnnDetector, shared_data: Path
) -> None:
    chips = sorted((shared_data / "photos" / "identities" / "dlib_johns").glob("*/*.jpg"))
    if not chips:
        pytest.skip("dlib_johns chips not in the shared data")
    for path in chips:
        _check(detector, path)

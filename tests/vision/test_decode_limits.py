"""Decode work is bounded: scan bombs refused from the marker structure, deadlines honoured,
and high-depth PNGs converted without float64 temporaries (issue 11)."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from app.vision import deadline
from app.vision.decode import (
    MAX_JPEG_SCANS,
    _high_depth_to_gray,
    decode_image,
    jpeg_scan_count,
)
from app.vision.types import ImageError
from tests.attack.corpus import png_16bit_gray, progressive_scan_bomb, upright_photo


def _jpeg(**params: object) -> bytes:
    out = io.BytesIO()
    upright_photo().save(out, format="JPEG", **params)
    return out.getvalue()


def test_scan_counts_of_real_encodings() -> None:
    assert jpeg_scan_count(_jpeg(), stop_after=1000) == 1
    assert jpeg_scan_count(_jpeg(progressive=True), stop_after=1000) == 10
    assert jpeg_scan_count(progressive_scan_bomb(), stop_after=1000) == 1001  # stops counting


def test_scan_bomb_is_refused_before_decoding() -> None:
    started = time.monotonic()
    with pytest.raises(ImageError) as refused:
        decode_image(progressive_scan_bomb(), max_pixels=40_000_000)
    assert refused.value.code == "image_too_large"
    assert f"more than {MAX_JPEG_SCANS}" in str(refused.value)
    assert time.monotonic() - started < 5  # decoding it takes minutes


def test_progressive_photo_within_the_limit_decodes() -> None:
    decoded = decode_image(_jpeg(progressive=True), max_pixels=40_000_000)
    assert decoded.pixels.shape[2] == 3


def test_decoding_stops_once_the_deadline_has_passed() -> None:
    with deadline.deadline_at(time.monotonic() - 1), pytest.raises(deadline.DeadlineExceeded):
        decode_image(_jpeg(progressive=True), max_pixels=40_000_000)


def test_16_bit_grey_is_scaled_not_clipped() -> None:
    decoded = decode_image(png_16bit_gray(), max_pixels=40_000_000)
    reference = np.asarray(upright_photo().convert("L"), dtype=np.int16)
    assert np.abs(decoded.pixels[:, :, 0].astype(np.int16) - reference).max() <= 1
    assert (decoded.pixels[:, :, 0] == decoded.pixels[:, :, 2]).all()


def test_32_bit_and_float_grey_convert_too() -> None:
    # Not reachable through the allowed formats today, but the converter must not clip them.
    for image, want in (
        (Image.new("I", (64, 48), 40000), round(40000 * 255 / 65535)),
        (Image.new("F", (64, 48), 200.0), 200),
        (Image.new("I", (64, 48), -5), 0),
    ):
        gray = _high_depth_to_gray(image)
        assert gray.dtype == np.uint8 and int(gray[0, 0]) == want, image.mode

"""Decoding: every photo a phone or browser sends becomes 8-bit RGB; everything else is refused."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from app.vision.decode import decode_image
from app.vision.types import ImageError

LIMIT = 40_000_000


def _encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _gradient(width: int = 64, height: int = 48) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.float64)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.float64)[:, None].repeat(width, 1)
    rgb = np.stack([x, y, 255 - x], axis=2).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP"])
def test_allowed_formats_decode_to_rgb_uint8(fmt: str) -> None:
    decoded = decode_image(_encode(_gradient(), fmt), max_pixels=LIMIT)
    assert decoded.pixels.shape == (48, 64, 3)
    assert decoded.pixels.dtype == np.uint8
    assert decoded.format == fmt


def test_gif_decodes_its_first_frame() -> None:
    red = Image.new("RGB", (20, 10), (255, 0, 0))
    blue = Image.new("RGB", (20, 10), (0, 0, 255))
    data = _encode(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)
    pixels = decode_image(data, max_pixels=LIMIT).pixels
    assert pixels.shape == (10, 20, 3)
    assert pixels[5, 10, 0] > 200 and pixels[5, 10, 2] < 50


def test_cmyk_jpeg_becomes_rgb() -> None:
    data = _encode(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG", quality=95)
    pixels = decode_image(data, max_pixels=LIMIT).pixels
    assert pixels.shape == (32, 32, 3)
    r, g, b = pixels[16, 16].astype(int)
    assert r > 200 and g < 60 and b < 60  # cyan-free, magenta+yellow = red


def test_sixteen_bit_grayscale_is_scaled_not_clipped() -> None:
    values = np.full((16, 16), 32768, dtype=np.uint16)  # mid-gray in 16 bits
    data = _encode(Image.fromarray(values), "PNG")
    pixels = decode_image(data, max_pixels=LIMIT).pixels
    assert 120 <= int(pixels[8, 8, 0]) <= 135
    assert (pixels[..., 0] == pixels[..., 2]).all()


def test_palette_image_becomes_rgb() -> None:
    data = _encode(_gradient().convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG")
    pixels = decode_image(data, max_pixels=LIMIT).pixels
    assert pixels.shape == (48, 64, 3)


def test_transparent_pixels_are_flattened_onto_white() -> None:
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    rgba.putpixel((5, 5), (0, 0, 0, 255))
    pixels = decode_image(_encode(rgba, "PNG"), max_pixels=LIMIT).pixels
    assert pixels[0, 0].tolist() == [255, 255, 255]
    assert pixels[5, 5].tolist() == [0, 0, 0]


def test_grayscale_becomes_three_equal_channels() -> None:
    data = _encode(_gradient().convert("L"), "JPEG")
    pixels = decode_image(data, max_pixels=LIMIT).pixels
    assert pixels.shape == (48, 64, 3)
    assert np.abs(pixels[..., 0].astype(int) - pixels[..., 1]).max() <= 1


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 10, 20))  # white stripe on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    decoded = decode_image(_encode(image, "JPEG", exif=exif.tobytes()), max_pixels=LIMIT)
    assert decoded.pixels.shape == (40, 20, 3)  # portrait now
    assert decoded.original_size == (20, 40)
    assert decoded.pixels[2, 10].mean() > 200  # the left stripe is now along the top


def test_pixel_cap_is_checked_from_the_header_before_decoding() -> None:
    # A valid PNG header claiming 100000 × 100000 pixels, with no pixel data at all.
    header = b"\x89PNG\r\n\x1a\n" + _png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    )
    with pytest.raises(ImageError) as err:
        decode_image(header + _png_chunk(b"IEND", b""), max_pixels=LIMIT)
    assert err.value.code == "image_too_large"


def test_image_just_over_the_cap_is_refused() -> None:
    with pytest.raises(ImageError) as err:
        decode_image(_encode(_gradient(64, 48), "PNG"), max_pixels=64 * 48 - 1)
    assert err.value.code == "image_too_large"


def test_truncated_jpeg_is_invalid() -> None:
    data = _encode(_gradient(256, 256), "JPEG", quality=90)
    with pytest.raises(ImageError) as err:
        decode_image(data[: len(data) // 2], max_pixels=LIMIT)
    assert err.value.code == "invalid_image"


@pytest.mark.parametrize("data", [b"", b"hello, this is not an image", b"\xff\xd8\xff" + b"\0" * 8])
def test_non_images_are_invalid(data: bytes) -> None:
    with pytest.raises(ImageError) as err:
        decode_image(data, max_pixels=LIMIT)
    assert err.value.code == "invalid_image"


@pytest.mark.parametrize("fmt", ["TIFF", "ICO"])
def test_known_but_disallowed_formats_are_unsupported(fmt: str) -> None:
    with pytest.raises(ImageError) as err:
        decode_image(_encode(_gradient(), fmt), max_pixels=LIMIT)
    assert err.value.code == "unsupported_format"


def test_svg_is_unsupported() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    with pytest.raises(ImageError) as err:
        decode_image(svg, max_pixels=LIMIT)
    assert err.value.code == "unsupported_format"


def test_large_jpeg_is_decoded_reduced_when_asked() -> None:
    data = _encode(_gradient(2000, 1000), "JPEG")
    decoded = decode_image(data, max_pixels=LIMIT, reduce_to_max_side=500)
    assert decoded.pixels.shape == (250, 500, 3)  # DCT scale 1/4: the long side is exactly 500
    assert decoded.original_size == (2000, 1000)
    assert decoded.scale == pytest.approx(4.0)


def test_reduction_never_goes_below_the_requested_side() -> None:
    data = _encode(_gradient(2000, 1000), "JPEG")
    decoded = decode_image(data, max_pixels=LIMIT, reduce_to_max_side=300)
    assert max(decoded.pixels.shape[:2]) >= 300
    assert decoded.scale == pytest.approx(2000 / decoded.pixels.shape[1])

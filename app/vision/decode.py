"""Bytes → 8-bit RGB pixels, refusing anything that is not a plain photo of a sane size.

Only a few formats are parsed at all (every other Pillow plugin is attack surface), the pixel
count is checked from the header before the decoder allocates anything, and every failure is
an `ImageError` with a stable code.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.vision.types import ImageError

ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "BMP", "GIF")

# Signatures of formats we deliberately do not parse; they get `unsupported_format` rather than
# `invalid_image` so a client learns to convert instead of retrying.
_OTHER_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (0, b"II*\x00"),  # TIFF little-endian
    (0, b"MM\x00*"),  # TIFF big-endian
    (4, b"ftypheic"),
    (4, b"ftypheix"),
    (4, b"ftypmif1"),
    (4, b"ftypavif"),
    (0, b"\x00\x00\x01\x00"),  # ICO
    (0, b"8BPS"),  # Photoshop
    (0, b"%PDF"),
    (0, b"\x00\x00\x00\x0cjP  "),  # JPEG 2000
    (0, b"\xff\x4f\xff\x51"),  # JPEG 2000 codestream
    (0, b"qoif"),
    (0, b"DDS "),
    (0, b"icns"),
    (0, b"\x76\x2f\x31\x01"),  # OpenEXR
)


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """A decoded photo, possibly at reduced resolution (JPEG draft mode)."""

    pixels: np.ndarray  # (H, W, 3) uint8 RGB, C-contiguous, EXIF orientation applied
    original_size: tuple[int, int]  # (width, height) at full resolution, after EXIF orientation
    format: str

    @property
    def scale(self) -> float:
        """Full-resolution pixels per decoded pixel (1.0 unless decoded reduced)."""
        return self.original_size[0] / self.pixels.shape[1]


def _looks_like_other_format(data: bytes) -> bool:
    head = data[:64].lstrip()
    if head[:5].lower() in (b"<?xml", b"<svg ") or head[:4].lower() == b"<svg":
        return True
    return any(data[offset : offset + len(sig)] == sig for offset, sig in _OTHER_SIGNATURES)


def _open(data: bytes, max_pixels: int) -> Image.Image:
    if not data:
        raise ImageError("invalid_image", "the image is empty")
    try:
        image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageError("image_too_large", f"the image has too many pixels: {exc}") from exc
    except UnidentifiedImageError as exc:
        if _looks_like_other_format(data):
            raise ImageError(
                "unsupported_format",
                f"unsupported image format; send one of {', '.join(ALLOWED_FORMATS)}",
            ) from exc
        raise ImageError("invalid_image", "the data is not a readable image") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError("invalid_image", f"the image header is damaged: {exc}") from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError("invalid_image", "the image has no pixels")
    if width * height > max_pixels:
        raise ImageError(
            "image_too_large",
            f"the image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}",
        )
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode → 8-bit RGB; transparency is flattened onto white, as a viewer shows it."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # Pillow's I→L conversion clips at 255 instead of scaling: a 16-bit photo would turn white.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max(initial=0.0) > 255 else 255.0
        gray = np.clip(values * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB", "1") and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def decode_image(
    data: bytes, *, max_pixels: int, reduce_to_max_side: int | None = None
) -> DecodedImage:
    """Decode `data` into RGB pixels with EXIF orientation applied.

    With `reduce_to_max_side`, a JPEG is decoded at the smallest DCT scale (1/2, 1/4, 1/8) that
    still keeps its longer side at or above that many pixels — several times faster for big photos
    that are only going to be downscaled for detection anyway. Other formats decode at full size.
    """
    image = _open(data, max_pixels)
    fmt = image.format or "unknown"
    full_w, full_h = image.size
    try:
        if reduce_to_max_side is not None and fmt == "JPEG":
            ratio = reduce_to_max_side / max(full_w, full_h)
            if ratio < 1.0:
                target = (max(1, math.ceil(full_w * ratio)), max(1, math.ceil(full_h * ratio)))
                image.draft("RGB", target)
        if fmt == "GIF":
            image.seek(0)  # the first frame only; an animation is not a face photo
        image.load()
    except Image.DecompressionBombError as exc:
        raise ImageError("image_too_large", f"the image has too many pixels: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError, IndexError) as exc:
        raise ImageError("invalid_image", f"the image data is damaged or truncated: {exc}") from exc

    try:
        oriented = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        oriented = image  # a broken EXIF block must not make a good photo unusable
    if oriented is None:
        oriented = image
    # EXIF orientations 5-8 swap the axes; the full-size dimensions swap with them.
    if oriented.size != image.size and oriented.size == (image.size[1], image.size[0]):
        full_w, full_h = full_h, full_w

    try:
        rgb = _to_rgb(oriented)
        pixels = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    except (OSError, ValueError) as exc:
        raise ImageError("invalid_image", f"the image could not be converted: {exc}") from exc
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ImageError("invalid_image", f"unexpected pixel layout {pixels.shape}")
    return DecodedImage(pixels=pixels, original_size=(full_w, full_h), format=fmt)

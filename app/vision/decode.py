"""Bytes → 8-bit RGB pixels, refusing anything that is not a plain photo of a sane size.

Only a few formats are parsed at all (every other Pillow plugin is attack surface), the pixel
count is checked from the header before the decoder allocates anything, and every failure is
an `ImageError` with a stable code.

Decode work is bounded as well as memory: a progressive JPEG pays a pass over the whole
coefficient buffer for every scan (~6 ms per scan at 40 MP), so thousands of near-empty scans in a
few hundred KB cost minutes of CPU. The scans are counted from the marker structure before decoding
and more than `MAX_JPEG_SCANS` are refused; the decoder is fed in small blocks and checks the
caller's deadline (`app.vision.deadline`) before each, so work nobody waits for stops.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.vision import deadline
from app.vision.types import ImageError

ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "BMP", "GIF")

# libjpeg's standard progressive script has 10 scans for colour and 6 for grey (Pillow, jpegtran,
# cameras); mozjpeg's optimised scripts stay well under 20. Each scan is a pass over the whole
# coefficient buffer: measured on the shared 2-core dev machine (load ~15), a 36 MP grey image
# costs ~0.23 s per scan (6 scans 1.3 s, 20 scans 4.6 s) and a 35 MP colour photo with the standard
# 10 scans 1.8-2.4 s. 32 scans bounds the worst case to ~3x the cost of a legitimate photo of the
# same size, instead of thousands of scans (minutes).
MAX_JPEG_SCANS = 32
# Pillow hands the decoder this much input at a time; each block is a deadline checkpoint. The
# default 64 KiB holds ~800 scans of a scan bomb; 2 KiB blocks measured no slower on 2 MP and
# 35 MP photos, baseline and progressive (within run-to-run noise).
_DECODE_BLOCK = 2 * 1024
# Any marker after entropy-coded data: 0xFF (fill bytes allowed) followed by anything but a stuffed
# 0x00, another 0xFF or a restart marker RST0-7 (restarts stay inside the scan).
_JPEG_MARKER = re.compile(rb"\xff+([^\x00\xff\xd0-\xd7])")
_JPEG_NO_LENGTH = frozenset({0x01, 0xD8})  # TEM, SOI: markers without a length field
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9

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
        return self.original_size[0] / int(self.pixels.shape[1])


def _looks_like_other_format(data: bytes) -> bool:
    head = data[:64].lstrip()
    if head[:5].lower() in (b"<?xml", b"<svg ") or head[:4].lower() == b"<svg":
        return True
    return any(data[offset : offset + len(sig)] == sig for offset, sig in _OTHER_SIGNATURES)


class _CheckedReader(io.BytesIO):
    """The upload as a file whose every read is a deadline checkpoint for the decoder."""

    def read(self, size: int | None = -1, /) -> bytes:
        deadline.check()
        return super().read(size)


def jpeg_scan_count(data: bytes, *, stop_after: int) -> int:
    """SOS segments of the first JPEG image in `data` (up to its EOI), counted from the marker
    structure without decoding; counting stops once `stop_after` is exceeded."""
    scans, pos, end = 0, 2, len(data)  # after SOI
    while pos < end:
        found = _JPEG_MARKER.search(data, pos)
        if found is None:
            break
        marker, pos = found.group(1)[0], found.end()
        if marker == _JPEG_EOI:
            break
        if marker in _JPEG_NO_LENGTH:
            continue
        if marker == _JPEG_SOS:
            scans += 1
            if scans > stop_after:
                break
        # Skip the segment's own bytes (they may contain 0xFF); entropy data follows an SOS.
        pos += int.from_bytes(data[pos : pos + 2], "big")
    return scans


def _open(data: bytes, max_pixels: int) -> Image.Image:
    if not data:
        raise ImageError("invalid_image", "the image is empty")
    try:
        image = Image.open(_CheckedReader(data), formats=ALLOWED_FORMATS)
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
    if image.format in ("JPEG", "MPO"):
        scans = jpeg_scan_count(data, stop_after=MAX_JPEG_SCANS)
        if scans > MAX_JPEG_SCANS:
            raise ImageError(
                "image_too_large",
                f"the JPEG has more than {MAX_JPEG_SCANS} progressive scans; no camera or "
                "encoder writes that many (re-encode it)",
            )
    image.decodermaxblock = _DECODE_BLOCK
    return image


_HIGH_DEPTH_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_CONVERT_ROWS_PIXELS = 1 << 20  # high-depth pixels converted per step (4 MiB of float32)


def _high_depth_to_gray(image: Image.Image) -> np.ndarray:
    """16/32-bit grey → 8-bit grey, scaled (Pillow's I→L conversion clips at 255 instead, so a
    16-bit photo would turn white). Converted in row blocks through float32: a whole-image float64
    temporary made an 88 KB 8000x5000 PNG cost ~1 GB (issue 11)."""
    values = np.asarray(image)  # its own dtype (uint16, int32, float32): no widening
    top = 65535.0 if values.max(initial=0) > 255 else 255.0
    gray = np.empty(values.shape, dtype=np.uint8)
    rows = max(1, _CONVERT_ROWS_PIXELS // max(1, values.shape[1]))
    for start in range(0, values.shape[0], rows):
        block = values[start : start + rows].astype(np.float32)
        block *= np.float32(255.0 / top)
        block += np.float32(0.5)
        np.clip(block, 0, 255, out=block)
        gray[start : start + rows] = block
    return gray


def _to_rgb(image: Image.Image) -> Image.Image | np.ndarray:
    """Any Pillow mode → 8-bit RGB; transparency is flattened onto white, as a viewer shows it.
    High-depth grey comes back as an (H, W) uint8 array, to be widened to RGB by the caller."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in _HIGH_DEPTH_MODES:
        return _high_depth_to_gray(image)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB", "1") and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})  # EXIF orientations that transpose the axes


def oriented_size(data: bytes, *, max_pixels: int) -> tuple[int, int]:
    """(width, height) as `decode_image` reports it, read from the header without decoding.

    For protocols that report face positions as ratios of the image size (Rekognition).
    """
    image = _open(data, max_pixels)
    width, height = image.size
    try:
        orientation = image.getexif().get(0x0112)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        orientation = None  # decode_image ignores a broken EXIF block too
    return (height, width) if orientation in _SWAPPING_ORIENTATIONS else (width, height)


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
        if isinstance(rgb, np.ndarray):
            pixels = np.repeat(rgb[:, :, None], 3, axis=2)
        else:
            pixels = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    except (OSError, ValueError) as exc:
        raise ImageError("invalid_image", f"the image could not be converted: {exc}") from exc
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ImageError("invalid_image", f"unexpected pixel layout {pixels.shape}")
    return DecodedImage(pixels=pixels, original_size=(full_w, full_h), format=fmt)

"""A corpus of hostile requests, each with the answer the service owes it.

Every item is built in memory from one committed fixture photo (obama1.jpg) or from crafted
bytes, so the corpus is deterministic and needs nothing outside the repository. Items that are odd
but legal (CMYK, 16-bit, palette, alpha, animated GIF, EXIF-rotated, WebP, unicode and SQL-looking
ids) expect success — refusing a valid photo is a bug too — and the rest expect a 4xx RFC 9457
problem with a stable `code`. Paths may hold `{collection_id}` and `{identity_id}`, which the test
fills with ids it created.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from PIL import Image

SOURCE_PHOTO = Path(__file__).resolve().parents[1] / "fixtures" / "photos" / "obama" / "obama1.jpg"

DETECT = "/v1/detect"
COLLECTIONS = "/v1/collections"
COLLECTION = "/v1/collections/{collection_id}"
IDENTITIES = "/v1/collections/{collection_id}/identities"
IDENTITY = "/v1/collections/{collection_id}/identities/{identity_id}"
FACES = "/v1/collections/{collection_id}/identities/{identity_id}/faces"
IDENTIFY = "/v1/collections/{collection_id}/identify"

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Expected:
    """What the service must answer: a status, and for errors the problem `code`.

    `faces` is the number of faces a successful detect must report; `same_box_as_upright` asks the
    test to compare the first face's box with the one found in the upright control photo.
    `echo` lists JSON fields whose value must come back exactly as sent.
    """

    status: int
    code: str | None = None
    faces: int | None = None
    same_box_as_upright: bool = False
    echo: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HostileRequest:
    kind: str
    why: str
    method: str
    path: str
    expected: Expected
    files: tuple[tuple[str, tuple[str, bytes, str]], ...] = ()
    content: bytes | None = None
    content_type: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    auth: Literal["key", "none", "bogus"] = "key"
    # Sent with chunked transfer encoding, so no Content-Length tells the server the size up front.
    chunked: bool = False
    extra_headers: tuple[tuple[str, str], ...] = field(default=())

    def url(self, ids: dict[str, str]) -> str:
        return self.path.format(**ids)


# --- crafted image bytes ----------------------------------------------------------------------


@cache
def upright_photo() -> Image.Image:
    """The fixture photo at half size: big enough for a clear face, small enough to be quick."""
    with Image.open(SOURCE_PHOTO) as image:
        image.load()
        return image.convert("RGB").resize((image.width // 2, image.height // 2), Image.BILINEAR)


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


@cache
def upright_jpeg() -> bytes:
    return _encode(upright_photo(), "JPEG", quality=92)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def _png(width: int, height: int, idat: bytes, *, color_type: int = 0, depth: int = 8) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


@cache
def png_bomb(side: int = 8000) -> bytes:
    """A valid grayscale PNG of side² black pixels that is only tens of KiB on the wire."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    parts = [compressor.compress(row) for _ in range(side)]
    parts.append(compressor.flush())
    return _png(side, side, b"".join(parts))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header claims a size its few data bytes cannot possibly fill."""
    return _png(width, height, zlib.compress(b"\x00" * 64))


def _patch_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the frame header (SOF0/SOF2) so the JPEG claims another size."""
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at >= 0:
            head = at + 5  # marker(2) + length(2) + precision(1)
            return data[:head] + struct.pack(">HH", height, width) + data[head + 4 :]
    raise ValueError("no SOF marker in the JPEG")


def jpeg_declaring(width: int, height: int) -> bytes:
    tiny = _encode(Image.new("RGB", (16, 16), (128, 128, 128)), "JPEG")
    return _patch_jpeg_size(tiny, width, height)


def bmp_declaring(width: int, height: int) -> bytes:
    """A BMP header for a width×height 24-bit image followed by a few bytes of pixels."""
    pixels = b"\x00" * 64
    header_size = 14 + 40
    file_header = struct.pack("<2sIHHI", b"BM", header_size + len(pixels), 0, 0, header_size)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return file_header + info + pixels


def gif_declaring(width: int, height: int) -> bytes:
    """A one-frame GIF whose logical screen and frame both claim width×height."""
    tiny = _encode(Image.new("P", (4, 4), 0), "GIF")
    screen = struct.pack("<HH", width, height)
    patched = tiny[:6] + screen + tiny[10:]
    frame_at = patched.find(b"\x2c")  # image descriptor: separator, left, top, width, height
    return patched[: frame_at + 5] + screen + patched[frame_at + 9 :]


@cache
def truncated_jpeg() -> bytes:
    """The first third of a real JPEG: the header parses, the scan data stops mid-stream."""
    data = upright_jpeg()
    return data[: len(data) // 3]


@cache
def cmyk_jpeg() -> bytes:
    return _encode(upright_photo().convert("CMYK"), "JPEG", quality=92)


@cache
def png_16bit_rgb() -> bytes:
    bgr = cv2.cvtColor(np.asarray(upright_photo()), cv2.COLOR_RGB2BGR).astype(np.uint16) * 257
    ok, encoded = cv2.imencode(".png", bgr)
    assert ok
    return encoded.tobytes()


@cache
def png_16bit_gray() -> bytes:
    gray = np.asarray(upright_photo().convert("L"), dtype=np.uint16) * 257
    ok, encoded = cv2.imencode(".png", gray)
    assert ok
    return encoded.tobytes()


@cache
def png_16bit_gray_large(width: int = 8000, height: int = 5000) -> bytes:
    """A flat 16-bit grey PNG of 40 MP, ~88 KB on the wire (issue 11: it cost ~1 GB to decode)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\x80\x00" * width  # filter byte + big-endian 16-bit samples
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    return _png(width, height, b"".join(parts), depth=16)


@cache
def progressive_scan_bomb(scans: int = 2000, side: int = 6000) -> bytes:
    """A valid progressive JPEG of side² grey pixels whose last scan — an AC refinement of a flat
    image, so its entropy data is only EOB runs — is repeated: ~80 bytes per scan, and each scan
    is a pass over the whole coefficient buffer (~0.23 s at 36 MP on the dev machine)."""
    plain = _encode(Image.new("L", (side, side), 128), "JPEG", progressive=True, quality=90)
    last_scan = plain.rindex(b"\xff\xda")
    its_table = plain.rindex(b"\xff\xc4", 0, last_scan)
    assert plain.endswith(b"\xff\xd9")
    extra = plain[its_table:-2] * (scans - 6)  # Pillow's grey progression has 6 scans
    return plain[:-2] + extra + b"\xff\xd9"


@cache
def palette_png() -> bytes:
    return _encode(upright_photo().quantize(colors=256), "PNG")


@cache
def alpha_png() -> bytes:
    """Opaque where the photo is, fully transparent in a 16-pixel frame around it."""
    rgba = upright_photo().convert("RGBA")
    alpha = np.zeros((rgba.height, rgba.width), dtype=np.uint8)
    alpha[16:-16, 16:-16] = 255
    rgba.putalpha(Image.fromarray(alpha, mode="L"))
    return _encode(rgba, "PNG")


@cache
def animated_gif() -> bytes:
    """Frame one is the photo; frame two is flat gray: only the first frame may be analysed."""
    first = upright_photo()
    second = Image.new("RGB", first.size, (128, 128, 128))
    return _encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)


@cache
def exif_rotated_jpeg() -> bytes:
    """Pixels stored turned 90° counter-clockwise; EXIF orientation 6 says "turn clockwise"."""
    sideways = upright_photo().transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encode(sideways, "JPEG", quality=92, exif=exif.tobytes())


@cache
def webp_photo() -> bytes:
    return _encode(upright_photo(), "WEBP", quality=90)


@cache
def tiff_photo() -> bytes:
    return _encode(upright_photo(), "TIFF")


def tiny_png(side: int = 8) -> bytes:
    return _encode(Image.new("RGB", (side, side), (200, 150, 120)), "PNG")


def _image(data: bytes, name: str = "photo.jpg", mime: str = "image/jpeg") -> tuple:
    return (("image", (name, data, mime)),)


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _deep_json(depth: int, field: str = "name") -> bytes:
    return b'{"' + field.encode() + b'": ' + b"[" * depth + b"]" * depth + b"}"


# --- the corpus ------------------------------------------------------------------------------


def _items() -> Iterator[HostileRequest]:
    jpeg = upright_jpeg()
    unknown = str(uuid.UUID(int=0x5EC0_0000_0000_4000_8000_0000_0000_0001))

    # Transport and body shape
    yield HostileRequest(
        "empty_body",
        "a POST with no body at all",
        "POST",
        DETECT,
        Expected(422, "validation_error"),
        content=b"",
        content_type="multipart/form-data; boundary=x",
    )
    yield HostileRequest(
        "empty_file",
        "the image field is present but holds zero bytes",
        "POST",
        DETECT,
        Expected(422, "invalid_image"),
        files=_image(b""),
    )
    yield HostileRequest(
        "multipart_without_field",
        "multipart with a `photo` field instead of `image`",
        "POST",
        DETECT,
        Expected(422, "validation_error"),
        files=(("photo", ("photo.jpg", jpeg, "image/jpeg")),),
    )
    yield HostileRequest(
        "wrong_content_type",
        "raw JPEG bytes sent as the whole body with Content-Type image/jpeg",
        "POST",
        DETECT,
        Expected(415, "unsupported_media_type"),
        content=jpeg,
        content_type="image/jpeg",
    )
    yield HostileRequest(
        "text_plain_body",
        "a text/plain body to an image endpoint",
        "POST",
        DETECT,
        Expected(415, "unsupported_media_type"),
        content=b"hello",
        content_type="text/plain",
    )
    yield HostileRequest(
        "oversize_body_declared",
        "11 MiB multipart body (the cap is 10 MiB) with Content-Length",
        "POST",
        DETECT,
        Expected(413, "payload_too_large"),
        files=_image(jpeg + b"\x00" * (11 * MIB)),
    )
    yield HostileRequest(
        "oversize_body_chunked",
        "11 MiB sent chunked: the cap must hold while reading, unannounced",
        "POST",
        DETECT,
        Expected(413, "payload_too_large"),
        content=b"\x00" * (11 * MIB),
        content_type="multipart/form-data; boundary=x",
        chunked=True,
    )
    # Image bytes
    yield HostileRequest(
        "text_as_image",
        "plain text uploaded as photo.jpg with an image/jpeg part type",
        "POST",
        DETECT,
        Expected(422, "invalid_image"),
        files=_image(b"this is not a photograph\n" * 20),
    )
    yield HostileRequest(
        "truncated_jpeg",
        "a JPEG cut off after a third of its bytes",
        "POST",
        DETECT,
        Expected(422, "invalid_image"),
        files=_image(truncated_jpeg()),
    )
    yield HostileRequest(
        "png_bomb",
        "a valid 8000×8000 PNG (64 MP > the 40 MP cap) that is ~60 KiB compressed",
        "POST",
        DETECT,
        Expected(413, "image_too_large"),
        files=_image(png_bomb(), "bomb.png", "image/png"),
    )
    yield HostileRequest(
        "progressive_scan_bomb",
        "a valid 36 MP progressive JPEG with 2,000 near-empty scans in ~300 KB (minutes of decode)",
        "POST",
        DETECT,
        Expected(413, "image_too_large"),
        files=_image(progressive_scan_bomb()),
    )
    yield HostileRequest(
        "huge_declared_png",
        "PNG header claiming 65535×65535 with 64 bytes of data",
        "POST",
        DETECT,
        Expected(413, "image_too_large"),
        files=_image(png_declaring(65535, 65535), "huge.png", "image/png"),
    )
    yield HostileRequest(
        "huge_declared_jpeg",
        "JPEG frame header patched to claim 65000×65000",
        "POST",
        DETECT,
        Expected(413, "image_too_large"),
        files=_image(jpeg_declaring(65000, 65000)),
    )
    yield HostileRequest(
        "huge_declared_bmp",
        "BMP header claiming 30000×30000 with 64 bytes of pixels",
        "POST",
        DETECT,
        Expected(413, "image_too_large"),
        files=_image(bmp_declaring(30000, 30000), "huge.bmp", "image/bmp"),
    )
    yield HostileRequest(
        "huge_declared_gif",
        "GIF screen and frame claiming 65535×65535",
        "POST",
        DETECT,
        Expected(413, "image_too_large"),
        files=_image(gif_declaring(65535, 65535), "huge.gif", "image/gif"),
    )
    yield HostileRequest(
        "zero_width_png",
        "PNG header with width 0",
        "POST",
        DETECT,
        Expected(422, "invalid_image"),
        files=_image(png_declaring(0, 10), "zero.png", "image/png"),
    )
    yield HostileRequest(
        "tiff_not_allowed",
        "a real TIFF photo: decodable, but not on the format allow-list",
        "POST",
        DETECT,
        Expected(415, "unsupported_format"),
        files=_image(tiff_photo(), "photo.tif", "image/tiff"),
    )
    yield HostileRequest(
        "tiny_8x8_enroll",
        "an 8×8 image enrolled as a face",
        "POST",
        FACES,
        Expected(422, "no_face"),
        files=_image(tiny_png(), "tiny.png", "image/png"),
    )
    yield HostileRequest(
        "tiny_8x8_detect",
        "an 8×8 image to detect: valid, simply no face",
        "POST",
        DETECT,
        Expected(200, faces=0),
        files=_image(tiny_png(), "tiny.png", "image/png"),
    )
    # Odd but legal photos: the face must still be found.
    yield HostileRequest(
        "upright_control",
        "the plain JPEG every variant below is made from",
        "POST",
        DETECT,
        Expected(200, faces=1),
        files=_image(jpeg),
    )
    yield HostileRequest(
        "cmyk_jpeg",
        "the photo as a CMYK JPEG",
        "POST",
        DETECT,
        Expected(200, faces=1, same_box_as_upright=True),
        files=_image(cmyk_jpeg()),
    )
    yield HostileRequest(
        "png_16bit_rgb",
        "the photo as a 48-bit RGB PNG",
        "POST",
        DETECT,
        Expected(200, faces=1, same_box_as_upright=True),
        files=_image(png_16bit_rgb(), "photo.png", "image/png"),
    )
    yield HostileRequest(
        "png_16bit_gray",
        "the photo as a 16-bit grayscale PNG",
        "POST",
        DETECT,
        Expected(200, faces=1, same_box_as_upright=True),
        files=_image(png_16bit_gray(), "photo.png", "image/png"),
    )
    yield HostileRequest(
        "palette_png",
        "the photo quantised to a 256-colour palette PNG",
        "POST",
        DETECT,
        Expected(200, faces=1, same_box_as_upright=True),
        files=_image(palette_png(), "photo.png", "image/png"),
    )
    yield HostileRequest(
        "alpha_png",
        "the photo as RGBA with a transparent frame",
        "POST",
        DETECT,
        Expected(200, faces=1, same_box_as_upright=True),
        files=_image(alpha_png(), "photo.png", "image/png"),
    )
    yield HostileRequest(
        "animated_gif",
        "two frames: the photo, then flat gray; the first frame counts",
        "POST",
        DETECT,
        Expected(200, faces=1, same_box_as_upright=True),
        files=_image(animated_gif(), "photo.gif", "image/gif"),
    )
    yield HostileRequest(
        "exif_rotated",
        "pixels stored sideways with EXIF orientation 6",
        "POST",
        DETECT,
        Expected(200, faces=1, same_box_as_upright=True),
        files=_image(exif_rotated_jpeg()),
    )
    yield HostileRequest(
        "webp",
        "the photo as WebP (on the allow-list)",
        "POST",
        DETECT,
        Expected(200, faces=1, same_box_as_upright=True),
        files=_image(webp_photo(), "photo.webp", "image/webp"),
    )
    # JSON bodies
    yield HostileRequest(
        "base64_ok",
        "the photo as base64 in JSON",
        "POST",
        DETECT,
        Expected(200, faces=1, same_box_as_upright=True),
        content=_json({"image": base64.b64encode(jpeg).decode()}),
        content_type="application/json",
    )
    yield HostileRequest(
        "invalid_base64",
        "JSON image field that is not base64",
        "POST",
        DETECT,
        Expected(422, "validation_error"),
        content=_json({"image": "%%% not base64 @@@"}),
        content_type="application/json",
    )
    yield HostileRequest(
        "image_wrong_json_type",
        "JSON image field holding a number",
        "POST",
        DETECT,
        Expected(422, "validation_error"),
        content=_json({"image": 12345}),
        content_type="application/json",
    )
    yield HostileRequest(
        "name_wrong_json_type",
        "collection name as an object",
        "POST",
        COLLECTIONS,
        Expected(422, "validation_error"),
        content=_json({"name": {"$ne": None}}),
        content_type="application/json",
    )
    yield HostileRequest(
        "json_array_body",
        "a JSON array where an object is expected",
        "POST",
        COLLECTIONS,
        Expected(422, "validation_error"),
        content=_json(["name"]),
        content_type="application/json",
    )
    yield HostileRequest(
        "malformed_json",
        "a JSON body cut off mid-object",
        "POST",
        COLLECTIONS,
        Expected(422, "validation_error"),
        content=b'{"name": "abc',
        content_type="application/json",
    )
    yield HostileRequest(
        "deeply_nested_json",
        "100000 nested arrays (Python's json recursion limit)",
        "POST",
        COLLECTIONS,
        Expected(422, "validation_error"),
        content=_deep_json(100_000),
        content_type="application/json",
    )
    yield HostileRequest(
        "deeply_nested_json_image",
        "100000 nested arrays as the image field of a photo endpoint",
        "POST",
        DETECT,
        Expected(422, "validation_error"),
        content=_deep_json(100_000, "image"),
        content_type="application/json",
    )
    yield HostileRequest(
        "very_long_name",
        "a 100000-character collection name",
        "POST",
        COLLECTIONS,
        Expected(422, "validation_error"),
        content=_json({"name": "n" * 100_000}),
        content_type="application/json",
    )
    yield HostileRequest(
        "very_long_external_id",
        "a 10000-character external_id",
        "POST",
        IDENTITIES,
        Expected(422, "validation_error"),
        content=_json({"external_id": "x" * 10_000}),
        content_type="application/json",
    )
    yield HostileRequest(
        "nul_in_external_id",
        "an external_id holding a NUL character (PostgreSQL refuses NUL)",
        "POST",
        IDENTITIES,
        Expected(422, "validation_error"),
        content=_json({"external_id": "abc\x00def"}),
        content_type="application/json",
    )
    yield HostileRequest(
        "bidi_override_in_external_id",
        "an RTL override makes `evil\u202egnp.exe` display as `evilexe.png` in a UI",
        "POST",
        IDENTITIES,
        Expected(422, "validation_error"),
        content=_json({"external_id": "Zoë-\u202eevil\u202c"}),
    )
    yield HostileRequest(
        "unicode_external_id",
        "emoji, combining marks, right-to-left text, ZWJ and CJK must round-trip",
        "POST",
        IDENTITIES,
        Expected(201, echo=("external_id", "display_name")),
        content=_json(
            {
                "external_id": "Zoë-🙂-\u05e9\u05dc-👩\u200d💻-名前-e\u0301",
                "display_name": "Ångström 🙂 \u05e9\u05dc\u05d5\u05dd",
            }
        ),
        content_type="application/json",
    )
    yield HostileRequest(
        "sql_external_id",
        "SQL-looking text is just text",
        "POST",
        IDENTITIES,
        Expected(201, echo=("external_id", "display_name")),
        content=_json({"external_id": "x'); DROP TABLE faces; --", "display_name": '" OR 1=1 --'}),
        content_type="application/json",
    )
    # Ids
    yield HostileRequest(
        "unknown_collection",
        "a well-formed collection id that does not exist",
        "GET",
        "/v1/collections/" + unknown,
        Expected(404, "not_found"),
    )
    yield HostileRequest(
        "unknown_identity",
        "a well-formed identity id that does not exist",
        "GET",
        "/v1/collections/{collection_id}/identities/" + unknown,
        Expected(404, "not_found"),
    )
    yield HostileRequest(
        "unknown_face_delete",
        "deleting a face id that does not exist",
        "DELETE",
        FACES + "/987654321",
        Expected(404, "not_found"),
    )
    yield HostileRequest(
        "malformed_collection_id",
        "a collection id that is not a UUID",
        "GET",
        "/v1/collections/not-a-uuid",
        Expected(422, "validation_error"),
    )
    yield HostileRequest(
        "sql_collection_id",
        "a collection id that looks like SQL",
        "GET",
        "/v1/collections/1%27%20OR%20%271%27%3D%271",
        Expected(422, "validation_error"),
    )
    yield HostileRequest(
        "malformed_face_id",
        "a face id that is not a number",
        "DELETE",
        FACES + "/abc",
        Expected(422, "validation_error"),
    )
    yield HostileRequest(
        "overflowing_face_id",
        "a face id beyond int64",
        "DELETE",
        FACES + "/99999999999999999999999",
        Expected(422, "validation_error"),
    )
    # Query parameters
    yield HostileRequest(
        "negative_top_k",
        "identify with top_k=-1",
        "POST",
        IDENTIFY,
        Expected(422, "validation_error"),
        files=_image(jpeg),
        query=(("top_k", "-1"),),
    )
    yield HostileRequest(
        "huge_top_k",
        "identify with top_k=10^9",
        "POST",
        IDENTIFY,
        Expected(422, "validation_error"),
        files=_image(jpeg),
        query=(("top_k", "1000000000"),),
    )
    yield HostileRequest(
        "threshold_not_number",
        "identify with threshold=abc",
        "POST",
        IDENTIFY,
        Expected(422, "validation_error"),
        files=_image(jpeg),
        query=(("threshold", "abc"),),
    )
    yield HostileRequest(
        "huge_page_size",
        "list collections with limit=10^9",
        "GET",
        COLLECTIONS,
        Expected(422, "validation_error"),
        query=(("limit", "1000000000"),),
    )
    # Auth
    yield HostileRequest(
        "missing_api_key",
        "a data call without X-API-Key",
        "GET",
        COLLECTIONS,
        Expected(401, "unauthorized"),
        auth="none",
    )
    yield HostileRequest(
        "bogus_api_key",
        "a data call with a made-up X-API-Key",
        "GET",
        COLLECTIONS,
        Expected(401, "unauthorized"),
        auth="bogus",
    )


@cache
def corpus() -> tuple[HostileRequest, ...]:
    items = tuple(_items())
    kinds = [item.kind for item in items]
    assert len(kinds) == len(set(kinds)), "corpus kinds must be unique"
    return items


def by_kind() -> dict[str, HostileRequest]:
    return {item.kind: item for item in corpus()}


def chunks(data: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]

"""facematch values in Rekognition's vocabulary: ids, boxes as ratios, landmarks, reasons, paging.

FaceId: faces have bigint ids (the FAISS labels). A FaceId is a version-8 UUID (RFC 9562's
vendor-specific layout) carrying that id in its low 62 bits under a fixed "facema" tag, so the
mapping is stable, needs no column and no lookup, and a FaceId that does not carry the tag is
simply not found. ImageId: a name-based UUID of the photo's sha256 (the same photo, the same id).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from typing import Any

from app.api.rekognition.errors import RekognitionError
from app.services.collection_faces import FaceRecord
from app.vision.types import Face

_TAG = 0x66616365_6D61  # "facema", the top 48 bits of every FaceId
_VERSION_8 = 0x8
_VARIANT = 0b10
_ID_BITS = 62
_IMAGE_NAMESPACE = uuid.UUID("5b0e7f60-8f7e-4f0a-9a59-2a3d3c1e6f15")


def face_id(pk: int) -> str:
    if not 0 < pk < 2**_ID_BITS:
        raise ValueError(f"face id {pk} does not fit a FaceId")
    value = (_TAG << 80) | (_VERSION_8 << 76) | (_VARIANT << 62) | pk
    return str(uuid.UUID(int=value))


def face_pk(text: str) -> int | None:
    """The face id a FaceId names; None for a well-formed UUID that is not one of ours."""
    value = uuid.UUID(text).int
    if value >> 80 != _TAG or (value >> 76) & 0xF != _VERSION_8 or (value >> 62) & 0x3 != _VARIANT:
        return None
    pk = value & (2**_ID_BITS - 1)
    return pk or None


def image_id(content_sha256: str) -> str:
    return str(uuid.uuid5(_IMAGE_NAMESPACE, content_sha256))


# --- geometry ---------------------------------------------------------------------------------


def _ratio_box(x: float, y: float, w: float, h: float, size: tuple[int, int]) -> dict[str, float]:
    width, height = size
    return {"Width": w / width, "Height": h / height, "Left": x / width, "Top": y / height}


def bounding_box(face: Face, size: tuple[int, int]) -> dict[str, float]:
    b = face.box
    return _ratio_box(b.x, b.y, b.width, b.height, size)


# MTCNN's five points, in image terms (the eye on the image's left first), are the five points
# Rekognition names the same way: its eyeLeft is also the one with the smaller X.
_LANDMARK_TYPES = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")


def landmarks(face: Face, size: tuple[int, int]) -> list[dict[str, Any]]:
    width, height = size
    return [
        {"Type": kind, "X": x / width, "Y": y / height}
        for kind, (x, y) in zip(_LANDMARK_TYPES, face.landmarks, strict=True)
    ]


def pose(face: Face) -> dict[str, float]:
    """Roll: the angle of the eye line (a measurement). Yaw: asin of how far the nose sits off the
    eyes' midpoint along the eye line, in half eye-distances (a geometric estimate from five
    points; +/-90 at a profile). Pitch needs more than five points and is not reported."""
    (lx, ly), (rx, ry), (nx, ny) = face.landmarks[0], face.landmarks[1], face.landmarks[2]
    dx, dy = rx - lx, ry - ly
    half = max(1e-6, math.hypot(dx, dy) / 2)
    along = ((nx - (lx + rx) / 2) * dx + (ny - (ly + ry) / 2) * dy) / (2 * half)
    return {
        "Roll": math.degrees(math.atan2(dy, dx)),
        "Yaw": math.degrees(math.asin(max(-1.0, min(1.0, along / half)))),
    }


def quality(face: Face) -> dict[str, float]:
    """Brightness: mean gray of the aligned chip on 0-100. Sharpness: variance of its Laplacian,
    capped at 100 (LFW median 50; the enroll gate wants 10, docs/thresholds.md)."""
    q = face.quality
    return {"Brightness": q.brightness * 100 / 255, "Sharpness": min(100.0, q.sharpness)}


def face_detail(face: Face, size: tuple[int, int]) -> dict[str, Any]:
    """Rekognition's DEFAULT attributes; the ALL-only ones (age, emotions, ...) are not computed
    by facematch's models and are left out (every FaceDetail member is optional)."""
    return {
        "BoundingBox": bounding_box(face, size),
        "Landmarks": landmarks(face, size),
        "Pose": pose(face),
        "Quality": quality(face),
        "Confidence": face.score * 100,
    }


def compared_face(face: Face, size: tuple[int, int]) -> dict[str, Any]:
    return {
        "BoundingBox": bounding_box(face, size),
        "Confidence": face.score * 100,
        "Landmarks": landmarks(face, size),
        "Pose": pose(face),
        "Quality": quality(face),
    }


def stored_face(record: FaceRecord) -> dict[str, Any]:
    """A face of a collection. Its BoundingBox needs the indexed photo's size, which faces
    indexed through this door keep; faces enrolled through `/v1` have no BoundingBox here."""
    row = record.face
    box = row.box or {}
    bbox = None
    if box.get("image_width") and box.get("image_height"):
        bbox = _ratio_box(
            box["x"], box["y"], box["width"], box["height"],
            (box["image_width"], box["image_height"]),
        )  # fmt: skip
    score = (row.quality or {}).get("detection_score")
    return {
        "FaceId": face_id(row.id),
        "BoundingBox": bbox,
        "ImageId": image_id(row.content_sha256),
        "ExternalImageId": row.external_image_id,
        "Confidence": None if score is None else float(score) * 100,
        "UserId": record.user_id,
    }


# --- reasons ----------------------------------------------------------------------------------

# The enroll gate's issue codes in Rekognition's Reason vocabulary.
_REASON_OF = {
    "face_too_small": "SMALL_BOUNDING_BOX",
    "blurry": "LOW_SHARPNESS",
    "extreme_pose": "EXTREME_POSE",
    "too_dark": "LOW_BRIGHTNESS",
    "too_bright": "LOW_FACE_QUALITY",  # Rekognition has no over-exposure reason
    "low_confidence": "LOW_CONFIDENCE",
    "exceeds_max_faces": "EXCEEDS_MAX_FACES",
}


def reasons(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(_REASON_OF.get(code, "LOW_FACE_QUALITY") for code in codes))


# --- paging -----------------------------------------------------------------------------------


def next_token(offset: int, total: int) -> str | None:
    if offset >= total:
        return None
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def token_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["o"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        offset = None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise RekognitionError("InvalidPaginationTokenException", "Invalid pagination token")
    return offset

"""How a detected face is described outside the vision layer (JSON-ready dicts)."""

from __future__ import annotations

from typing import Any

from app.vision.types import Face


def box_json(face: Face) -> dict[str, float]:
    b = face.box
    return {
        "x": round(b.x, 1),
        "y": round(b.y, 1),
        "width": round(b.width, 1),
        "height": round(b.height, 1),
    }


def quality_json(face: Face) -> dict[str, float]:
    q = face.quality
    return {
        "detection_score": round(q.detection_score, 4),
        "interocular_px": round(q.interocular_px, 1),
        "sharpness": round(q.sharpness, 1),
        "pose": round(q.pose, 3),
        "brightness": round(q.brightness, 1),
    }


def landmarks_json(face: Face) -> list[list[float]]:
    return [[round(x, 1), round(y, 1)] for x, y in face.landmarks]


def face_json(face: Face) -> dict[str, Any]:
    return {
        "box": box_json(face),
        "score": round(face.score, 4),
        "landmarks": landmarks_json(face),
        "quality": quality_json(face),
    }

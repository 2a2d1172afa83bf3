"""Request and response bodies of the v1 API."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.services import audit as audit_actions

T = TypeVar("T")


# NUL and other C0 controls are never meaningful in a name, and PostgreSQL refuses NUL. The
# pattern tells clients (and fuzzers) the rule; the validator enforces it with a plainer message.
NO_CONTROL_CHARS = r"^[^\x00-\x1f]*$"
# Names (collection, external_id, display_name, key) also refuse DEL and C1 controls, the
# invisible characters that spoof a name in a UI — bidirectional overrides and isolates (U+202A-E,
# U+2066-9, U+200E/F, U+061C) and zero-width spaces and joiners-of-words (U+200B, U+2060-4,
# U+FEFF) — and lone surrogates, which are not Unicode at all and break every JSON encoder.
# ZWNJ/ZWJ (U+200C/D) stay allowed: Persian and Indic names and emoji need them.
_SPOOFING = r"\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
NAME_CHARS = rf"^[^\x00-\x1f\x7f-\x9f{_SPOOFING}]*$"  # escapes, so the schema shows no invisibles
_REFUSED_IN_NAMES = re.compile(rf"[\x00-\x1f\x7f-\x9f{_SPOOFING}\ud800-\udfff]")


def _no_control_chars(value: str | None) -> str | None:
    if value is not None and (found := _REFUSED_IN_NAMES.search(value)):
        raise ValueError(
            f"U+{ord(found.group()):04X} is not allowed: control characters, bidirectional "
            "overrides, zero-width spaces and lone surrogates can hide or fake a name"
        )
    return value


Text = Annotated[
    str,
    Field(min_length=1, max_length=200, json_schema_extra={"pattern": NAME_CHARS}),
    AfterValidator(_no_control_chars),
]

# Identity metadata is the caller's free-form JSON, stored and returned verbatim; bounded so that
# a page of identities stays small (500 x 16 KiB = 8 MiB at the page cap) and nesting stays
# shallow enough for every JSON encoder on the way out.
METADATA_MAX_BYTES = 16 * 1024
METADATA_MAX_DEPTH = 16


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if level > METADATA_MAX_DEPTH:
                break
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def _storable_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Refuse, before anything is stored, what would fail or bloat every later read."""
    if value is None:
        return None
    if _depth(value) > METADATA_MAX_DEPTH:
        raise ValueError(f"metadata is nested deeper than {METADATA_MAX_DEPTH} levels")
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except ValueError as exc:
        if isinstance(exc, UnicodeEncodeError):
            raise ValueError("metadata holds a lone surrogate, which is not Unicode") from exc
        raise ValueError("NaN and Infinity are not JSON numbers; send null or a string") from exc
    if len(encoded) > METADATA_MAX_BYTES:
        raise ValueError(
            f"metadata is {len(encoded)} bytes as JSON; at most {METADATA_MAX_BYTES} are kept"
        )
    return value


Metadata = Annotated[
    dict[str, Any],
    Field(
        description=f"Free-form JSON object, returned as sent: at most {METADATA_MAX_BYTES} "
        f"bytes as UTF-8 JSON and {METADATA_MAX_DEPTH} levels deep; no NaN or Infinity."
    ),
    AfterValidator(_storable_metadata),
]


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every timestamp leaves as UTC with an offset.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


Timestamp = Annotated[datetime, AfterValidator(_as_utc)]


class ApiModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


def example_of(model: type[BaseModel]) -> dict[str, Any] | None:
    """The first example a response model documents, to build bigger examples from."""
    extra = model.model_config.get("json_schema_extra")
    if not isinstance(extra, dict):
        return None
    examples = extra.get("examples")
    example = examples[0] if isinstance(examples, list) and examples else extra.get("example")
    return example if isinstance(example, dict) else None


def _page_example(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    # Every Page[Item] shows a one-item page built from the item's own example.
    args = getattr(cls, "__pydantic_generic_metadata__", {}).get("args", ())
    item = example_of(args[0]) if args and isinstance(args[0], type) else None
    if item is not None:
        schema["examples"] = [{"items": [item], "total": 1, "limit": 50, "offset": 0}]


class Page(ApiModel, Generic[T]):
    model_config = ConfigDict(from_attributes=True, json_schema_extra=_page_example)

    items: list[T]
    total: int = Field(description="Items matching, over all pages.")
    limit: int
    offset: int


# --- collections ------------------------------------------------------------------------------


class CollectionCreate(RequestModel):
    model_config = ConfigDict(json_schema_extra={"example": {"name": "staff"}})
    name: Text


class CollectionOut(ApiModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "b4cc9839-7d40-4bf3-b8e2-51712c1edd2e",
                    "name": "staff",
                    "model_id": "dlib-resnet-v1@55533b28",
                    "created_at": "2026-11-29T19:13:23.515171Z",
                    "face_count": 4,
                    "identity_count": 2,
                }
            ]
        },
    )

    id: uuid.UUID
    name: str
    model_id: str
    created_at: Timestamp
    face_count: int
    identity_count: int


# --- identities -------------------------------------------------------------------------------


class IdentityCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "external_id": "emp-0042",
                "display_name": "Barack Obama",
                "metadata": {"team": "exec"},
            }
        }
    )
    external_id: Text | None = None
    display_name: Text | None = None
    metadata: Metadata | None = None


class IdentityUpdate(IdentityCreate):
    """Only the fields sent are changed; send null to clear one."""


class IdentityOut(ApiModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "2c667887-533b-43bb-824a-6b981f8b75fd",
                    "collection_id": "b4cc9839-7d40-4bf3-b8e2-51712c1edd2e",
                    "external_id": "obama",
                    "display_name": "Barack Obama",
                    "metadata": {"team": "exec"},
                    "created_at": "2026-11-29T19:13:23.515171Z",
                    "face_count": 3,
                }
            ]
        },
    )

    id: uuid.UUID
    collection_id: uuid.UUID
    external_id: str | None
    display_name: str | None
    metadata: dict[str, Any] | None
    created_at: Timestamp
    face_count: int


# --- faces ------------------------------------------------------------------------------------


class BoxOut(ApiModel):
    x: float
    y: float
    width: float
    height: float


class QualityOut(ApiModel):
    detection_score: float
    interocular_px: float
    sharpness: float
    pose: float = Field(description="0 = frontal, 1 = profile.")
    brightness: float


SHA256_EXAMPLE = "3f1f5bbf2d0f8b7bb6b0a3fd6d9e8ccf1c8f4ad1b4e4e0c8d2a6b9f0e7c3d2a1"


_FACE_OUT_EXAMPLE: dict[str, Any] = {
    "id": 1,
    "identity_id": "2c667887-533b-43bb-824a-6b981f8b75fd",
    "model_id": "dlib-resnet-v1@55533b28",
    "box": {"x": 631.5, "y": 244.1, "width": 283.1, "height": 364.5},
    "quality": {
        "detection_score": 1.0,
        "interocular_px": 124.5,
        "sharpness": 232.9,
        "pose": 0.225,
        "brightness": 102.1,
    },
    "content_sha256": SHA256_EXAMPLE,
    "created_at": "2026-11-29T19:13:23.515171Z",
}


class FaceOut(ApiModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [_FACE_OUT_EXAMPLE]},
    )

    id: int
    identity_id: uuid.UUID
    model_id: str
    box: BoxOut
    quality: QualityOut
    content_sha256: str = Field(
        pattern="^[0-9a-f]{64}$",
        description="Hex SHA-256 of the photo's bytes as uploaded; the same photo again is "
        "refused as `duplicate_image`, so clients can skip photos already enrolled.",
    )
    created_at: Timestamp


class RejectionOut(ApiModel):
    index: int = Field(description="Position of the photo in the request, from 0.")
    code: str = Field(description="no_face, multiple_faces, low_quality, invalid_image, ...")
    reason: str
    issues: list[str] = Field(default_factory=list, description="Quality checks that failed.")


class EnrollOut(ApiModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "faces": [_FACE_OUT_EXAMPLE],
                    "rejected": [
                        {
                            "index": 1,
                            "code": "no_face",
                            "reason": "no face was found in the photo",
                            "issues": [],
                        }
                    ],
                }
            ]
        },
    )

    faces: list[FaceOut]
    rejected: list[RejectionOut]


# --- matching ---------------------------------------------------------------------------------


class DetectedFaceOut(ApiModel):
    box: BoxOut
    score: float
    landmarks: list[list[float]] = Field(
        description="[x, y] of left eye, right eye, nose, left and right mouth corner."
    )
    quality: QualityOut


# One real detect/identify answer (obama3.jpg), shared by the response examples below.
_FACE_EXAMPLE: dict[str, Any] = {
    "box": {"x": 631.5, "y": 244.1, "width": 283.1, "height": 364.5},
    "score": 0.9999,
    "landmarks": [[737.8, 384.6], [861.3, 400.8], [810.1, 442.1], [734.5, 509.6], [845.7, 527.2]],
    "quality": {
        "detection_score": 1.0,
        "interocular_px": 124.5,
        "sharpness": 232.9,
        "pose": 0.225,
        "brightness": 102.1,
    },
}
_CANDIDATE_EXAMPLE: dict[str, Any] = {
    "identity_id": "2c667887-533b-43bb-824a-6b981f8b75fd",
    "external_id": "obama",
    "display_name": "Barack Obama",
    "similarity": 0.97408,
    "estimated_far": 2.03e-07,
    "face_id": 1,
}


class DetectOut(ApiModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "faces": [
                        {
                            **_FACE_EXAMPLE,
                        }
                    ]
                }
            ]
        },
    )

    faces: list[DetectedFaceOut]


class CandidateOut(ApiModel):
    identity_id: uuid.UUID
    external_id: str | None
    display_name: str | None
    similarity: float = Field(description="Cosine similarity of the templates, -1..1.")
    estimated_far: float = Field(
        description="Share of impostor pairs that score this high (calibration data)."
    )
    face_id: int = Field(description="The identity's enrolled face that matched best.")


class IdentifiedFaceOut(DetectedFaceOut):
    candidates: list[CandidateOut]
    match: CandidateOut | None = Field(
        description="The best candidate when at or above the threshold, else null."
    )


class IdentifyOut(ApiModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "faces": [
                        {
                            **_FACE_EXAMPLE,
                            "candidates": [_CANDIDATE_EXAMPLE],
                            "match": _CANDIDATE_EXAMPLE,
                        }
                    ],
                    "threshold": 0.9301,
                    "model_id": "dlib-resnet-v1@55533b28",
                }
            ]
        },
    )

    faces: list[IdentifiedFaceOut]
    threshold: float
    model_id: str


class FaceBoxOut(ApiModel):
    box: BoxOut


class VerifyOut(ApiModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "similarity": 0.82349,
                    "match": False,
                    "threshold": 0.9301,
                    "estimated_far": 0.679,
                    "face_a": {"box": {"x": 549.1, "y": 117.8, "width": 363.7, "height": 505.2}},
                    "face_b": {"box": {"x": 428.0, "y": 174.2, "width": 284.1, "height": 385.3}},
                    "face_id": None,
                }
            ]
        },
    )

    similarity: float
    match: bool
    threshold: float
    estimated_far: float
    face_a: FaceBoxOut
    face_b: FaceBoxOut | None = None
    face_id: int | None = Field(
        None, description="Verifying against an identity: its enrolled face that matched best."
    )


# --- keys, models, health ---------------------------------------------------------------------

Role = Literal["identify", "enroll", "admin"]
KeyKind = Literal["api_key", "sigv4"]


class KeyCreate(RequestModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {"collection_id": None, "role": "identify", "name": "front door"}
        },
    )
    collection_id: uuid.UUID | None = Field(description="null: a key for every collection.")
    role: Role
    name: Text | None = None
    kind: KeyKind = Field(
        "api_key",
        description="`api_key`: a secret for the `X-API-Key` header. `sigv4`: an AWS access key "
        "id and secret access key for the Rekognition-compatible API (docs/compat.md).",
    )


_KEY_EXAMPLE: dict[str, Any] = {
    "id": "d31a961b-de29-47c4-9aad-ab42ba6b6cfb",
    "prefix": "717039fc352d",
    "role": "identify",
    "collection_id": "b4cc9839-7d40-4bf3-b8e2-51712c1edd2e",
    "name": "front door",
    "created_at": "2026-11-29T19:13:23.515171Z",
    "last_used_at": "2026-11-29T19:20:02.004211Z",
    "revoked_at": None,
    "kind": "api_key",
    "access_key_id": None,
}


class KeyOut(ApiModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_KEY_EXAMPLE]})

    id: uuid.UUID
    prefix: str
    role: Role
    collection_id: uuid.UUID | None
    name: str | None
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None
    kind: KeyKind
    access_key_id: str | None = Field(description="The SigV4 access key id (`sigv4` keys).")


class KeyScopeOut(ApiModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {"key_id": _KEY_EXAMPLE["id"], "role": "identify", "collection_id": None},
                {"key_id": None, "role": "admin", "collection_id": None},
            ]
        },
    )

    key_id: uuid.UUID | None = Field(description="null: the admin key from the settings.")
    role: Role
    collection_id: uuid.UUID | None = Field(description="null: every collection.")


class KeyCreated(KeyOut):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                _KEY_EXAMPLE
                | {
                    "last_used_at": None,
                    "key": "fm_717039fc352d_I_i4K7nju-GxvHioS6lUkK-VkpWLRudXOskMvGjGzDI",
                }
            ]
        },
    )

    key: str | None = Field(
        None, description="The `X-API-Key` secret (`api_key` keys). Shown only in this response."
    )
    secret_access_key: str | None = Field(
        None, description="The SigV4 secret (`sigv4` keys). Shown only in this response."
    )


_MODEL_EXAMPLE: dict[str, Any] = {
    "model_id": "dlib-resnet-v1@55533b28",
    "embedding_dim": 128,
    "default_threshold": 0.9301,
    "threshold": 0.9301,
    "estimated_far": 0.001,
    "calibration": {
        "impostor_pairs": 12454344,
        "far_floor": 8.03e-08,
        "points": [
            {"similarity": 0.9, "far": 0.0303},
            {"similarity": 0.9301, "far": 0.001},
            {"similarity": 0.95, "far": 2.72e-05},
        ],
    },
}


class CalibrationPointOut(ApiModel):
    similarity: float
    far: float = Field(description="Share of impostor pairs scoring at or above `similarity`.")


class CalibrationOut(ApiModel):
    impostor_pairs: int = Field(description="Different-person pairs the table was measured on.")
    far_floor: float = Field(
        description="1 / impostor_pairs: estimates below it are reported as this bound."
    )
    points: list[CalibrationPointOut] = Field(description="Ascending similarity.")


class ModelOut(ApiModel):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [_MODEL_EXAMPLE]}
    )

    model_id: str
    embedding_dim: int
    default_threshold: float
    threshold: float = Field(description="The threshold in force (settings may override).")
    estimated_far: float = Field(description="Estimated false-accept rate at `threshold`.")
    calibration: CalibrationOut = Field(
        description="The measured similarity → FAR table every `estimated_far` comes from."
    )


class ModelsOut(ApiModel):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [{"models": [_MODEL_EXAMPLE]}]}
    )

    models: list[ModelOut]


class HealthOut(ApiModel):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [{"status": "ok"}]}
    )

    status: Literal["ok"]


class ReadyOut(ApiModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "status": "ready",
                    "checks": {"models": "ok", "database": "ok", "indexes": "ok"},
                }
            ]
        },
    )

    status: Literal["ready"]
    checks: dict[str, str]


# --- audit trail ---------------------------------------------------------------------------------


class AuditEventOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "example": {
                "id": 42,
                "created_at": "2026-11-29T19:30:00Z",
                "key_id": "0b6f0f7e-8a43-4c1e-9a57-3b0f0c1c9e21",
                "action": "identity.delete",
                "collection_id": "4b1c5e2a-0d7e-4f7c-9d7a-2b9f4f4b8a10",
                "target_type": "identity",
                "target_id": "9e2d4c1a-5b6f-4a3e-8c7d-1f0e2d3c4b5a",
                "details": {"face_ids": [17, 18]},
            }
        },
    )

    id: int
    created_at: Timestamp
    key_id: str | None = Field(description='The API key id that acted, or "admin".')
    action: str = Field(description=f"One of: {', '.join(audit_actions.ACTIONS)}.")
    collection_id: uuid.UUID | None
    target_type: str | None
    target_id: str | None
    details: dict[str, Any] | None = Field(description="Ids and counts only; never biometric.")


def _audit_page_example(schema: dict[str, Any]) -> None:
    schema["examples"] = [{"items": [example_of(AuditEventOut)], "next_before_id": 42}]


class AuditPage(BaseModel):
    model_config = ConfigDict(json_schema_extra=_audit_page_example)

    items: list[AuditEventOut]
    next_before_id: int | None = Field(
        description="Pass as `before_id` for the next (older) page; null on the last page."
    )

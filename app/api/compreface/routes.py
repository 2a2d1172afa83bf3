"""CompreFace's recognition, detection and verification API (`/api/v1/...`) over facematch's
services: the subset its SDK and Double Take use.

The `x-api-key` header carries a collection-scoped facematch key: its collection is the face
collection, a subject is an identity (external_id), an example (`image_id`) is a face. Similarities
are `app.services.scores.foreign_score`, so CompreFace's recommended 0.5 threshold is FAR 5.8e-3
and Double Take's 60 % is FAR 2.1e-3 (docs/compat.md). Photos come as multipart `file` (or the
documented field names) or base64 strings in JSON, as CompreFace accepts them.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Security
from fastapi import status as http_status
from fastapi.security import APIKeyHeader

from app.api.access import Context, access
from app.api.compreface import schemas as wire
from app.api.compreface.errors import (
    NO_FACE_MESSAGE,
    CompreFaceError,
    CompreFaceRoute,
    error_responses,
)
from app.api.doors import protocol
from app.api.images import read_images
from app.services import matching, subjects
from app.services.errors import FaceRejected, NotFound
from app.services.scores import foreign_score
from app.stage_timing import current_totals
from app.vision.types import EmbeddedFace, Face

TAG = "compreface"
PREFIXES = ("/api/v1/",)  # the paths this door answers
PROTOCOL = protocol(TAG)
router = APIRouter(tags=[TAG], route_class=CompreFaceRoute)

compreface_key = APIKeyHeader(
    name="x-api-key",
    scheme_name="CompreFaceApiKey",
    auto_error=False,
    description="A collection-scoped facematch key, where CompreFace wants a service key.",
)


def header_api_key(api_key: Annotated[str | None, Security(compreface_key)] = None) -> str:
    """CompreFace's key reader: the `x-api-key` header (code 20 when it is missing)."""
    if not api_key:
        raise CompreFaceError(400, 20, "Missing header: x-api-key")
    return api_key


Reader = Annotated[Context, Depends(access("identify", credentials=header_api_key))]
Enroller = Annotated[Context, Depends(access("enroll", credentials=header_api_key))]

F = TypeVar("F", bound=Callable[..., Any])

RECOGNITION = "/api/v1/recognition"
_MAX_PREDICTIONS = 100  # subjects per face: more is not a recognition answer


def _photo_body(*fields: str) -> dict[str, Any]:
    """`openapi_extra`: the photos as multipart files or base64 strings in JSON."""
    return {
        **PROTOCOL,
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": list(fields),
                        "properties": {f: {"type": "string", "format": "binary"} for f in fields},
                    },
                },
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": list(fields),
                        "properties": {f: {"type": "string", "format": "byte"} for f in fields},
                    },
                    "example": {f: "/9j/4AAQSkZJRgABAQAAAQABAAD..." for f in fields},
                },
            },
        },
    }


async def _file(request: Request) -> bytes:
    return (await read_images(request, ("file",)))["file"][0]


async def _pair(request: Request) -> tuple[bytes, bytes]:
    found = await read_images(request, ("source_image", "target_image"))
    return found["source_image"][0], found["target_image"][0]


FileBytes = Annotated[bytes, Depends(_file)]
PhotoPair = Annotated[tuple[bytes, bytes], Depends(_pair)]

DetProb = Annotated[
    float | None,
    Query(ge=0, le=1, description="Only faces the detector is at least this sure of (0-1)."),
]
Limit = Annotated[
    int, Query(ge=0, description="Faces per photo, biggest first; 0 is the service's limit.")
]
FacePlugins = Annotated[
    str,
    Query(
        max_length=500,
        description="Comma-separated: `landmarks` and `calculator` (the embedding) are "
        "answered; other plugins (age, gender, mask, pose) are accepted and ignored.",
    ),
]
Status = Annotated[bool, Query(description="Add `execution_time` and `plugins_versions`.")]
SubjectQuery = Annotated[str | None, Query(max_length=200, description="The subject's name.")]


def _image_id(face_id: int) -> str:
    """Face ids are positive integers; CompreFace's image ids are UUIDs: the integer as one."""
    return str(uuid.UUID(int=face_id))


def _face_id(image_id: str) -> int:
    if len(image_id) > 64:
        raise CompreFaceError(404, 11, "image not found")
    try:
        value = uuid.UUID(image_id).int if "-" in image_id else int(image_id)
    except ValueError:
        value = 0
    if not 0 < value < 2**63:
        raise CompreFaceError(404, 11, f"image {image_id!r} not found")
    return value


@dataclass(frozen=True, slots=True)
class Options:
    """The query options CompreFace's photo endpoints share."""

    limit: int
    det_prob_threshold: float | None
    face_plugins: str
    status: bool


def _options(
    limit: Limit = 0,
    det_prob_threshold: DetProb = None,
    face_plugins: FacePlugins = "",
    status: Status = False,
) -> Options:
    return Options(limit, det_prob_threshold, face_plugins, status)


OptionsDep = Annotated[Options, Depends(_options)]


class _Answer:
    """What `face_plugins` and `status` ask for, applied to each face."""

    def __init__(self, ctx: Context, options: Options) -> None:
        requested = {p.strip() for p in options.face_plugins.split(",") if p.strip()}
        self.landmarks = "landmarks" in requested
        self.embedding = "calculator" in requested
        self.status = options.status
        self.pipeline = ctx.pipeline
        cap = ctx.settings.max_faces_per_image
        self.max_faces = cap if options.limit == 0 else min(options.limit, cap)
        self.det_prob_threshold = options.det_prob_threshold

    def face(self, face: Face, **fields: Any) -> dict[str, Any]:
        box = face.box
        out: dict[str, Any] = {
            "box": {
                "probability": round(face.score, 5),
                "x_max": max(0, round(box.x + box.width)),
                "y_max": max(0, round(box.y + box.height)),
                "x_min": max(0, round(box.x)),
                "y_min": max(0, round(box.y)),
            },
            **fields,
        }
        if self.landmarks:
            out["landmarks"] = [[round(x), round(y)] for x, y in face.landmarks]
        if self.embedding and isinstance(face, EmbeddedFace):
            out["embedding"] = [round(float(v), 6) for v in face.template]
        if self.status:
            totals = current_totals()
            detector = sum(totals.get(s, 0.0) for s in ("decode", "detect", "align"))
            out["execution_time"] = {
                "detector": round(detector * 1000, 1),
                "calculator": round(totals.get("embed", 0.0) * 1000, 1),
            }
        return out

    def versions(self) -> dict[str, Any]:
        if not self.status:
            return {}
        return {
            "plugins_versions": {
                "detector": "facematch.MtcnnDetector",
                "calculator": self.pipeline.model_id,
            }
        }

    def similarity(self, cosine: float) -> float:
        return round(foreign_score(cosine, pipeline=self.pipeline), 5)

    def kept(self, faces: list[Face]) -> set[int]:
        """Ids of the faces the detector is sure enough of; none at all answers code 28."""
        return {id(f) for f in _kept(faces, self.det_prob_threshold)}


def _kept(faces: list[Face], det_prob_threshold: float | None) -> list[Face]:
    kept = [f for f in faces if det_prob_threshold is None or f.score >= det_prob_threshold]
    if not kept:
        raise CompreFaceError(400, 28, NO_FACE_MESSAGE)
    return kept


def _post(path: str, **kwargs: Any) -> Callable[[F], F]:
    return router.post(path, response_model_exclude_none=True, **kwargs)


# --- face collection ---------------------------------------------------------------------------


@_post(
    f"{RECOGNITION}/faces",
    name="add-example",
    summary="Add an example (face) of a subject",
    status_code=http_status.HTTP_201_CREATED,
    openapi_extra=_photo_body("file"),
    responses=error_responses(413),
)
def add_example(
    ctx: Enroller,
    image: FileBytes,
    subject: Annotated[str, Query(min_length=1, max_length=200, description="Who it is.")],
    det_prob_threshold: DetProb = None,
) -> wire.CompreFaceFaceRefOut:
    """The photo's one face becomes a face of the subject (created on first use). A photo the
    subject already holds answers its existing `image_id` (uploads are safe to retry)."""
    collection_id = subjects.face_store(ctx.caller)
    if det_prob_threshold is not None:
        faces = matching.detect_faces(
            pipeline=ctx.pipeline,
            runner=ctx.runner,
            image=image,
            min_face_size=ctx.settings.min_face_size,
            max_faces=ctx.settings.max_faces_per_image,
        )
        _kept(faces, det_prob_threshold)
    try:
        result = subjects.enroll(
            session=ctx.session,
            index=ctx.index,
            pipeline=ctx.pipeline,
            runner=ctx.runner,
            collection_id=collection_id,
            subject=subject,
            images=[image],
            largest_only=False,
            min_face_size=ctx.settings.min_face_size,
        )
    except FaceRejected as exc:
        held = None
        if exc.code == "duplicate_image":
            held = subjects.face_holding(
                session=ctx.session, collection_id=collection_id, subject=subject, image=image
            )
        if held is None:
            raise
        return wire.CompreFaceFaceRefOut(image_id=_image_id(held.face_id), subject=held.subject)
    return wire.CompreFaceFaceRefOut(image_id=_image_id(result.faces[0].id), subject=subject)


@router.get(
    f"{RECOGNITION}/faces",
    name="list-examples",
    summary="List examples (faces) of the collection",
    openapi_extra=PROTOCOL,
    responses=error_responses(),
)
def list_examples(
    ctx: Reader,
    subject: SubjectQuery = None,
    page: Annotated[int, Query(ge=0, le=2**31, description="Page number, from 0.")] = 0,
    size: Annotated[int, Query(ge=1, description="Faces per page (capped).")] = 20,
) -> wire.CompreFaceFacesPageOut:
    size = min(size, ctx.settings.page_size_max)
    named, total = subjects.list_faces(
        session=ctx.session,
        collection_id=subjects.face_store(ctx.caller),
        subject=subject,
        limit=size,
        offset=page * size,
    )
    return wire.CompreFaceFacesPageOut(
        faces=[
            wire.CompreFaceFaceRefOut(image_id=_image_id(f.face_id), subject=f.subject)
            for f in named
        ],
        page_number=page,
        page_size=size,
        total_pages=math.ceil(total / size),
        total_elements=total,
    )


@router.delete(
    f"{RECOGNITION}/faces",
    name="delete-examples",
    summary="Delete all examples of a subject (or of every subject)",
    openapi_extra=PROTOCOL,
    responses=error_responses(),
)
def delete_examples(ctx: Enroller, subject: SubjectQuery = None) -> wire.CompreFaceDeletedOut:
    """Without `subject`, every face of the collection is deleted (the subjects stay)."""
    deleted = subjects.delete_faces(
        session=ctx.session,
        index=ctx.index,
        collection_id=subjects.face_store(ctx.caller),
        subject=subject,
    )
    return wire.CompreFaceDeletedOut(deleted=deleted)


ImageIdPath = Annotated[str, Path(max_length=64, description="The face's image_id.")]


@router.delete(
    f"{RECOGNITION}/faces/{{image_id}}",
    name="delete-example",
    summary="Delete one example (face) by image_id",
    openapi_extra=PROTOCOL,
    responses=error_responses(404),
)
def delete_example(ctx: Enroller, image_id: ImageIdPath) -> wire.CompreFaceFaceRefOut:
    named = subjects.delete_face(
        session=ctx.session,
        index=ctx.index,
        collection_id=subjects.face_store(ctx.caller),
        face_id=_face_id(image_id),
    )
    return wire.CompreFaceFaceRefOut(image_id=image_id, subject=named.subject)


@_post(
    f"{RECOGNITION}/faces/delete",
    name="delete-examples-by-id",
    summary="Delete several examples (faces) by image_id",
    openapi_extra=PROTOCOL,
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": [
                        {"image_id": "00000000-0000-0000-0000-00000000002a", "subject": "obama"}
                    ]
                }
            }
        },
        **error_responses(),
    },
)
def delete_examples_by_id(
    ctx: Enroller,
    image_ids: Annotated[
        list[str], Body(max_length=1000, examples=[["00000000-0000-0000-0000-00000000002a"]])
    ],
) -> list[wire.CompreFaceFaceRefOut]:
    """The faces that were deleted; ids that name no face are skipped."""
    collection_id = subjects.face_store(ctx.caller)
    deleted = []
    for image_id in image_ids:
        try:
            face_id = _face_id(image_id)
            named = subjects.delete_face(
                session=ctx.session, index=ctx.index, collection_id=collection_id, face_id=face_id
            )
        except (CompreFaceError, NotFound):
            continue
        deleted.append(wire.CompreFaceFaceRefOut(image_id=image_id, subject=named.subject))
    return deleted


# --- recognition -------------------------------------------------------------------------------


@_post(
    f"{RECOGNITION}/recognize",
    name="recognize",
    summary="Recognize the faces of a photo",
    openapi_extra=_photo_body("file"),
    responses=error_responses(413),
)
def recognize(
    ctx: Reader,
    image: FileBytes,
    options: OptionsDep,
    prediction_count: Annotated[
        int, Query(ge=1, le=_MAX_PREDICTIONS, description="Subjects per face, most similar first.")
    ] = 1,
) -> wire.CompreFaceRecognizeOut:
    """Each face (biggest first) with its most similar subjects, whatever their similarity: the
    client compares it with its own threshold. No face answers code 28."""
    pipeline = ctx.pipeline
    answer = _Answer(ctx, options)
    results = matching.identify(
        session=ctx.session,
        index=ctx.index,
        pipeline=pipeline,
        runner=ctx.runner,
        collection_id=subjects.face_store(ctx.caller),
        image=image,
        top_k=prediction_count,
        largest_only=False,
        threshold=pipeline.default_threshold,
        min_face_size=ctx.settings.min_face_size,
        max_faces=answer.max_faces,
    )
    kept = answer.kept([r.face for r in results])
    return wire.CompreFaceRecognizeOut.model_validate(
        {
            "result": [
                answer.face(
                    r.face,
                    subjects=[
                        {
                            "subject": subjects.name_of(c.identity_id, c.external_id),
                            "similarity": answer.similarity(c.similarity),
                        }
                        for c in r.candidates
                    ],
                )
                for r in results
                if id(r.face) in kept
            ],
            **answer.versions(),
        }
    )


@_post(
    f"{RECOGNITION}/faces/{{image_id}}/verify",
    name="verify-example",
    summary="Compare the faces of a photo with one example",
    openapi_extra=_photo_body("file"),
    responses=error_responses(404, 413),
)
def verify_example(
    ctx: Reader,
    image_id: ImageIdPath,
    image: FileBytes,
    options: OptionsDep,
) -> wire.CompreFaceFaceVerifyOut:
    pipeline = ctx.pipeline
    answer = _Answer(ctx, options)
    try:
        compared = matching.compare_to_face(
            session=ctx.session,
            pipeline=pipeline,
            runner=ctx.runner,
            collection_id=subjects.face_store(ctx.caller),
            face_id=_face_id(image_id),
            image=image,
            min_face_size=ctx.settings.min_face_size,
            max_faces=answer.max_faces,
        )
    except FaceRejected as exc:
        raise CompreFaceError(400, 28, NO_FACE_MESSAGE) from exc
    kept = answer.kept([c.face for c in compared])
    return wire.CompreFaceFaceVerifyOut.model_validate(
        {
            "result": [
                answer.face(c.face, similarity=answer.similarity(c.similarity))
                for c in compared
                if id(c.face) in kept
            ],
            **answer.versions(),
        }
    )


# --- subjects ----------------------------------------------------------------------------------

SubjectPath = Annotated[str, Path(min_length=1, max_length=200, description="A subject's name.")]


@_post(
    f"{RECOGNITION}/subjects",
    name="add-subject",
    summary="Add a subject (without faces)",
    status_code=http_status.HTTP_201_CREATED,
    openapi_extra=PROTOCOL,
    responses=error_responses(),
)
def add_subject(ctx: Enroller, body: wire.CompreFaceSubjectIn) -> wire.CompreFaceSubjectOut:
    identity = subjects.create(
        session=ctx.session, collection_id=subjects.face_store(ctx.caller), subject=body.subject
    )
    return wire.CompreFaceSubjectOut(subject=identity.external_id or body.subject)


@router.get(
    f"{RECOGNITION}/subjects",
    name="list-subjects",
    summary="List subjects",
    openapi_extra=PROTOCOL,
    responses=error_responses(),
)
def list_subjects(ctx: Reader) -> wire.CompreFaceSubjectsOut:
    names = subjects.names(session=ctx.session, collection_id=subjects.face_store(ctx.caller))
    return wire.CompreFaceSubjectsOut(subjects=names)


@router.put(
    f"{RECOGNITION}/subjects/{{subject}}",
    name="rename-subject",
    summary="Rename a subject (merging into an existing one)",
    openapi_extra=PROTOCOL,
    responses=error_responses(404),
)
def rename_subject(
    ctx: Enroller, subject: SubjectPath, body: wire.CompreFaceSubjectIn
) -> wire.CompreFaceUpdatedOut:
    subjects.rename(
        session=ctx.session,
        index=ctx.index,
        collection_id=subjects.face_store(ctx.caller),
        subject=subject,
        new_name=body.subject,
    )
    return wire.CompreFaceUpdatedOut(updated=True)


@router.delete(
    f"{RECOGNITION}/subjects/{{subject}}",
    name="delete-subject",
    summary="Delete a subject and all its faces",
    openapi_extra=PROTOCOL,
    responses=error_responses(404),
)
def delete_subject(ctx: Enroller, subject: SubjectPath) -> wire.CompreFaceSubjectOut:
    removed = subjects.delete(
        session=ctx.session,
        index=ctx.index,
        collection_id=subjects.face_store(ctx.caller),
        subject=subject,
    )
    if removed is None:
        raise CompreFaceError(404, 11, f"subject {subject!r} not found")
    return wire.CompreFaceSubjectOut(subject=subject)


@router.delete(
    f"{RECOGNITION}/subjects",
    name="delete-subjects",
    summary="Delete every subject and all their faces",
    openapi_extra=PROTOCOL,
    responses=error_responses(),
)
def delete_subjects(ctx: Enroller) -> wire.CompreFaceDeletedOut:
    removed = subjects.delete_all(
        session=ctx.session, index=ctx.index, collection_id=subjects.face_store(ctx.caller)
    )
    return wire.CompreFaceDeletedOut(deleted=removed)


# --- detection and verification services -------------------------------------------------------


@_post(
    "/api/v1/detection/detect",
    name="detect",
    summary="Detect the faces of a photo",
    openapi_extra=_photo_body("file"),
    responses=error_responses(413),
)
def detect(
    ctx: Reader,
    image: FileBytes,
    options: OptionsDep,
) -> wire.CompreFaceDetectOut:
    """Nothing is stored. No face answers code 28."""
    pipeline = ctx.pipeline
    answer = _Answer(ctx, options)
    analyze: Callable[..., Sequence[Face]] = (
        pipeline.analyze if answer.embedding else pipeline.detect
    )
    faces = list(
        ctx.runner.run(
            analyze, image, min_face_size=ctx.settings.min_face_size, max_faces=answer.max_faces
        )
    )
    return wire.CompreFaceDetectOut.model_validate(
        {
            "result": [answer.face(f) for f in _kept(faces, answer.det_prob_threshold)],
            **answer.versions(),
        }
    )


@_post(
    "/api/v1/verification/verify",
    name="verify",
    summary="Compare the face of one photo with the faces of another",
    openapi_extra=_photo_body("source_image", "target_image"),
    responses=error_responses(413),
)
def verify(
    ctx: Reader,
    photos: PhotoPair,
    options: OptionsDep,
) -> wire.CompreFaceVerificationOut:
    """The biggest face of `source_image` against every face of `target_image`."""
    pipeline = ctx.pipeline
    answer = _Answer(ctx, options)
    try:
        source, compared = matching.compare_photos(
            pipeline=pipeline,
            runner=ctx.runner,
            source=photos[0],
            target=photos[1],
            min_face_size=ctx.settings.min_face_size,
            max_faces=answer.max_faces,
        )
    except FaceRejected as exc:
        raise CompreFaceError(400, 28, NO_FACE_MESSAGE) from exc
    answer.kept([source])
    kept = answer.kept([c.face for c in compared])
    return wire.CompreFaceVerificationOut.model_validate(
        {
            "result": [
                {
                    "source_image_face": answer.face(source),
                    "face_matches": [
                        answer.face(c.face, similarity=answer.similarity(c.similarity))
                        for c in compared
                        if id(c.face) in kept
                    ],
                    **answer.versions(),
                }
            ]
        }
    )

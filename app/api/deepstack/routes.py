"""DeepStack's face API (`/v1/vision/face/...`) over facematch's services.

Every route is a POST of one form: `api_key` (a collection-scoped facematch key: its collection is
the face store), `image` / `userid` / `min_confidence` as DeepStack reads them. Scores are
`app.services.scores.foreign_score`, so DeepStack's default `min_confidence` 0.67 is facematch's
default operating point (FAR 1e-3). Register appends each photo as a face of the identity
(external_id = userid) instead of replacing DeepStack's one averaged embedding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from time import perf_counter
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends

from app.api.access import Context, access
from app.api.deepstack.errors import DeepStackError, DeepStackRoute, error_responses
from app.api.deepstack.form import DeepStackForm, FormDep, form_api_key
from app.api.deepstack.schemas import (
    DeepStackDeleteOut,
    DeepStackDetectedFaceOut,
    DeepStackDetectOut,
    DeepStackFaceListOut,
    DeepStackMatchOut,
    DeepStackMessageOut,
    DeepStackRecognizedFaceOut,
    DeepStackRecognizeOut,
)
from app.api.doors import protocol
from app.services import matching, subjects
from app.services.errors import FaceRejected
from app.services.scores import foreign_score, foreign_threshold
from app.vision.types import Box

TAG = "deepstack"
PREFIXES = ("/v1/vision/",)  # the paths this door answers
PROTOCOL = protocol(TAG)
router = APIRouter(tags=[TAG], route_class=DeepStackRoute)

Reader = Annotated[Context, Depends(access("identify", credentials=form_api_key))]
Enroller = Annotated[Context, Depends(access("enroll", credentials=form_api_key))]

# DeepStack's server defaults: face detection keeps faces at 0.55 and up, recognition names
# users at 0.67 and up (on facematch's calibrated scale: FAR 1e-3, docs/compat.md).
_DETECT_MIN_CONFIDENCE = 0.55
_RECOGNIZE_MIN_CONFIDENCE = 0.67
UNKNOWN = "unknown"

F = TypeVar("F", bound=Callable[..., Any])


def _form_body(*fields: tuple[str, dict[str, Any]], required: tuple[str, ...]) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "api_key": {"type": "string", "description": "A collection-scoped facematch key."},
        **dict(fields),
    }
    example = {
        "api_key": "fm_2b1c0e7a9d44_…",
        **{n: _EXAMPLES[n] for n in properties if n in _EXAMPLES},
    }
    return {
        **PROTOCOL,
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["api_key", *required],
                        "properties": properties,
                    },
                    "example": example,
                }
            },
        },
    }


_EXAMPLES = {"userid": "obama", "min_confidence": 0.67}


_IMAGE = ("image", {"type": "string", "format": "binary"})
_USERID = ("userid", {"type": "string", "description": "The identity's external_id."})


def _min_confidence(default: float, meaning: str) -> tuple[str, dict[str, Any]]:
    return (
        "min_confidence",
        {"type": "number", "maximum": 1, "default": default, "description": meaning},
    )


def _post(path: str, **kwargs: Any) -> Callable[[F], F]:
    """DeepStack answers with and without a trailing slash; only one is documented."""

    def register(fn: F) -> F:
        router.post(path, **kwargs)(fn)
        router.post(f"{path}/", include_in_schema=False, **kwargs)(fn)
        return fn

    return register


def _confidence(form: DeepStackForm, default: float) -> float:
    """`min_confidence` validated as DeepStack does (and NaN/inf refused, which it let through)."""
    raw = form.fields.get("min_confidence", "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise DeepStackError("Invalid value for min_confidence") from None
    if not math.isfinite(value):
        raise DeepStackError("Invalid value for min_confidence")
    if value > 1.0:
        raise DeepStackError("min_confidence cannot be greater than 1")
    return max(0.0, value)


def _image(form: DeepStackForm) -> bytes:
    image = form.file("image")
    if image is None:
        raise DeepStackError("No valid image file found")
    return image


def _corners(box: Box) -> dict[str, int]:
    return {
        "x_min": max(0, round(box.x)),
        "y_min": max(0, round(box.y)),
        "x_max": max(0, round(box.x + box.width)),
        "y_max": max(0, round(box.y + box.height)),
    }


@_post(
    "/v1/vision/face",
    name="detect",
    summary="Detect faces",
    openapi_extra=_form_body(
        _IMAGE,
        _min_confidence(_DETECT_MIN_CONFIDENCE, "Smallest detector confidence reported."),
        required=("image",),
    ),
    responses=error_responses(413),
)
def detect(ctx: Reader, form: FormDep) -> DeepStackDetectOut:
    """Faces in the photo, largest first; no face gives `predictions: []`."""
    started = perf_counter()
    image = _image(form)
    min_confidence = _confidence(form, _DETECT_MIN_CONFIDENCE)
    faces = matching.detect_faces(
        pipeline=ctx.pipeline,
        runner=ctx.runner,
        image=image,
        min_face_size=ctx.settings.min_face_size,
        max_faces=ctx.settings.max_faces_per_image,
    )
    return DeepStackDetectOut(
        predictions=[
            DeepStackDetectedFaceOut(confidence=round(f.score, 4), **_corners(f.box))
            for f in faces
            if f.score >= min_confidence
        ],
        duration=perf_counter() - started,
    )


@_post(
    "/v1/vision/face/recognize",
    name="recognize",
    summary="Recognize every face",
    openapi_extra=_form_body(
        _IMAGE,
        _min_confidence(
            _RECOGNIZE_MIN_CONFIDENCE,
            "Name a face only at this calibrated score or above (0.67: FAR 1e-3).",
        ),
        required=("image",),
    ),
    responses=error_responses(403, 413),
)
def recognize(ctx: Reader, form: FormDep) -> DeepStackRecognizeOut:
    """Every face of the photo with its best userid, or `unknown` with confidence 0 below
    `min_confidence`. No face gives `predictions: []`."""
    started = perf_counter()
    collection_id = subjects.face_store(ctx.caller)
    image = _image(form)
    min_confidence = _confidence(form, _RECOGNIZE_MIN_CONFIDENCE)
    pipeline = ctx.pipeline
    results = matching.identify(
        session=ctx.session,
        index=ctx.index,
        pipeline=pipeline,
        runner=ctx.runner,
        collection_id=collection_id,
        image=image,
        top_k=1,
        largest_only=False,
        threshold=foreign_threshold(min_confidence, pipeline=pipeline),
        min_face_size=ctx.settings.min_face_size,
        max_faces=ctx.settings.max_faces_per_image,
    )
    predictions = []
    for result in results:
        userid, confidence = UNKNOWN, 0.0
        if result.candidates:
            best = result.candidates[0]
            score = foreign_score(best.similarity, pipeline=pipeline)
            if score >= min_confidence:
                userid = subjects.name_of(best.identity_id, best.external_id)
                confidence = round(score, 4)
        predictions.append(
            DeepStackRecognizedFaceOut(
                confidence=confidence, userid=userid, **_corners(result.face.box)
            )
        )
    return DeepStackRecognizeOut(predictions=predictions, duration=perf_counter() - started)


@_post(
    "/v1/vision/face/register",
    name="register",
    summary="Register photos of a user",
    openapi_extra=_form_body(
        ("image", {"type": "string", "format": "binary", "description": "Any file field name."}),
        _USERID,
        required=("image", "userid"),
    ),
    responses=error_responses(403, 413),
)
def register(ctx: Enroller, form: FormDep) -> DeepStackMessageOut:
    """Each photo (file fields under any name) becomes a face of the identity whose external_id
    is `userid`, created on first use; earlier photos are kept (DeepStack replaced them)."""
    started = perf_counter()
    collection_id = subjects.face_store(ctx.caller)
    if not form.files:
        raise DeepStackError("No valid image file found")
    userid = form.fields.get("userid", "")
    if not userid:
        raise DeepStackError("userid not specified")
    try:
        subjects.enroll(
            session=ctx.session,
            index=ctx.index,
            pipeline=ctx.pipeline,
            runner=ctx.runner,
            collection_id=collection_id,
            subject=userid,
            images=[data for _, data in form.files],
            largest_only=True,  # DeepStack registers the most prominent face of each photo
            min_face_size=ctx.settings.min_face_size,
        )
    except FaceRejected as exc:
        reasons = {r["code"] for r in exc.extra.get("rejected", [])}
        if reasons == {"duplicate_image"}:
            pass  # every photo is already a face of this user: nothing is lost, say so as added
        elif reasons and reasons <= {"invalid_image", "unsupported_format"}:
            raise DeepStackError("invalid image") from exc
        elif exc.code == "no_face":
            raise DeepStackError("no face detected") from exc
        else:
            raise
    return DeepStackMessageOut(message="face added", duration=perf_counter() - started)


@_post(
    "/v1/vision/face/list",
    name="list",
    summary="List registered users",
    openapi_extra=_form_body(required=()),
    responses=error_responses(403),
)
def list_faces(ctx: Reader) -> DeepStackFaceListOut:
    started = perf_counter()
    names = subjects.names(session=ctx.session, collection_id=subjects.face_store(ctx.caller))
    return DeepStackFaceListOut(faces=names, duration=perf_counter() - started)


@_post(
    "/v1/vision/face/delete",
    name="delete",
    summary="Delete a user and all its faces",
    openapi_extra=_form_body(_USERID, required=("userid",)),
    responses=error_responses(403),
)
def delete(ctx: Enroller, form: FormDep) -> DeepStackDeleteOut:
    """Removes the identity and every face of it; an unknown userid is not an error."""
    started = perf_counter()
    collection_id = subjects.face_store(ctx.caller)
    userid = form.fields.get("userid", "")
    if not userid:
        raise DeepStackError("userid not specified")
    subjects.delete(
        session=ctx.session, index=ctx.index, collection_id=collection_id, subject=userid
    )
    return DeepStackDeleteOut(duration=perf_counter() - started)


@_post(
    "/v1/vision/face/match",
    name="match",
    summary="Compare the faces of two photos",
    openapi_extra=_form_body(
        ("image1", {"type": "string", "format": "binary"}),
        ("image2", {"type": "string", "format": "binary"}),
        required=("image1", "image2"),
    ),
    responses=error_responses(413),
)
def match(ctx: Reader, form: FormDep) -> DeepStackMatchOut:
    """The largest face of each photo; `similarity` is the calibrated score."""
    started = perf_counter()
    if not form.files:
        raise DeepStackError("No valid image file found")
    if len(form.files) == 1:
        raise DeepStackError("expected two image files, only one found")
    if len(form.files) > 2:
        raise DeepStackError("only two images allowed")
    first, second = form.file("image1"), form.file("image2")
    if first is None or second is None:
        (_, first), (_, second) = form.files
    pipeline = ctx.pipeline
    try:
        result = matching.verify_pair(
            pipeline=pipeline,
            runner=ctx.runner,
            image_a=first,
            image_b=second,
            threshold=pipeline.default_threshold,
            min_face_size=ctx.settings.min_face_size,
        )
    except FaceRejected as exc:
        raise DeepStackError("no face found") from exc
    return DeepStackMatchOut(
        similarity=round(foreign_score(result.similarity, pipeline=pipeline), 4),
        duration=perf_counter() - started,
    )

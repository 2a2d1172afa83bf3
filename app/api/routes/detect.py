"""/v1/detect: faces in a photo (boxes, landmarks, quality), no templates and nothing stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.access import Reader
from app.api.errors import IMAGE_PROBLEMS, RequestProblem, problem_responses
from app.api.images import ImageBytes, image_body
from app.api.presenters import detected_out
from app.api.schemas import DetectOut
from app.services import matching as service

router = APIRouter(tags=["detection"])


@router.post(
    "/v1/detect",
    name="detect",
    openapi_extra=image_body("image"),
    responses=problem_responses(*IMAGE_PROBLEMS),
)
def detect(
    ctx: Reader,
    image: ImageBytes,
    max_faces: Annotated[
        int | None, Query(ge=1, description="Default and most: the service limit shown.")
    ] = None,
    min_face_size: Annotated[
        int | None, Query(ge=12, le=4096, description="Smallest face in pixels.")
    ] = None,
) -> DetectOut:
    """Faces, largest first. A photo without faces gives `faces: []`."""
    settings = ctx.settings
    if max_faces is not None and max_faces > settings.max_faces_per_image:
        raise RequestProblem(f"max_faces: at most {settings.max_faces_per_image}")
    faces = service.detect_faces(
        pipeline=ctx.pipeline,
        runner=ctx.runner,
        image=image,
        min_face_size=min_face_size or settings.min_face_size,
        max_faces=max_faces or settings.max_faces_per_image,
    )
    return DetectOut(faces=[detected_out(f) for f in faces])

"""/v1/collections/{cid}/identities/{iid}/faces: enroll photos, list and delete templates."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from app.api.access import Enroller, Reader
from app.api.errors import IMAGE_PROBLEMS, problem_responses
from app.api.images import ImageList, image_body
from app.api.paging import PageDep
from app.api.presenters import face_out, rejection_out
from app.api.schemas import EnrollOut, FaceOut, Page
from app.services import enrollment as service

router = APIRouter(
    prefix="/v1/collections/{collection_id}/identities/{identity_id}/faces", tags=["faces"]
)

FaceId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post(
    "",
    name="enroll",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=image_body("image", repeatable=True),
    responses=problem_responses(
        "forbidden",
        "not_found",
        "model_mismatch",
        # When no photo can be used, the 422 carries the first photo's reason.
        "no_face",
        "multiple_faces",
        "low_quality",
        "duplicate_image",
        *IMAGE_PROBLEMS,
    ),
)
def enroll_faces(
    collection_id: uuid.UUID,
    identity_id: uuid.UUID,
    ctx: Enroller,
    images: ImageList,
    face: Annotated[
        Literal["single", "largest"],
        Query(description="`single`: a photo must hold exactly one face; `largest`: take it."),
    ] = "single",
) -> EnrollOut:
    """Enroll one face per photo (field `image`, repeatable). Photos that cannot be used are
    listed in `rejected` with a reason code; when none can be used the answer is a 422 problem
    (`no_face`, `multiple_faces`, `low_quality`, `invalid_image`, ...) listing them all."""
    result = service.enroll_faces(
        session=ctx.session,
        index=ctx.index,
        pipeline=ctx.pipeline,
        runner=ctx.runner,
        collection_id=collection_id,
        identity_id=identity_id,
        images=images,
        largest_only=face == "largest",
        min_face_size=ctx.settings.min_face_size,
    )
    return EnrollOut(
        faces=[face_out(r) for r in result.faces],
        rejected=[rejection_out(r) for r in result.rejected],
    )


@router.get("", name="list", responses=problem_responses("not_found"))
def list_faces(
    collection_id: uuid.UUID,
    identity_id: uuid.UUID,
    ctx: Reader,
    page: PageDep,
) -> Page[FaceOut]:
    """Enrolled faces (box, quality, model); templates never leave the service."""
    rows, total = service.list_faces(
        session=ctx.session,
        collection_id=collection_id,
        identity_id=identity_id,
        limit=page.limit,
        offset=page.offset,
    )
    return Page(
        items=[face_out(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.delete(
    "/{face_id}",
    name="delete",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses("forbidden", "not_found"),
)
def delete_face(
    collection_id: uuid.UUID,
    identity_id: uuid.UUID,
    face_id: FaceId,
    ctx: Enroller,
) -> None:
    service.delete_face(
        session=ctx.session,
        index=ctx.index,
        collection_id=collection_id,
        identity_id=identity_id,
        face_id=face_id,
    )

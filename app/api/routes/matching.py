"""Identify (1:N in a collection) and verify (1:1, photo vs photo or photo vs identity)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.api.access import Reader
from app.api.errors import IMAGE_PROBLEMS, problem_responses
from app.api.images import ImageBytes, ImagePair, image_body
from app.api.presenters import identified_out, verification_out
from app.api.schemas import IdentifyOut, VerifyOut
from app.services import matching as service

router = APIRouter(tags=["matching"])

Threshold = Annotated[
    float | None,
    Query(ge=-1, le=1, description="Cosine similarity needed for a match; default: the model's."),
]


@router.post(
    "/v1/collections/{collection_id}/identify",
    name="identify",
    openapi_extra=image_body("image"),
    responses=problem_responses("not_found", "model_mismatch", *IMAGE_PROBLEMS),
)
def identify(
    collection_id: uuid.UUID,
    ctx: Reader,
    image: ImageBytes,
    top_k: Annotated[int, Query(ge=1, le=100, description="Candidates per face.")] = 5,
    faces: Annotated[
        Literal["all", "largest"], Query(description="Search every face, or only the largest.")
    ] = "all",
    threshold: Threshold = None,
) -> IdentifyOut:
    """Who is in the photo? For each face: the best identities (best face each), and `match`,
    the first candidate when it reaches the threshold. A photo without faces gives `faces: []`."""
    pipeline, settings = ctx.pipeline, ctx.settings
    used = ctx.threshold(threshold)
    results = service.identify(
        session=ctx.session,
        index=ctx.index,
        pipeline=pipeline,
        runner=ctx.runner,
        collection_id=collection_id,
        image=image,
        top_k=top_k,
        largest_only=faces == "largest",
        threshold=used,
        min_face_size=settings.min_face_size,
        max_faces=settings.max_faces_per_image,
    )
    return IdentifyOut(
        faces=[identified_out(r) for r in results], threshold=used, model_id=pipeline.model_id
    )


@router.post(
    "/v1/verify",
    name="verify",
    openapi_extra=image_body("image_a", "image_b"),
    responses=problem_responses("no_face", *IMAGE_PROBLEMS),
)
def verify(
    ctx: Reader,
    images: ImagePair,
    threshold: Threshold = None,
) -> VerifyOut:
    """Are the largest faces of `image_a` and `image_b` the same person?"""
    pipeline, settings = ctx.pipeline, ctx.settings
    used = ctx.threshold(threshold)
    result = service.verify_pair(
        pipeline=pipeline,
        runner=ctx.runner,
        image_a=images[0],
        image_b=images[1],
        threshold=used,
        min_face_size=settings.min_face_size,
    )
    return verification_out(result)


@router.post(
    "/v1/collections/{collection_id}/identities/{identity_id}/verify",
    name="verify-identity",
    openapi_extra=image_body("image"),
    responses=problem_responses(
        "not_found", "no_face", "no_enrolled_faces", "model_mismatch", *IMAGE_PROBLEMS
    ),
)
def verify_identity(
    collection_id: uuid.UUID,
    identity_id: uuid.UUID,
    ctx: Reader,
    image: ImageBytes,
    threshold: Threshold = None,
) -> VerifyOut:
    """Is the largest face of `image` this identity (best of their enrolled faces)?"""
    pipeline, settings = ctx.pipeline, ctx.settings
    used = ctx.threshold(threshold)
    result = service.verify_identity(
        session=ctx.session,
        pipeline=pipeline,
        runner=ctx.runner,
        collection_id=collection_id,
        identity_id=identity_id,
        image=image,
        threshold=used,
        min_face_size=settings.min_face_size,
    )
    return verification_out(result)

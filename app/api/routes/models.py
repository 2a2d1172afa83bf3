"""/v1/models: which model the service runs and its thresholds."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.access import Reader
from app.api.errors import problem_responses
from app.api.schemas import ModelOut, ModelsOut
from app.services.matching import resolve_threshold

router = APIRouter(tags=["models"])


@router.get("/v1/models", name="list", responses=problem_responses("models_unavailable"))
def list_models(ctx: Reader) -> ModelsOut:
    pipeline = ctx.pipeline
    used = resolve_threshold(
        requested=None, configured=ctx.settings.match_threshold, pipeline=pipeline
    )
    return ModelsOut(
        models=[
            ModelOut(
                model_id=pipeline.model_id,
                embedding_dim=pipeline.embedding_dim,
                default_threshold=float(pipeline.default_threshold),
                threshold=used,
            )
        ]
    )

"""/v1/models: which model the service runs, its thresholds and their calibration."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.access import Reader
from app.api.errors import problem_responses
from app.api.presenters import model_out
from app.api.schemas import ModelsOut
from app.services.models import describe_model

router = APIRouter(tags=["models"])


@router.get("/v1/models", name="list", responses=problem_responses("models_unavailable"))
def list_models(ctx: Reader) -> ModelsOut:
    """The model in service, the threshold in force with its estimated false-accept rate, and
    the measured similarity → FAR table (impostor pairs) the estimates come from."""
    info = describe_model(pipeline=ctx.pipeline, configured_threshold=ctx.settings.match_threshold)
    return ModelsOut(models=[model_out(info)])

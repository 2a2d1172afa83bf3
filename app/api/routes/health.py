"""/healthz (the process answers) and /readyz (models loaded, database reachable, index built)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request

from app.api.access import Public
from app.api.errors import problem_responses
from app.api.schemas import HealthOut, ReadyOut
from app.services.errors import ServiceError

# Probes answer anyone: orchestrators hold no key.
router = APIRouter(tags=["health"], dependencies=[Public])


@router.get("/healthz", name="live")
def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    name="ready",
    responses=problem_responses("models_unavailable", "not_ready", public=True),
)
def readyz(request: Request) -> ReadyOut:
    """Ready to serve: a 503 problem names what is missing."""
    state = request.app.state
    if state.pipeline is None:
        raise ServiceError("the face models are not loaded", code="models_unavailable")
    # A failing connection raises OperationalError → 503 database_unavailable (short timeouts).
    with state.engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
    if not state.index.ready:
        raise ServiceError("the search index is still being built", code="not_ready")
    return ReadyOut(status="ready", checks={"models": "ok", "database": "ok", "indexes": "ok"})

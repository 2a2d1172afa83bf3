"""/healthz (the process answers) and /readyz (models loaded, database reachable, index built).

Both run on the event loop and never wait for the request thread pool, which requests blocked
on inference can fill (issue 11: liveness took 27.5 s under backlog, enough for an orchestrator to
kill a healthy container). The one blocking call, the database round trip, runs on the app's own
probe thread (`app.state.probe_pool`) under a deadline of the connect timeout.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from fastapi import APIRouter, Request
from sqlalchemy.engine import Engine

from app.api.access import Public
from app.api.errors import problem_responses
from app.api.schemas import HealthOut, ReadyOut
from app.db import repositories as repo
from app.services.errors import ServiceError

# Probes answer anyone: orchestrators hold no key.
router = APIRouter(tags=["health"], dependencies=[Public])


# Below this much free space next to the SQLite file, writes are about to fail with "disk full".
_MIN_FREE_BYTES = 64 * 1024 * 1024


@router.get("/healthz", name="live")
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


def _check_database(engine: Engine) -> None:
    # A failing connection raises OperationalError → 503 database_unavailable (short timeouts).
    repo.ping(engine)
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if database and database != ":memory:":
        free = shutil.disk_usage(Path(database).parent).free
        if free < _MIN_FREE_BYTES:
            raise ServiceError(
                f"only {free // 2**20} MiB free next to the database; writes would fail",
                code="not_ready",
            )


@router.get(
    "/readyz",
    name="ready",
    responses=problem_responses("models_unavailable", "not_ready", public=True),
)
async def readyz(request: Request) -> ReadyOut:
    """Ready to serve: a 503 problem names what is missing."""
    state = request.app.state
    if state.pipeline is None:
        raise ServiceError("the face models are not loaded", code="models_unavailable")
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(
            loop.run_in_executor(state.probe_pool, _check_database, state.engine),
            timeout=state.settings.db_connect_timeout_s + 1,
        )
    except TimeoutError:
        raise ServiceError(
            "the database did not answer in time", code="database_unavailable"
        ) from None
    unreadable = dict(state.index.unreadable)
    if unreadable:
        face_id, reason = next(iter(unreadable.items()))
        raise ServiceError(
            f"{len(unreadable)} stored template(s) cannot be read by this process (face "
            f"{face_id}: {reason}); they are missing from search until it gets their key",
            code="not_ready",
        )
    if not state.index.ready:
        raise ServiceError("the search index is still being built", code="not_ready")
    return ReadyOut(status="ready", checks={"models": "ok", "database": "ok", "indexes": "ok"})

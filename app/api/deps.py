"""FastAPI dependencies for the app's long-lived objects, which live on `app.state`.

Who may call a route is declared with `app.api.access` (`Reader`, `Enroller`, `Admin`, ...), whose
`Context` bundles these for the route; the aliases here serve the access code itself and the rare
route that needs one object without a caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.services.errors import ServiceError
from app.services.face_index import FaceIndex
from app.services.inference import InferenceRunner
from app.settings import Settings
from app.vision.pipeline import VisionPipeline


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def loaded(pipeline: VisionPipeline | None) -> VisionPipeline:
    """The pipeline, or `models_unavailable` while the service runs without its models."""
    if pipeline is None:
        raise ServiceError("the face models are not loaded", code="models_unavailable")
    return pipeline


def get_pipeline(request: Request) -> VisionPipeline:
    return loaded(request.app.state.pipeline)


def get_index(request: Request) -> FaceIndex:
    index: FaceIndex = request.app.state.index
    return index


def get_runner(request: Request) -> InferenceRunner:
    runner: InferenceRunner = request.app.state.runner
    return runner


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
PipelineDep = Annotated[VisionPipeline, Depends(get_pipeline)]
IndexDep = Annotated[FaceIndex, Depends(get_index)]
RunnerDep = Annotated[InferenceRunner, Depends(get_runner)]

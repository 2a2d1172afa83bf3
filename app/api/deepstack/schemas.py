"""DeepStack's response bodies, field for field (its Go server's `response` package)."""

from __future__ import annotations

from pydantic import BaseModel, Field

_DURATION = "Seconds the request took on the server."


class DetectedFaceOut(BaseModel):
    confidence: float = Field(description="Detector confidence that this is a face (0-1).")
    x_min: int
    y_min: int
    x_max: int
    y_max: int


class DetectOut(BaseModel):
    success: bool = True
    predictions: list[DetectedFaceOut]
    duration: float = Field(description=_DURATION)


class RecognizedFaceOut(BaseModel):
    confidence: float = Field(
        description="facematch's calibrated score (docs/compat.md); 0 for `unknown`."
    )
    userid: str = Field(description="The identity's external_id, or `unknown`.")
    x_min: int
    y_min: int
    x_max: int
    y_max: int


class RecognizeOut(BaseModel):
    success: bool = True
    predictions: list[RecognizedFaceOut]
    duration: float = Field(description=_DURATION)


class MessageOut(BaseModel):
    success: bool = True
    message: str = Field(description="`face added`.")
    duration: float = Field(description=_DURATION)


class FaceListOut(BaseModel):
    success: bool = True
    faces: list[str] = Field(description="The userids of the face store.")
    duration: float = Field(description=_DURATION)


class DeleteOut(BaseModel):
    success: bool = True
    duration: float = Field(description=_DURATION)


class MatchOut(BaseModel):
    success: bool = True
    similarity: float = Field(description="facematch's calibrated score of the two faces (0-1).")
    duration: float = Field(description=_DURATION)

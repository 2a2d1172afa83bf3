"""DeepStack's response bodies, field for field (its Go server's `response` package)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.api.doors import example

_DURATION = "Seconds the request took on the server."
_BOX = {"x_min": 631, "y_min": 240, "x_max": 915, "y_max": 605}


class DeepStackDetectedFaceOut(BaseModel):
    confidence: float = Field(description="Detector confidence that this is a face (0-1).")
    x_min: int
    y_min: int
    x_max: int
    y_max: int


class DeepStackDetectOut(BaseModel):
    model_config = example(
        {"success": True, "predictions": [{"confidence": 0.9995, **_BOX}], "duration": 0.041}
    )

    success: bool = True
    predictions: list[DeepStackDetectedFaceOut]
    duration: float = Field(description=_DURATION)


class DeepStackRecognizedFaceOut(BaseModel):
    confidence: float = Field(
        description="facematch's calibrated score (docs/compat.md); 0 for `unknown`."
    )
    userid: str = Field(description="The identity's external_id, or `unknown`.")
    x_min: int
    y_min: int
    x_max: int
    y_max: int


class DeepStackRecognizeOut(BaseModel):
    model_config = example(
        {
            "success": True,
            "predictions": [{"confidence": 0.8123, "userid": "obama", **_BOX}],
            "duration": 0.052,
        }
    )

    success: bool = True
    predictions: list[DeepStackRecognizedFaceOut]
    duration: float = Field(description=_DURATION)


class DeepStackMessageOut(BaseModel):
    model_config = example({"success": True, "message": "face added", "duration": 0.087})

    success: bool = True
    message: str = Field(description="`face added`.")
    duration: float = Field(description=_DURATION)


class DeepStackFaceListOut(BaseModel):
    model_config = example({"success": True, "faces": ["obama", "biden"], "duration": 0.002})

    success: bool = True
    faces: list[str] = Field(description="The userids of the face store.")
    duration: float = Field(description=_DURATION)


class DeepStackDeleteOut(BaseModel):
    model_config = example({"success": True, "duration": 0.004})

    success: bool = True
    duration: float = Field(description=_DURATION)


class DeepStackMatchOut(BaseModel):
    model_config = example({"success": True, "similarity": 0.8532, "duration": 0.093})

    success: bool = True
    similarity: float = Field(description="facematch's calibrated score of the two faces (0-1).")
    duration: float = Field(description=_DURATION)

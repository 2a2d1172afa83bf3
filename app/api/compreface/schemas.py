"""CompreFace's request and response bodies, field for field (its REST API description).

Optional members (`landmarks`, `embedding`, `execution_time`, `plugins_versions`) appear only when
the request asks for them (`face_plugins`, `status`), as in CompreFace.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from app.api.doors import example

_BOX: dict[str, JsonValue] = {
    "probability": 0.9995,
    "x_max": 915,
    "y_max": 605,
    "x_min": 631,
    "y_min": 240,
}
_IMAGE_ID = "00000000-0000-0000-0000-00000000002a"
_SIMILARITY = "facematch's calibrated score (0-1, docs/compat.md)."


class CompreFaceBoxOut(BaseModel):
    probability: float = Field(description="Detector confidence that this is a face.")
    x_max: int
    y_max: int
    x_min: int
    y_min: int


class _CompreFacePlugins(BaseModel):
    landmarks: list[list[int]] | None = Field(
        None, description="`landmarks` plugin: eyes, nose tip, mouth corners (x, y)."
    )
    embedding: list[float] | None = Field(
        None, description="`calculator` plugin: the face's unit-length template."
    )
    execution_time: dict[str, float] | None = Field(None, description="`status=true`: ms.")


class CompreFaceSubjectSimilarityOut(BaseModel):
    subject: str
    similarity: float = Field(description=_SIMILARITY)


class CompreFaceRecognizedFaceOut(_CompreFacePlugins):
    box: CompreFaceBoxOut
    subjects: list[CompreFaceSubjectSimilarityOut] = Field(description="Most similar first.")


class CompreFaceRecognizeOut(BaseModel):
    model_config = example(
        {"result": [{"box": _BOX, "subjects": [{"subject": "obama", "similarity": 0.8123}]}]}
    )

    result: list[CompreFaceRecognizedFaceOut]
    plugins_versions: dict[str, str] | None = None


class CompreFaceVerifiedFaceOut(_CompreFacePlugins):
    box: CompreFaceBoxOut
    similarity: float = Field(description=_SIMILARITY)


class CompreFaceFaceVerifyOut(BaseModel):
    model_config = example({"result": [{"box": _BOX, "similarity": 0.8532}]})

    result: list[CompreFaceVerifiedFaceOut]
    plugins_versions: dict[str, str] | None = None


class CompreFaceDetectedFaceOut(_CompreFacePlugins):
    box: CompreFaceBoxOut


class CompreFaceDetectOut(BaseModel):
    model_config = example({"result": [{"box": _BOX}]})

    result: list[CompreFaceDetectedFaceOut]
    plugins_versions: dict[str, str] | None = None


class CompreFaceVerificationItemOut(BaseModel):
    source_image_face: CompreFaceDetectedFaceOut
    face_matches: list[CompreFaceVerifiedFaceOut]
    plugins_versions: dict[str, str] | None = None


class CompreFaceVerificationOut(BaseModel):
    model_config = example(
        {
            "result": [
                {
                    "source_image_face": {"box": _BOX},
                    "face_matches": [{"box": _BOX, "similarity": 0.8532}],
                }
            ]
        }
    )

    result: list[CompreFaceVerificationItemOut]


class CompreFaceFaceRefOut(BaseModel):
    model_config = example({"image_id": _IMAGE_ID, "subject": "obama"})

    image_id: str = Field(description="The face's id (facematch face id as a UUID).")
    subject: str


class CompreFaceFacesPageOut(BaseModel):
    model_config = example(
        {
            "faces": [{"image_id": _IMAGE_ID, "subject": "obama"}],
            "page_number": 0,
            "page_size": 20,
            "total_pages": 1,
            "total_elements": 1,
        }
    )

    faces: list[CompreFaceFaceRefOut]
    page_number: int
    page_size: int
    total_pages: int
    total_elements: int


class CompreFaceDeletedOut(BaseModel):
    model_config = example({"deleted": 2})

    deleted: int


class CompreFaceSubjectIn(BaseModel):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"subject": "obama"}]}
    )

    subject: str = Field(min_length=1, max_length=200)


class CompreFaceSubjectOut(BaseModel):
    model_config = example({"subject": "obama"})

    subject: str


class CompreFaceSubjectsOut(BaseModel):
    model_config = example({"subjects": ["obama", "biden"]})

    subjects: list[str]


class CompreFaceUpdatedOut(BaseModel):
    model_config = example({"updated": True})

    updated: bool

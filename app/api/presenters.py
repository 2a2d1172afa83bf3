"""Service results → response schemas."""

from __future__ import annotations

from app.api.schemas import (
    CalibrationOut,
    CalibrationPointOut,
    CandidateOut,
    CollectionOut,
    DetectedFaceOut,
    FaceBoxOut,
    FaceOut,
    IdentifiedFaceOut,
    IdentityOut,
    ModelOut,
    RejectionOut,
    VerifyOut,
)
from app.db.models import Face as FaceRow
from app.db.repositories import CollectionStats
from app.services.enrollment import Rejection
from app.services.faces import box_json, face_json
from app.services.identities import IdentityView
from app.services.matching import Candidate, IdentifiedFace, Verification
from app.services.models import ModelInfo
from app.vision.types import Face


def _far(value: float) -> float:
    # Three significant digits: the table it comes from is not more precise than that.
    return float(f"{value:.3g}")


def collection_out(stats: CollectionStats) -> CollectionOut:
    c = stats.collection
    return CollectionOut(
        id=c.id,
        name=c.name,
        model_id=c.model_id,
        created_at=c.created_at,
        face_count=stats.face_count,
        identity_count=stats.identity_count,
    )


def identity_out(view: IdentityView) -> IdentityOut:
    i = view.identity
    return IdentityOut(
        id=i.id,
        collection_id=i.collection_id,
        external_id=i.external_id,
        display_name=i.display_name,
        metadata=i.meta,
        created_at=i.created_at,
        face_count=view.face_count,
    )


def face_out(row: FaceRow) -> FaceOut:
    return FaceOut.model_validate(
        {
            "id": row.id,
            "identity_id": row.identity_id,
            "model_id": row.model_id,
            "box": row.box,
            "quality": row.quality,
            "content_sha256": row.content_sha256,
            "created_at": row.created_at,
        }
    )


def rejection_out(r: Rejection) -> RejectionOut:
    return RejectionOut(index=r.index, code=r.code, reason=r.reason, issues=r.issues)


def detected_out(face: Face) -> DetectedFaceOut:
    return DetectedFaceOut.model_validate(face_json(face))


def candidate_out(c: Candidate) -> CandidateOut:
    return CandidateOut(
        identity_id=c.identity_id,
        external_id=c.external_id,
        display_name=c.display_name,
        similarity=round(c.similarity, 5),
        estimated_far=_far(c.estimated_far),
        face_id=c.face_id,
    )


def identified_out(r: IdentifiedFace) -> IdentifiedFaceOut:
    return IdentifiedFaceOut.model_validate(
        {
            **face_json(r.face),
            "candidates": [candidate_out(c) for c in r.candidates],
            "match": candidate_out(r.match) if r.match else None,
        }
    )


def verification_out(v: Verification) -> VerifyOut:
    return VerifyOut.model_validate(
        {
            "similarity": round(v.similarity, 5),
            "match": v.match,
            "threshold": v.threshold,
            "estimated_far": _far(v.estimated_far),
            "face_a": FaceBoxOut.model_validate({"box": box_json(v.face_a)}),
            "face_b": FaceBoxOut.model_validate({"box": box_json(v.face_b)}) if v.face_b else None,
            "face_id": v.face_id,
        }
    )


def model_out(info: ModelInfo) -> ModelOut:
    return ModelOut(
        model_id=info.model_id,
        embedding_dim=info.embedding_dim,
        default_threshold=info.default_threshold,
        threshold=info.threshold,
        estimated_far=_far(info.estimated_far),
        calibration=CalibrationOut(
            impostor_pairs=info.impostor_pairs,
            far_floor=_far(info.far_floor),
            points=[
                CalibrationPointOut(similarity=p.similarity, far=_far(p.far))
                for p in info.calibration
            ],
        ),
    )

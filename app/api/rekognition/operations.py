"""Rekognition operations over facematch's services. Each is declared once in `OPERATIONS` with the
role it needs; `dispatch` enforces the role and the key's collection scope (a `CollectionId` is
resolved to a collection and checked with the same `Caller` rules as `/v1`) before the handler
runs, so no handler checks access itself.

Handlers translate only: request members in, service calls, Rekognition-shaped dicts out.
Similarities are `100 * foreign_score(cosine)` (app/services/scores.py, docs/compat.md): the
calibrated 0-1 score every foreign protocol shares, so Rekognition's default threshold of 80 lands
stricter than facematch's default operating point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from app.api.rekognition import wire
from app.api.rekognition.errors import RekognitionError
from app.db.models import Collection
from app.services import audit, matching
from app.services import collection_faces as faces_service
from app.services import collections as collection_service
from app.services.errors import Conflict, NotFound
from app.services.face_index import FaceIndex
from app.services.inference import InferenceRunner
from app.services.keys import Caller
from app.services.scores import foreign_score
from app.settings import Settings
from app.vision.pipeline import VisionPipeline
from app.vision.types import EmbeddedFace

# Rekognition's documented defaults.
DEFAULT_MATCH_THRESHOLD = 80.0  # FaceMatchThreshold, SimilarityThreshold, UserMatchThreshold
DEFAULT_ASSOCIATE_THRESHOLD = 75.0  # AssociateFaces' UserMatchThreshold
# Not documented by AWS; generous enough for any page of results a client shows.
DEFAULT_MAX_MATCHES = 100
# ARNs need an account; facematch has none, so every ARN names this placeholder account.
ACCOUNT = "000000000000"


@dataclass(frozen=True, slots=True)
class Ctx:
    caller: Caller
    session: Session
    settings: Settings
    index: FaceIndex
    runner: InferenceRunner
    pipeline_or_none: VisionPipeline | None
    region: str
    collection: Collection | None = None

    @property
    def pipeline(self) -> VisionPipeline:
        if self.pipeline_or_none is None:
            raise RekognitionError("InternalServerError", "the face models are not loaded")
        return self.pipeline_or_none

    @property
    def coll(self) -> Collection:
        assert self.collection is not None
        return self.collection

    def similarity(self, cosine: float) -> float:
        return 100.0 * foreign_score(cosine, pipeline=self.pipeline)


Handler = Callable[[Ctx, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Operation:
    role: str
    handler: Handler
    every_collection: bool = False  # refused to collection-scoped keys (CreateCollection)


# --- collections --------------------------------------------------------------------------------


def _arn(ctx: Ctx, name: str) -> str:
    return f"arn:aws:rekognition:{ctx.region}:{ACCOUNT}:collection/{name}"


def create_collection(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    name = p["CollectionId"]
    if len(name) > 200:
        raise RekognitionError(
            "InvalidParameterException", "facematch collection ids are at most 200 characters"
        )
    try:
        collection_service.create_collection(
            session=ctx.session, index=ctx.index, name=name, model_id=ctx.pipeline.model_id
        )
    except Conflict as exc:
        raise RekognitionError(
            "ResourceAlreadyExistsException", f"The collection id: {name} already exists"
        ) from exc
    return {
        "StatusCode": 200,
        "CollectionArn": _arn(ctx, name),
        "FaceModelVersion": ctx.pipeline.model_id,
    }


def describe_collection(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    stats = collection_service.get_collection(session=ctx.session, collection_id=ctx.coll.id)
    users = faces_service.user_counts(ctx.session, [ctx.coll.id]).get(ctx.coll.id, 0)
    return {
        "FaceCount": stats.face_count,
        "FaceModelVersion": ctx.coll.model_id,
        "CollectionARN": _arn(ctx, ctx.coll.name),
        "CreationTimestamp": ctx.coll.created_at,
        "UserCount": users,
    }


def _page_size(ctx: Ctx, requested: int | None, default: int) -> int:
    wanted = requested if requested else default
    return max(1, min(wanted, ctx.settings.page_size_max))


def list_collections(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    offset = wire.token_offset(p.get("NextToken"))
    limit = _page_size(ctx, p.get("MaxResults"), 1000)
    stats, total = collection_service.list_collections(
        session=ctx.session, limit=limit, offset=offset, only_id=ctx.caller.collection_id
    )
    return {
        "CollectionIds": [s.collection.name for s in stats],
        "FaceModelVersions": [s.collection.model_id for s in stats],
        "NextToken": wire.next_token(offset + len(stats), total),
    }


def delete_collection(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    collection_service.delete_collection(
        session=ctx.session, index=ctx.index, collection_id=ctx.coll.id
    )
    return {"StatusCode": 200}


# --- faces --------------------------------------------------------------------------------------


def _quality_gate(p: dict[str, Any], default: str) -> bool:
    # One gate (the enroll gate of /v1); LOW/MEDIUM/HIGH all apply it, NONE turns it off.
    return bool(p.get("QualityFilter", default) != "NONE")


def index_faces(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    photo = faces_service.index_photo(
        session=ctx.session,
        index=ctx.index,
        pipeline=ctx.pipeline,
        runner=ctx.runner,
        collection_id=ctx.coll.id,
        image=_image(p, "Image"),
        max_faces=p.get("MaxFaces"),
        quality_gate=_quality_gate(p, "AUTO"),
        min_face_size=ctx.settings.min_face_size,
        max_faces_per_image=ctx.settings.max_faces_per_image,
        external_image_id=p.get("ExternalImageId"),
    )
    return {
        "FaceRecords": [
            {
                "Face": wire.stored_face(record),
                "FaceDetail": wire.face_detail(face, photo.image_size),
            }
            for record, face in photo.indexed
        ],
        "FaceModelVersion": ctx.pipeline.model_id,
        "UnindexedFaces": [
            {
                "Reasons": wire.reasons(u.reasons),
                "FaceDetail": wire.face_detail(u.face, photo.image_size),
            }
            for u in photo.unindexed
        ],
    }


def _face_pks(ids: list[str]) -> dict[str, int | None]:
    return {text: wire.face_pk(text) for text in ids}


def list_faces(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    offset = wire.token_offset(p.get("NextToken"))
    limit = _page_size(ctx, p.get("MaxResults"), 1000)
    face_ids = None
    if "FaceIds" in p:
        face_ids = [pk for pk in _face_pks(p["FaceIds"]).values() if pk is not None]
    records, total = faces_service.list_faces(
        session=ctx.session,
        collection_id=ctx.coll.id,
        limit=limit,
        offset=offset,
        user_id=p.get("UserId"),
        face_ids=face_ids,
    )
    return {
        "Faces": [wire.stored_face(r) for r in records],
        "NextToken": wire.next_token(offset + len(records), total),
        "FaceModelVersion": ctx.coll.model_id,
    }


def _by_pk(ids: list[str]) -> tuple[dict[int, str], list[str]]:
    """FaceIds that may be ours ({face id: FaceId}) and those that cannot be."""
    ours: dict[int, str] = {}
    foreign: list[str] = []
    for text, pk in _face_pks(ids).items():
        if pk is None:
            foreign.append(text)
        else:
            ours[pk] = text
    return ours, foreign


_REASON = {
    "face_not_found": "FACE_NOT_FOUND",
    "associated_to_a_user": "ASSOCIATED_TO_AN_EXISTING_USER",
    "associated_to_a_different_user": "ASSOCIATED_TO_A_DIFFERENT_USER",
    "low_match_confidence": "LOW_MATCH_CONFIDENCE",
}


def _refusals(
    outcome: faces_service.Outcome, ours: dict[int, str], foreign: list[str]
) -> list[dict[str, Any]]:
    refused = [
        {
            "FaceId": ours[fid],
            "UserId": user,
            "Reasons": [_REASON[reason]],
            "Confidence": score,
        }
        for fid, reason, user, score in outcome.refused
    ]
    return refused + [{"FaceId": text, "Reasons": ["FACE_NOT_FOUND"]} for text in foreign]


def delete_faces(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    ours, foreign = _by_pk(p["FaceIds"])
    outcome = faces_service.delete_faces(
        session=ctx.session, index=ctx.index, collection_id=ctx.coll.id, face_ids=list(ours)
    )
    refused = _refusals(outcome, ours, foreign)
    for item in refused:
        item.pop("Confidence", None)
    return {
        "DeletedFaces": [ours[fid] for fid in outcome.done],
        "UnsuccessfulFaceDeletions": refused,
    }


def _matches(
    ctx: Ctx, found: list[tuple[faces_service.FaceRecord, float]], threshold: float
) -> list[dict[str, Any]]:
    scored = [(record, ctx.similarity(cosine)) for record, cosine in found]
    return [
        {"Similarity": similarity, "Face": wire.stored_face(record)}
        for record, similarity in scored
        if similarity >= threshold
    ]


def search_faces(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    pk = wire.face_pk(p["FaceId"])
    if pk is None:
        raise NotFound(f"face {p['FaceId']} not found")
    query = faces_service.face_template(session=ctx.session, collection_id=ctx.coll.id, face_id=pk)
    found = faces_service.search_faces(
        session=ctx.session,
        index=ctx.index,
        collection_id=ctx.coll.id,
        query=query,
        k=p.get("MaxFaces", DEFAULT_MAX_MATCHES),
        exclude_face_id=pk,
    )
    matches = _matches(ctx, found, p.get("FaceMatchThreshold", DEFAULT_MATCH_THRESHOLD))
    _audit_search(ctx, audit.IDENTIFY, faces=1, matched=len(matches))
    return {
        "SearchedFaceId": p["FaceId"],
        "FaceMatches": matches,
        "FaceModelVersion": ctx.coll.model_id,
    }


def _audit_search(ctx: Ctx, action: audit.Action, **counts: int) -> None:
    matching.audit_search(
        ctx.session,
        action,
        collection_id=ctx.collection.id if ctx.collection else None,
        details={"protocol": "rekognition", **counts},
    )


def _photo(ctx: Ctx, p: dict[str, Any], member: str) -> tuple[tuple[int, int], list[EmbeddedFace]]:
    return matching.photo_faces(
        pipeline=ctx.pipeline,
        runner=ctx.runner,
        image=_image(p, member),
        min_face_size=ctx.settings.min_face_size,
        max_faces=ctx.settings.max_faces_per_image,
    )


def _searchable(ctx: Ctx, p: dict[str, Any], faces: list[EmbeddedFace]) -> EmbeddedFace:
    """The largest face, which search operations use; Rekognition's errors when there is none."""
    if not faces:
        raise RekognitionError(
            "InvalidParameterException", "There are no faces in the image. Should be at least 1."
        )
    if _quality_gate(p, "NONE") and ctx.pipeline.quality_issues(faces[0]):
        raise RekognitionError(
            "InvalidParameterException", "The largest face in the image did not pass the filter."
        )
    return faces[0]


def _query_photo(
    ctx: Ctx, p: dict[str, Any]
) -> tuple[tuple[int, int], list[EmbeddedFace], np.ndarray]:
    """For the ...ByImage searches: the photo's size, its faces and the largest one's template."""
    collection_service.require_compatible_model(ctx.coll, ctx.pipeline.model_id)
    size, faces = _photo(ctx, p, "Image")
    return size, faces, _searchable(ctx, p, faces).template


def search_faces_by_image(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    size, faces, template = _query_photo(ctx, p)
    face = faces[0]
    found = faces_service.search_faces(
        session=ctx.session,
        index=ctx.index,
        collection_id=ctx.coll.id,
        query=template,
        k=p.get("MaxFaces", DEFAULT_MAX_MATCHES),
    )
    matches = _matches(ctx, found, p.get("FaceMatchThreshold", DEFAULT_MATCH_THRESHOLD))
    _audit_search(ctx, audit.IDENTIFY, faces=1, matched=len(matches))
    return {
        "SearchedFaceBoundingBox": wire.bounding_box(face, size),
        "SearchedFaceConfidence": face.score * 100,
        "FaceMatches": matches,
        "FaceModelVersion": ctx.coll.model_id,
    }


def compare_faces(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    source_size, source_faces = _photo(ctx, p, "SourceImage")
    source = _searchable(ctx, p, source_faces)
    target_size, targets = _photo(ctx, p, "TargetImage")
    if _quality_gate(p, "NONE"):
        # Filtered faces are not compared (and not reported), as on Rekognition.
        targets = [t for t in targets if not ctx.pipeline.quality_issues(t)]
    threshold = p.get("SimilarityThreshold", DEFAULT_MATCH_THRESHOLD)
    scored = sorted(
        ((t, ctx.similarity(float(np.dot(source.template, t.template)))) for t in targets),
        key=lambda item: -item[1],
    )
    matched = [
        {"Similarity": s, "Face": wire.compared_face(t, target_size)}
        for t, s in scored
        if s >= threshold
    ]
    _audit_search(ctx, audit.VERIFY, faces=len(targets), matched=len(matched))
    return {
        "SourceImageFace": {
            "BoundingBox": wire.bounding_box(source, source_size),
            "Confidence": source.score * 100,
        },
        "FaceMatches": matched,
        "UnmatchedFaces": [wire.compared_face(t, target_size) for t, s in scored if s < threshold],
    }


def detect_faces(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    size, faces = matching.photo_detections(
        pipeline=ctx.pipeline,
        runner=ctx.runner,
        image=_image(p, "Image"),
        min_face_size=ctx.settings.min_face_size,
        max_faces=ctx.settings.max_faces_per_image,
    )
    return {"FaceDetails": [wire.face_detail(face, size) for face in faces]}


# --- users --------------------------------------------------------------------------------------


def create_user(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    try:
        faces_service.create_user(
            session=ctx.session, collection_id=ctx.coll.id, user_id=p["UserId"]
        )
    except Conflict as exc:
        raise RekognitionError(
            "ConflictException", f"A user with the id {p['UserId']} already exists"
        ) from exc
    return {}


def delete_user(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    faces_service.delete_user(session=ctx.session, collection_id=ctx.coll.id, user_id=p["UserId"])
    return {}


def list_users(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    offset = wire.token_offset(p.get("NextToken"))
    limit = _page_size(ctx, p.get("MaxResults"), 500)
    users, total = faces_service.list_users(
        session=ctx.session, collection_id=ctx.coll.id, limit=limit, offset=offset
    )
    return {
        "Users": [{"UserId": u.external_id, "UserStatus": "ACTIVE"} for u in users],
        "NextToken": wire.next_token(offset + len(users), total),
    }


def associate_faces(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    ours, foreign = _by_pk(p["FaceIds"])
    outcome = faces_service.associate_faces(
        session=ctx.session,
        collection_id=ctx.coll.id,
        user_id=p["UserId"],
        face_ids=list(ours),
        min_score=p.get("UserMatchThreshold", DEFAULT_ASSOCIATE_THRESHOLD),
        score=ctx.similarity,
    )
    return {
        "AssociatedFaces": [{"FaceId": ours[fid]} for fid in outcome.done],
        "UnsuccessfulFaceAssociations": _refusals(outcome, ours, foreign),
        "UserStatus": "ACTIVE",
    }


def disassociate_faces(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    ours, foreign = _by_pk(p["FaceIds"])
    outcome = faces_service.disassociate_faces(
        session=ctx.session, collection_id=ctx.coll.id, user_id=p["UserId"], face_ids=list(ours)
    )
    refused = _refusals(outcome, ours, foreign)
    for item in refused:
        item.pop("Confidence", None)
    return {
        "DisassociatedFaces": [{"FaceId": ours[fid]} for fid in outcome.done],
        "UnsuccessfulFaceDisassociations": refused,
        "UserStatus": "ACTIVE",
    }


def _user_matches(ctx: Ctx, found: list[tuple[str, float]], p: dict[str, Any]) -> list[Any]:
    threshold = p.get("UserMatchThreshold", DEFAULT_MATCH_THRESHOLD)
    scored = [(user, ctx.similarity(cosine)) for user, cosine in found]
    return [
        {"Similarity": s, "User": {"UserId": user, "UserStatus": "ACTIVE"}}
        for user, s in scored
        if s >= threshold
    ]


def search_users(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    if ("UserId" in p) == ("FaceId" in p):
        raise RekognitionError("InvalidParameterException", "Specify exactly one of UserId, FaceId")
    k = p.get("MaxUsers", DEFAULT_MAX_MATCHES)
    result: dict[str, Any] = {"FaceModelVersion": ctx.coll.model_id}
    if "UserId" in p:
        user = faces_service.require_user(
            session=ctx.session, collection_id=ctx.coll.id, user_id=p["UserId"]
        )
        queries = faces_service.user_templates(
            session=ctx.session, collection_id=ctx.coll.id, user_id=p["UserId"]
        )
        found = faces_service.search_users(
            session=ctx.session,
            index=ctx.index,
            collection_id=ctx.coll.id,
            queries=queries,
            k=k,
            exclude_identity_id=user.id,
        )
        result["SearchedUser"] = {"UserId": p["UserId"]}
    else:
        pk = wire.face_pk(p["FaceId"])
        if pk is None:
            raise NotFound(f"face {p['FaceId']} not found")
        query = faces_service.face_template(
            session=ctx.session, collection_id=ctx.coll.id, face_id=pk
        )
        found = faces_service.search_users(
            session=ctx.session,
            index=ctx.index,
            collection_id=ctx.coll.id,
            queries=query.reshape(1, -1),
            k=k,
            exclude_face_id=pk,
        )
        result["SearchedFace"] = {"FaceId": p["FaceId"]}
    result["UserMatches"] = _user_matches(ctx, found, p)
    _audit_search(ctx, audit.IDENTIFY, faces=1, matched=len(result["UserMatches"]))
    return result


def search_users_by_image(ctx: Ctx, p: dict[str, Any]) -> dict[str, Any]:
    size, faces, template = _query_photo(ctx, p)
    found = faces_service.search_users(
        session=ctx.session,
        index=ctx.index,
        collection_id=ctx.coll.id,
        queries=template.reshape(1, -1),
        k=p.get("MaxUsers", DEFAULT_MAX_MATCHES),
    )
    matches = _user_matches(ctx, found, p)
    _audit_search(ctx, audit.IDENTIFY, faces=1, matched=len(matches))
    return {
        "UserMatches": matches,
        "FaceModelVersion": ctx.coll.model_id,
        "SearchedFace": {"FaceDetail": wire.face_detail(faces[0], size)},
        "UnsearchedFaces": [
            {"FaceDetails": wire.face_detail(other, size), "Reasons": ["FACE_NOT_LARGEST"]}
            for other in faces[1:]
        ],
    }


# --- images -------------------------------------------------------------------------------------


def _image(p: dict[str, Any], member: str) -> bytes:
    image = p[member]
    if "S3Object" in image:
        raise RekognitionError(
            "InvalidS3ObjectException",
            "facematch does not fetch images from S3; send the image as Bytes",
        )
    data = image.get("Bytes")
    if not data:
        raise RekognitionError("InvalidParameterException", f"{member} needs Bytes")
    result: bytes = data
    return result


OPERATIONS: dict[str, Operation] = {
    "CreateCollection": Operation("admin", create_collection, every_collection=True),
    "DescribeCollection": Operation("identify", describe_collection),
    "ListCollections": Operation("identify", list_collections),
    "DeleteCollection": Operation("admin", delete_collection),
    "IndexFaces": Operation("enroll", index_faces),
    "ListFaces": Operation("identify", list_faces),
    "DeleteFaces": Operation("enroll", delete_faces),
    "SearchFaces": Operation("identify", search_faces),
    "SearchFacesByImage": Operation("identify", search_faces_by_image),
    "CompareFaces": Operation("identify", compare_faces),
    "DetectFaces": Operation("identify", detect_faces),
    "CreateUser": Operation("enroll", create_user),
    "DeleteUser": Operation("enroll", delete_user),
    "ListUsers": Operation("identify", list_users),
    "AssociateFaces": Operation("enroll", associate_faces),
    "DisassociateFaces": Operation("enroll", disassociate_faces),
    "SearchUsers": Operation("identify", search_users),
    "SearchUsersByImage": Operation("identify", search_users_by_image),
}


def dispatch(ctx: Ctx, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Access first (tenancy, then role, as `/v1` does), then the handler."""
    operation = OPERATIONS[name]
    if "CollectionId" in params and name != "CreateCollection":
        try:
            collection = collection_service.require_collection_named(
                session=ctx.session, name=params["CollectionId"]
            )
            # Another tenant's collection is reported exactly like a missing one.
            ctx.caller.require_collection(collection.id)
        except NotFound as exc:
            raise RekognitionError(
                "ResourceNotFoundException",
                f"The collection id: {params['CollectionId']} does not exist",
            ) from exc
        ctx = replace(ctx, collection=collection)
    ctx.caller.require_role(operation.role)
    if operation.every_collection and ctx.caller.collection_id is not None:
        raise RekognitionError(
            "AccessDeniedException", "a collection-scoped key cannot create collections"
        )
    return operation.handler(ctx, params)

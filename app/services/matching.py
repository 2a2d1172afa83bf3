"""Detect, verify (1:1) and identify (1:N). Similarity is the cosine of unit templates."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.engine import release_connection
from app.services import audit
from app.services.collections import require_collection, require_compatible_model
from app.services.errors import FaceRejected, NotFound
from app.services.face_index import FaceIndex
from app.services.identities import require_identity
from app.services.inference import InferenceRunner
from app.stage_timing import stage_timer
from app.vision.pipeline import VisionPipeline
from app.vision.types import EmbeddedFace, Face

# Identify fetches this many faces per wanted identity, so identities with many enrolled faces do
# not crowd the others out of the short list before faces are grouped into identities.
_FACES_PER_IDENTITY = 8


@dataclass(frozen=True, slots=True)
class Candidate:
    identity_id: uuid.UUID
    external_id: str | None
    display_name: str | None
    similarity: float
    face_id: int
    estimated_far: float


@dataclass(frozen=True, slots=True)
class IdentifiedFace:
    face: EmbeddedFace
    candidates: list[Candidate]
    match: Candidate | None


@dataclass(frozen=True, slots=True)
class Verification:
    similarity: float
    match: bool
    threshold: float
    estimated_far: float
    face_a: EmbeddedFace
    face_b: EmbeddedFace | None  # None when verifying against an enrolled identity
    face_id: int | None = None  # the enrolled face that matched best


def resolve_threshold(
    *, requested: float | None, configured: float | None, pipeline: VisionPipeline
) -> float:
    """Request option, else the service setting, else the model's calibrated default."""
    if requested is not None:
        return requested
    if configured is not None:
        return configured
    return float(pipeline.default_threshold)


def detect_faces(
    *,
    pipeline: VisionPipeline,
    runner: InferenceRunner,
    image: bytes,
    min_face_size: int,
    max_faces: int,
) -> list[Face]:
    return runner.run(pipeline.detect, image, min_face_size=min_face_size, max_faces=max_faces)


def _largest_face(
    pipeline: VisionPipeline,
    runner: InferenceRunner,
    image: bytes,
    *,
    min_face_size: int,
    field: str,
) -> EmbeddedFace:
    faces = runner.run(pipeline.analyze, image, min_face_size=min_face_size, largest_only=True)
    if not faces:
        raise FaceRejected(f"no face was found in {field}", code="no_face", field=field)
    return faces[0]


def verify_pair(
    *,
    pipeline: VisionPipeline,
    runner: InferenceRunner,
    image_a: bytes,
    image_b: bytes,
    threshold: float,
    min_face_size: int,
) -> Verification:
    """Largest face of each photo; both photos are analysed concurrently."""
    results = runner.run_many(
        [
            lambda: pipeline.analyze(image_a, min_face_size=min_face_size, largest_only=True),
            lambda: pipeline.analyze(image_b, min_face_size=min_face_size, largest_only=True),
        ]
    )
    for field, faces in zip(("image_a", "image_b"), results, strict=True):
        if not faces:
            raise FaceRejected(f"no face was found in {field}", code="no_face", field=field)
    face_a, face_b = results[0][0], results[1][0]
    similarity = float(np.dot(face_a.template, face_b.template))
    return Verification(
        similarity=similarity,
        match=similarity >= threshold,
        threshold=threshold,
        estimated_far=pipeline.estimate_far(similarity),
        face_a=face_a,
        face_b=face_b,
    )


def verify_identity(
    *,
    session: Session,
    pipeline: VisionPipeline,
    runner: InferenceRunner,
    collection_id: uuid.UUID,
    identity_id: uuid.UUID,
    image: bytes,
    threshold: float,
    min_face_size: int,
) -> Verification:
    """Largest face of the photo against the identity's best-matching enrolled face."""
    _check_model(session, collection_id, pipeline)
    require_identity(session=session, collection_id=collection_id, identity_id=identity_id)
    templates = repo.identity_templates(session, identity_id=identity_id)
    if not templates:
        raise FaceRejected("the identity has no enrolled faces", code="no_enrolled_faces")
    release_connection(session)
    face = _largest_face(pipeline, runner, image, min_face_size=min_face_size, field="image")
    ids = [fid for fid, _ in templates]
    sims = np.vstack([t for _, t in templates]) @ face.template
    best = int(np.argmax(sims))
    similarity = float(sims[best])
    audit_search(
        session,
        audit.VERIFY,
        collection_id=collection_id,
        target_id=identity_id,
        details={"match": bool(similarity >= threshold)},
    )
    return Verification(
        similarity=similarity,
        match=similarity >= threshold,
        threshold=threshold,
        estimated_far=pipeline.estimate_far(similarity),
        face_a=face,
        face_b=None,
        face_id=ids[best],
    )


@dataclass(frozen=True, slots=True)
class FaceComparison:
    face: EmbeddedFace
    similarity: float


def _compare(faces: list[EmbeddedFace], reference: np.ndarray) -> list[FaceComparison]:
    return [FaceComparison(f, float(np.dot(f.template, reference))) for f in faces]


def compare_to_face(
    *,
    session: Session,
    pipeline: VisionPipeline,
    runner: InferenceRunner,
    collection_id: uuid.UUID,
    face_id: int,
    image: bytes,
    min_face_size: int,
    max_faces: int,
) -> list[FaceComparison]:
    """Every face of the photo (largest first) against one enrolled face."""
    _check_model(session, collection_id, pipeline)
    stored = repo.collection_face(session, collection_id=collection_id, face_id=face_id)
    if stored is None:
        raise NotFound(f"face {face_id} not found")
    reference = repo.face_template(session, stored)
    identity_id = stored.identity_id
    release_connection(session)
    faces = runner.run(pipeline.analyze, image, min_face_size=min_face_size, max_faces=max_faces)
    if not faces:
        raise FaceRejected("no face was found in image", code="no_face", field="image")
    audit_search(
        session,
        audit.VERIFY,
        collection_id=collection_id,
        target_id=identity_id,
        details={"face_id": face_id, "faces": len(faces)},
    )
    return _compare(faces, reference)


def compare_photos(
    *,
    pipeline: VisionPipeline,
    runner: InferenceRunner,
    source: bytes,
    target: bytes,
    min_face_size: int,
    max_faces: int,
) -> tuple[EmbeddedFace, list[FaceComparison]]:
    """The largest face of `source` against every face of `target` (largest first); both photos
    are analysed concurrently."""
    source_faces, target_faces = runner.run_many(
        [
            lambda: pipeline.analyze(source, min_face_size=min_face_size, largest_only=True),
            lambda: pipeline.analyze(target, min_face_size=min_face_size, max_faces=max_faces),
        ]
    )
    for field, faces in (("source_image", source_faces), ("target_image", target_faces)):
        if not faces:
            raise FaceRejected(f"no face was found in {field}", code="no_face", field=field)
    reference = source_faces[0].template
    return source_faces[0], _compare(target_faces, reference)


def _check_model(session: Session, collection_id: uuid.UUID, pipeline: VisionPipeline) -> None:
    collection = require_collection(session=session, collection_id=collection_id)
    require_compatible_model(collection, pipeline.model_id)


def identify(
    *,
    session: Session,
    index: FaceIndex,
    pipeline: VisionPipeline,
    runner: InferenceRunner,
    collection_id: uuid.UUID,
    image: bytes,
    top_k: int,
    largest_only: bool,
    threshold: float,
    min_face_size: int,
    max_faces: int,
) -> list[IdentifiedFace]:
    """Every face in the photo (or the largest) → the best `top_k` identities, best first."""
    _check_model(session, collection_id, pipeline)
    release_connection(session)
    faces = runner.run(
        pipeline.analyze,
        image,
        min_face_size=min_face_size,
        max_faces=max_faces,
        largest_only=largest_only,
    )
    results = _search(session, index, pipeline, collection_id, faces, top_k, threshold)
    audit_search(
        session,
        audit.IDENTIFY,
        collection_id=collection_id,
        details={
            "faces": len(results),
            "matched_identity_ids": [str(r.match.identity_id) for r in results if r.match],
        },
    )
    return results


def photo_faces(
    *,
    pipeline: VisionPipeline,
    runner: InferenceRunner,
    image: bytes,
    min_face_size: int,
    max_faces: int,
) -> tuple[tuple[int, int], list[EmbeddedFace]]:
    """The photo's (width, height) and its faces with templates, largest first, for protocols
    that report positions as ratios of the image size."""
    size = runner.run(pipeline.image_size, image)
    return size, runner.run(
        pipeline.analyze, image, min_face_size=min_face_size, max_faces=max_faces
    )


def photo_detections(
    *,
    pipeline: VisionPipeline,
    runner: InferenceRunner,
    image: bytes,
    min_face_size: int,
    max_faces: int,
) -> tuple[tuple[int, int], list[Face]]:
    """`photo_faces` without templates (detection only)."""
    size = runner.run(pipeline.image_size, image)
    faces = detect_faces(
        pipeline=pipeline,
        runner=runner,
        image=image,
        min_face_size=min_face_size,
        max_faces=max_faces,
    )
    return size, faces


@dataclass(frozen=True, slots=True)
class Neighbour:
    """An enrolled face near a query, with its owner as SQL has it now."""

    owner: repo.FaceOwner
    similarity: float


def nearest_faces(
    *,
    session: Session,
    index: FaceIndex,
    collection_id: uuid.UUID,
    queries: np.ndarray,
    k: int,
) -> list[list[Neighbour]]:
    """For each query template (a row of `queries`), the `k` most similar enrolled faces of the
    collection, best first. Face-level: the primitive identify groups into identities, and what
    face-centred protocols (Rekognition's SearchFaces) report as is."""
    if len(queries) == 0:
        return []
    # Catch up after inference, so writes acknowledged during it are seen too.
    index.catch_up(session)
    with stage_timer("search"):
        # Padded with id -1 where the collection holds fewer than k faces.
        sims, ids = index.search(
            session, str(collection_id), np.asarray(queries, dtype=np.float32), k
        )
    # The index may briefly hold a face SQL no longer has (deleted after our catch-up): trusting
    # SQL for the owner drops it.
    owners = repo.face_owners(session, {int(i) for i in ids.ravel() if i >= 0})
    release_connection(session)
    return [
        [
            Neighbour(owners[fid], float(sim))
            for sim, fid in zip(row_sims.tolist(), row_ids.tolist(), strict=True)
            if fid >= 0 and fid in owners
        ]
        for row_sims, row_ids in zip(sims, ids, strict=True)
    ]


def _search(
    session: Session,
    index: FaceIndex,
    pipeline: VisionPipeline,
    collection_id: uuid.UUID,
    faces: list[EmbeddedFace],
    top_k: int,
    threshold: float,
) -> list[IdentifiedFace]:
    if not faces:
        return []
    queries = np.vstack([f.template for f in faces]).astype(np.float32)
    neighbours = nearest_faces(
        session=session,
        index=index,
        collection_id=collection_id,
        queries=queries,
        k=top_k * _FACES_PER_IDENTITY,
    )
    results = []
    for face, near in zip(faces, neighbours, strict=True):
        best: dict[uuid.UUID, Candidate] = {}
        for n in near:
            if n.owner.identity_id in best:
                continue  # results are sorted: the first face seen is the identity's best
            best[n.owner.identity_id] = Candidate(
                identity_id=n.owner.identity_id,
                external_id=n.owner.external_id,
                display_name=n.owner.display_name,
                similarity=n.similarity,
                face_id=n.owner.face_id,
                estimated_far=pipeline.estimate_far(n.similarity),
            )
        candidates = sorted(best.values(), key=lambda c: -c.similarity)[:top_k]
        match = candidates[0] if candidates and candidates[0].similarity >= threshold else None
        results.append(IdentifiedFace(face, candidates, match))
    return results


def audit_search(
    session: Session,
    action: audit.Action,
    *,
    collection_id: uuid.UUID | None = None,
    target_id: uuid.UUID | None = None,
    details: dict[str, object] | None = None,
) -> None:
    """Searches are audited too (who looked for whom); ids and counts only, never scores."""
    audit.record(
        session,
        actor=session.info.get(audit.ACTOR_KEY),
        action=action,
        collection_id=collection_id,
        target_type="identity" if target_id else None,
        target_id=target_id,
        details=details,
    )
    session.commit()

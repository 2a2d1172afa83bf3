"""Photo bytes → faces (box, landmarks, quality, template): the one API the services use."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from app.settings import Int8Models
from app.stage_timing import stage_timer
from app.vision import deadline
from app.vision.align import align_face, load_template
from app.vision.batcher import EmbedBatcher
from app.vision.calibration import (
    FarCalibration,
    ForeignScale,
    calibration_file_for,
    template_mode,
)
from app.vision.decode import DecodedImage, decode_image, oriented_size
from app.vision.detector import (
    LEAN,
    Detections,
    MtcnnDetector,
    downscale_for_detection,
    rescale,
)
from app.vision.embedder import Embedder
from app.vision.landmarks import (
    ShapePredictor,
    box_seed_rects,
    dlib_chip_template,
    intensity,
    seed_rects,
)
from app.vision.onnx import model_spec, uses_int8
from app.vision.quality import QualityThresholds, measure_quality
from app.vision.quality import quality_issues as judge_quality
from app.vision.types import Box, EmbeddedFace, Face

log = logging.getLogger(__name__)


class VisionPipeline:
    """Loaded once per process; every method is synchronous and safe to call from many threads."""

    model_id: str
    embedding_dim: int
    default_threshold: float

    def __init__(
        self,
        *,
        detector: MtcnnDetector,
        embedder: Embedder,
        template: np.ndarray,
        calibration: FarCalibration,
        model_id: str,
        detect_max_side: int,
        max_image_pixels: int,
        quality_limits: QualityThresholds | None = None,
        embed_batch_window_ms: float = 0.0,
        shape_predictor: ShapePredictor | None = None,
        fused_chips: bool = False,
    ) -> None:
        self.detector = detector
        self.shape_predictor = shape_predictor
        # Fused templates (the default, see `chip_views`) need the predictor for their second chip.
        self.fused_chips = fused_chips and shape_predictor is not None
        # The single-chip opt-in (`dlib_landmarks`): chips cut as dlib's get_face_chip cuts them,
        # from the predictor seeded by MTCNN's eyes; otherwise MTCNN's points go onto the fitted
        # template.
        self._dlib_single = shape_predictor is not None and not self.fused_chips
        self._chip_template = dlib_chip_template() if self._dlib_single else template
        self.embedder = embedder
        # Off (0) embeds in the request's own thread; on, faces of concurrent requests share runs.
        self._batcher = (
            EmbedBatcher(embedder.embed, window_s=embed_batch_window_ms / 1000)
            if embed_batch_window_ms > 0
            else None
        )
        self.template = template
        self.calibration = calibration
        self.foreign_scale = ForeignScale(calibration)
        self.model_id = model_id
        self.embedding_dim = embedder.dim
        self.default_threshold = calibration.default_threshold
        self.detect_max_side = detect_max_side
        self.max_image_pixels = max_image_pixels
        self.quality_limits = quality_limits or QualityThresholds()

    @classmethod
    def load(
        cls,
        model_dir: Path,
        *,
        threads: int = 2,
        flip_tta: bool = False,
        detect_max_side: int = 1024,
        max_image_pixels: int = 40_000_000,
        calibration_file: Path | None = None,
        embed_batch_window_ms: float = 0.0,
        int8_models: Int8Models = "none",
        lean_detector: bool = False,
        dlib_landmarks: bool = False,
        fused_chips: bool = True,
    ) -> VisionPipeline:
        """`fused_chips` (the default, `chip_views`) implies flip TTA; `dlib_landmarks` (the
        single dlib-style chip, opt-in for measurement) turns it off."""
        model_dir = Path(model_dir)
        manifest: dict[str, Any] = json.loads((model_dir / "manifest.json").read_text())
        int8_embedder = uses_int8(int8_models, "embedder")
        spec = model_spec(manifest, "embedder", int8=int8_embedder)
        model_id = str(spec["model_id"])
        fused_chips = fused_chips and not dlib_landmarks and "landmarks" in manifest
        if fused_chips:
            flip_tta = True
        calibration = FarCalibration.load(
            calibration_file or calibration_file_for(int8_embedder=int8_embedder),
            mode=template_mode(fused_chips=fused_chips, flip_tta=flip_tta),
        )
        if calibration.model_id != model_id:
            # A re-export of the same weights keeps accuracy, but the FAR table was measured on
            # another file; say so loudly rather than refuse to start.
            log.warning(
                "FAR calibration was measured with %s but the model is %s; estimates may drift",
                calibration.model_id,
                model_id,
            )
        return cls(
            detector=MtcnnDetector.load(
                model_dir,
                manifest,
                threads=threads,
                int8=uses_int8(int8_models, "detector"),
                config=LEAN if lean_detector else None,
            ),
            embedder=Embedder(model_dir, spec, threads=threads, flip_tta=flip_tta),
            template=load_template(manifest),
            calibration=calibration,
            model_id=model_id,
            detect_max_side=detect_max_side,
            max_image_pixels=max_image_pixels,
            embed_batch_window_ms=embed_batch_window_ms,
            shape_predictor=(
                ShapePredictor.load(model_dir / manifest["landmarks"]["file"])
                if (dlib_landmarks or fused_chips) and "landmarks" in manifest
                else None
            ),
            fused_chips=fused_chips,
        )

    def close(self) -> None:
        """Stop the embedding batcher's thread (if any); later calls embed unbatched."""
        if self._batcher is not None:
            self._batcher.close()

    # --- public API ---------------------------------------------------------------------------

    def detect(self, data: bytes, *, min_face_size: int = 40, max_faces: int = 32) -> list[Face]:
        """Faces, largest first, without templates; big JPEGs are decoded at reduced size."""
        with stage_timer("decode"):
            decoded = decode_image(
                data, max_pixels=self.max_image_pixels, reduce_to_max_side=self.detect_max_side
            )
        faces, _ = self._find(
            decoded, min_face_size=min_face_size, max_faces=max_faces, embed=False
        )
        return faces

    def analyze(
        self,
        data: bytes,
        *,
        min_face_size: int = 40,
        max_faces: int = 32,
        largest_only: bool = False,
    ) -> list[EmbeddedFace]:
        """Faces, largest first, each with its template; all faces are embedded in one batch."""
        with stage_timer("decode"):
            decoded = decode_image(data, max_pixels=self.max_image_pixels)
        faces, chips = self._find(
            decoded, min_face_size=min_face_size, max_faces=1 if largest_only else max_faces
        )
        return self._embed(faces, chips)

    def image_size(self, data: bytes) -> tuple[int, int]:
        """(width, height) of the photo as the face boxes see it (EXIF orientation applied)."""
        return oriented_size(data, max_pixels=self.max_image_pixels)

    def quality_issues(self, face: Face) -> list[tuple[str, str]]:
        return judge_quality(face, self.quality_limits)

    def estimate_far(self, similarity: float) -> float:
        return self.calibration.estimate_far(similarity)

    # --- internals ----------------------------------------------------------------------------

    def _embed(self, faces: list[Face], chips: list[np.ndarray]) -> list[EmbeddedFace]:
        """The same faces with templates, all chips in one onnxruntime batch.

        With the batcher on, the `embed` stage includes the wait for the shared run: it is what
        the request spent on embedding.
        """
        if not faces:
            return []
        deadline.check()
        with stage_timer("embed"):
            batch = np.stack(chips)
            templates = (
                self._batcher.embed(batch)
                if self._batcher is not None
                else self.embedder.embed(batch)
            )
        return [
            EmbeddedFace(
                box=f.box, score=f.score, landmarks=f.landmarks, quality=f.quality, template=t
            )
            for f, t in zip(faces, templates, strict=True)
        ]

    def detect_pixels(self, rgb: np.ndarray, *, min_face_size: int = 40) -> Detections:
        """Raw detections in `rgb`'s coordinates, found on a copy of at most detect_max_side."""
        small, factor = downscale_for_detection(rgb, self.detect_max_side)
        # The face size is asked for in the caller's pixels; on the shrunken copy faces are smaller.
        min_size = max(12, round(min_face_size / factor))
        return rescale(self.detector.detect(small, min_face_size=min_size), factor)

    def chip_points(self, rgb: np.ndarray, mtcnn_points: np.ndarray) -> np.ndarray:
        """(n, 5, 2) points to cut each face's single chip from: dlib's 5 points predicted from a
        box seeded by MTCNN's eyes with `dlib_landmarks`, otherwise MTCNN's own."""
        points = np.asarray(mtcnn_points, dtype=np.float64).reshape(-1, 5, 2)
        if not self._dlib_single or len(points) == 0:
            return points
        assert self.shape_predictor is not None
        return self._predict_points(rgb, seed_rects(points, self.shape_predictor.initial), points)

    def dlib_points(
        self, rgb: np.ndarray, mtcnn_boxes: np.ndarray, fallback: np.ndarray
    ) -> np.ndarray:
        """(n, 5, 2) dlib's 5 points, predicted from MTCNN's boxes mapped onto the box shape of
        dlib's HOG detector (`box_seed_rects`); `fallback` (n, 5, 2) where a box is degenerate."""
        if self.shape_predictor is None:
            raise RuntimeError("dlib points need the shape predictor (models/manifest.json)")
        return self._predict_points(rgb, box_seed_rects(mtcnn_boxes), fallback)

    def _predict_points(
        self, rgb: np.ndarray, rects: np.ndarray, fallback: np.ndarray
    ) -> np.ndarray:
        assert self.shape_predictor is not None
        fallback = np.asarray(fallback, dtype=np.float64).reshape(-1, 5, 2)
        h, w = rgb.shape[:2]
        out = fallback.copy()
        for k, rect in enumerate(rects):
            # Only the face's surroundings are converted to intensity: the predictor's sample
            # points stay within the box for any plausible shape, half a box more is ample.
            margin = 0.5 * (rect[2] - rect[0])
            x0, y0 = (max(0, int(np.floor(v - margin))) for v in rect[:2])
            x1, y1 = (
                min(w, int(np.ceil(rect[2] + margin)) + 1),
                min(h, int(np.ceil(rect[3] + margin)) + 1),
            )
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            offset = np.array([x0, y0, x0, y0], dtype=np.float64)
            gray = intensity(rgb[y0:y1, x0:x1])
            out[k] = self.shape_predictor.predict(gray, (rect - offset)[None])[0] + offset[:2]
        return out

    def chip(self, rgb: np.ndarray, cut_points: np.ndarray) -> np.ndarray:
        """The 150×150 chip for one face from `chip_points`' points."""
        return align_face(rgb, cut_points, self._chip_template)[0]

    def chip_views(
        self, rgb: np.ndarray, mtcnn_points: np.ndarray, mtcnn_boxes: np.ndarray
    ) -> np.ndarray:
        """(n, views, 150, 150, 3): the chips each face's template is embedded from.

        One view (`chip`) unless `fused_chips`: then two, MTCNN's points on the fitted template
        and dlib's get_face_chip frame from dlib's points (`dlib_points`); the embedder adds both
        mirrors and averages the four. Their errors differ, so the average is the better template:
        LFW View 1 10-fold CV (people-disjoint) 99.09 % against 98.94 % for MTCNN's chip with
        its mirror and 98.62 % for dlib's own pipeline (docs/thresholds.md).
        """
        points = np.asarray(mtcnn_points, dtype=np.float64).reshape(-1, 5, 2)
        if not self.fused_chips:
            return np.stack([self.chip(rgb, p) for p in self.chip_points(rgb, points)])[:, None]
        dlib = self.dlib_points(rgb, mtcnn_boxes, points)
        frame = dlib_chip_template()
        return np.stack(
            [
                np.stack([align_face(rgb, m, self.template)[0], align_face(rgb, d, frame)[0]])
                for m, d in zip(points, dlib, strict=True)
            ]
        )

    def _find(
        self, decoded: DecodedImage, *, min_face_size: int, max_faces: int, embed: bool = True
    ) -> tuple[list[Face], list[np.ndarray]]:
        """Faces and, per face, its (views, 150, 150, 3) chips; without `embed` only the first
        view is cut (the quality measures read it)."""
        pixels = decoded.pixels
        to_original = decoded.scale
        deadline.check()
        with stage_timer("detect"):
            found = self.detect_pixels(
                pixels, min_face_size=max(1, round(min_face_size / to_original))
            )
        if len(found) == 0:
            return [], []
        areas = (found.boxes[:, 2] - found.boxes[:, 0]) * (found.boxes[:, 3] - found.boxes[:, 1])
        order = np.argsort(-areas, kind="stable")[:max_faces]
        full_w, full_h = decoded.original_size
        deadline.check()
        with stage_timer("align"):
            views = (
                self.chip_views(pixels, found.landmarks[order], found.boxes[order])
                if embed
                else [
                    self.chip(pixels, p)[None]
                    for p in self.chip_points(pixels, found.landmarks[order])
                ]
            )
        faces: list[Face] = []
        chips: list[np.ndarray] = []
        for i, face_views in zip(order, views, strict=True):
            points = found.landmarks[i].astype(np.float64)
            chip = face_views[0]
            points_full = points * to_original
            x1, y1, x2, y2 = (float(v) * to_original for v in found.boxes[i])
            x1, y1 = max(0.0, x1), max(0.0, y1)
            x2, y2 = min(float(full_w), x2), min(float(full_h), y2)
            score = float(found.scores[i])
            faces.append(
                Face(
                    box=Box(x=x1, y=y1, width=max(0.0, x2 - x1), height=max(0.0, y2 - y1)),
                    score=score,
                    landmarks=tuple((float(x), float(y)) for x, y in points_full),
                    quality=measure_quality(chip, points_full, self.template, score),
                )
            )
            chips.append(face_views)
        return faces, chips

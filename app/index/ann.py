"""Approximate nearest-neighbour structures for large collections, built and searched via FAISS.

The approximate index only proposes a short list; `CollectionIndex` re-ranks it with the exact
float32 vectors, so its own (possibly quantised) scores never reach a caller. Labels inside these
indexes are consecutive positions (0, 1, 2, ...) that the caller maps to its own slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import faiss
import numpy as np


@dataclass(frozen=True, slots=True)
class AnnConfig:
    """How to build and search the approximate index. Defaults come from bench/search.py runs."""

    kind: Literal["hnsw", "ivf"] = "hnsw"
    # HNSW: graph degree, build and search breadth; storage "sq8" keeps 1 byte per dimension
    # in the graph (the exact vectors live in the store for re-ranking anyway).
    # Measured at 1M LFW-like templates (bench/README.md): with efConstruction 64, efSearch
    # 64 / 128 / 256 gave recall@1 0.957 / 0.980 / 0.993; with efConstruction 128 (twice the
    # build time), efSearch 128 / 256 gave 0.994 / 0.996 at p50 0.73 / 1.29 ms.
    hnsw_m: int = 32
    ef_construction: int = 128
    ef_search: int = 256
    storage: Literal["flat", "sq8"] = "sq8"
    # IVF: lists scale with the square root of the collection, probes fixed.
    nlist: int | None = None
    nprobe: int = 64
    train_max: int = 100_000
    # How many candidates to re-rank exactly per query (at least k).
    shortlist: int = 64

    def nlist_for(self, n: int) -> int:
        if self.nlist is not None:
            return self.nlist
        # Never more lists than k-means can train on (a few dozen points per list).
        return int(max(1, min(4 * np.sqrt(n), 16_384, n // 32)))


def build(config: AnnConfig, vectors: np.ndarray, *, seed: int = 1234) -> faiss.Index:
    """A trained index holding vectors under labels 0..n-1."""
    dim = vectors.shape[1]
    index = empty(config, dim, len(vectors))
    if not index.is_trained:
        rng = np.random.default_rng(seed)
        sample = vectors
        if len(vectors) > config.train_max:
            sample = vectors[rng.choice(len(vectors), config.train_max, replace=False)]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def empty(config: AnnConfig, dim: int, expected: int) -> faiss.Index:
    metric = faiss.METRIC_INNER_PRODUCT
    if config.kind == "hnsw":
        if config.storage == "sq8":
            index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, config.hnsw_m, metric)
        else:
            index = faiss.IndexHNSWFlat(dim, config.hnsw_m, metric)
        index.hnsw.efConstruction = config.ef_construction
        return index
    quantizer = faiss.IndexFlatIP(dim)
    nlist = config.nlist_for(expected)
    if config.storage == "sq8":
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, metric
        )
    else:
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, metric)
    # The index owns its quantizer; without this the Python wrapper could free it first.
    index.own_fields = True
    quantizer.this.disown()
    return index


def matches(config: AnnConfig, index: faiss.Index) -> bool:
    """Whether an index (e.g. from a snapshot) is of the kind config searches; else rebuild."""
    expected = faiss.IndexHNSW if config.kind == "hnsw" else faiss.IndexIVF
    return isinstance(index, expected)


def search_params(config: AnnConfig) -> faiss.SearchParameters:
    """Per-call parameters, so concurrent searches never mutate shared index state."""
    if config.kind == "hnsw":
        return faiss.SearchParametersHNSW(efSearch=max(config.ef_search, config.shortlist))
    return faiss.SearchParametersIVF(nprobe=config.nprobe)


def candidates(
    config: AnnConfig, index: faiss.Index, queries: np.ndarray, count: int
) -> np.ndarray:
    """(m, count) labels of likely neighbours, -1 padded."""
    labels: np.ndarray
    _, labels = index.search(queries, count, params=search_params(config))
    return labels

"""CollectionIndex: exact results while small, the switch to approximate search, rebuilds."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app.index import ann
from app.index.collection_index import CollectionIndex
from tests.index.vectors import clustered, exact_top, unit

DIM = 128


def test_empty_index_returns_padding() -> None:
    index = CollectionIndex(DIM)
    sims, ids = index.search(clustered(2), 3)
    assert ids.shape == (2, 3) and (ids == -1).all()
    assert np.isneginf(sims).all()


def test_exact_search_matches_brute_force(gallery) -> None:
    ids, vectors = gallery
    index = CollectionIndex(DIM)
    index.add(ids, vectors)
    queries = clustered(20, seed=5)
    sims, found = index.search(queries, 5)
    want_sims, want_ids = exact_top(vectors, ids, queries, 5)
    np.testing.assert_array_equal(found, want_ids)
    np.testing.assert_allclose(sims, want_sims, rtol=1e-5, atol=1e-6)


def test_fewer_faces_than_k_pads_with_minus_one() -> None:
    index = CollectionIndex(DIM)
    index.add(np.array([7, 8]), clustered(2))
    sims, ids = index.search(clustered(1, seed=3), 5)
    assert sorted(ids[0, :2].tolist()) == [7, 8]
    assert (ids[0, 2:] == -1).all() and np.isneginf(sims[0, 2:]).all()


def test_removed_faces_are_never_returned(gallery) -> None:
    ids, vectors = gallery
    index = CollectionIndex(DIM)
    index.add(ids, vectors)
    index.remove(ids[:10])
    _, found = index.search(vectors[:10], 3)
    assert not np.isin(found, ids[:10]).any()
    assert len(index) == len(ids) - 10


def test_adding_an_existing_id_replaces_its_vector() -> None:
    index = CollectionIndex(DIM)
    a, b = clustered(2, seed=9)
    index.add(np.array([1]), a[None])
    index.add(np.array([1]), b[None])
    sims, found = index.search(b[None], 2)
    assert len(index) == 1
    assert found[0].tolist() == [1, -1]
    assert sims[0, 0] == pytest.approx(1.0, abs=1e-5)


def test_wrong_dimension_is_rejected() -> None:
    index = CollectionIndex(DIM)
    with pytest.raises(ValueError):
        index.add(np.array([1]), np.ones((1, 64), dtype=np.float32))
    with pytest.raises(ValueError):
        index.search(np.ones((1, 64), dtype=np.float32), 1)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_large_collection_switches_to_approximate_index(gallery, kind) -> None:
    ids, vectors = gallery
    index = CollectionIndex(DIM, exact_max=500, ann_config=ann.AnnConfig(kind=kind))
    index.add(ids, vectors)
    assert index.wait_idle(60)
    assert index.mode == "approximate"


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_search_reports_exact_similarities(gallery, kind) -> None:
    ids, vectors = gallery
    index = CollectionIndex(DIM, exact_max=500, ann_config=ann.AnnConfig(kind=kind))
    index.add(ids, vectors)
    index.wait_idle(60)
    queries = unit(vectors[:50] + 0.05 * clustered(50, seed=11))
    sims, found = index.search(queries, 5)
    by_id = dict(zip(ids.tolist(), vectors, strict=True))
    recomputed = np.array(
        [[by_id[i] @ q for i in row] for row, q in zip(found, queries, strict=True)]
    )
    np.testing.assert_allclose(sims, recomputed, rtol=1e-5, atol=1e-6)
    _, want = exact_top(vectors, ids, queries, 1)
    assert (found[:, 0] == want[:, 0]).mean() >= 0.98


def _gate_builds(monkeypatch) -> threading.Event:
    """Hold every approximate build until the returned event is set (the real build then runs)."""
    release = threading.Event()
    real_build = ann.build

    def gated(config, vectors, **kwargs):
        release.wait(30)
        return real_build(config, vectors, **kwargs)

    monkeypatch.setattr(ann, "build", gated)
    return release


def test_changes_during_rebuild_are_applied_to_the_new_index(gallery, monkeypatch) -> None:
    ids, vectors = gallery
    release = _gate_builds(monkeypatch)
    index = CollectionIndex(DIM, exact_max=500)
    index.add(ids, vectors)
    assert index.rebuilding
    removed = ids[:25]
    index.remove(removed)
    late = clustered(5, seed=21)
    late_ids = np.arange(90_000, 90_005)
    index.add(late_ids, late)
    # Still building: served exactly from the old structures, with the changes already visible.
    _, during = index.search(np.vstack([vectors[:25], late]), 1)
    assert not np.isin(during, removed).any()
    assert during[25:, 0].tolist() == late_ids.tolist()
    release.set()
    assert index.wait_idle(60)
    assert index.mode == "approximate"
    _, after = index.search(np.vstack([vectors[:25], late]), 1)
    assert not np.isin(after, removed).any()
    assert after[25:, 0].tolist() == late_ids.tolist()
    assert len(index) == len(ids) - 25 + 5


def test_searches_are_served_while_rebuilding(gallery, monkeypatch) -> None:
    ids, vectors = gallery
    release = _gate_builds(monkeypatch)
    index = CollectionIndex(DIM, exact_max=500)
    index.add(ids, vectors)
    _, found = index.search(vectors[:3], 1)
    assert index.rebuilding and found[:, 0].tolist() == ids[:3].tolist()
    release.set()
    index.wait_idle(60)


def test_removes_in_approximate_mode_are_honoured(gallery) -> None:
    ids, vectors = gallery
    index = CollectionIndex(DIM, exact_max=500)
    index.add(ids, vectors)
    index.wait_idle(60)
    index.remove(ids[:40])
    _, found = index.search(vectors[:40], 5)
    assert not np.isin(found, ids[:40]).any()


def test_shrinking_collection_returns_to_exact_search(gallery) -> None:
    ids, vectors = gallery
    index = CollectionIndex(DIM, exact_max=1000)
    index.add(ids, vectors)
    index.wait_idle(60)
    assert index.mode == "approximate"
    index.remove(ids[:1600])
    index.wait_idle(60)
    assert index.mode == "exact"
    _, found = index.search(vectors[1600:1610], 1)
    assert found[:, 0].tolist() == ids[1600:1610].tolist()

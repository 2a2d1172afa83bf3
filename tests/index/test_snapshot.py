"""Snapshots: round trip with their sequence number, and refusal of anything untrustworthy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.index.ann import AnnConfig
from app.index.changes import Change
from app.index.registry import IndexRegistry
from tests.index.vectors import clustered

DIM = 128


@pytest.fixture
def filled(gallery) -> tuple[IndexRegistry, np.ndarray, np.ndarray]:
    ids, vectors = gallery
    registry = IndexRegistry(DIM, exact_max=500)
    registry.replace("big", ids, vectors)
    registry.replace("small", np.array([1, 2]), clustered(2, seed=4))
    registry.mark_seq(41)
    registry.get("big").remove(ids[:5])
    registry.wait_idle(60)
    return registry, ids, vectors


def test_snapshot_round_trip_keeps_content_and_seq(filled, tmp_path: Path) -> None:
    registry, ids, vectors = filled
    registry.save_snapshot(tmp_path, tag="m1")
    loaded = IndexRegistry(DIM, exact_max=500)
    assert loaded.load_snapshot(tmp_path, tag="m1")
    assert loaded.last_seq == 41
    assert sorted(loaded.collection_ids()) == ["big", "small"]
    assert loaded.get("big").mode == "approximate"
    assert len(loaded.get("big")) == len(ids) - 5
    want = registry.get("big").search(vectors[:30], 5)
    got = loaded.get("big").search(vectors[:30], 5)
    np.testing.assert_array_equal(got[1], want[1])


def test_changes_after_the_snapshot_replay_onto_it(filled, tmp_path: Path) -> None:
    registry, ids, _ = filled
    registry.save_snapshot(tmp_path)
    loaded = IndexRegistry(DIM, exact_max=500)
    loaded.load_snapshot(tmp_path)
    vector = clustered(1, seed=99)[0]
    loaded.apply([Change(41, "big", ids[6], "delete"), Change(42, "big", 777, "add", vector)])
    _, found = loaded.get("big").search(vector[None], 1)
    assert found[0, 0] == 777
    assert len(loaded.get("big")) == len(ids) - 5 + 1  # seq 41 was already included


def test_missing_snapshot_is_refused(tmp_path: Path) -> None:
    assert not IndexRegistry(DIM).load_snapshot(tmp_path)


def test_snapshot_for_another_tag_is_refused(filled, tmp_path: Path) -> None:
    registry, _, _ = filled
    registry.save_snapshot(tmp_path, tag="model-a")
    assert not IndexRegistry(DIM).load_snapshot(tmp_path, tag="model-b")


def test_corrupt_snapshot_is_refused_and_leaves_content_untouched(filled, tmp_path: Path) -> None:
    registry, _, _ = filled
    folder = registry.save_snapshot(tmp_path)
    victim = next(folder.glob("*.vectors.npy"))
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    fresh = IndexRegistry(DIM)
    fresh.apply([Change(1, "keep", 3, "add", clustered(1)[0])])
    assert not fresh.load_snapshot(tmp_path)
    assert fresh.collection_ids() == ["keep"] and fresh.last_seq == 1


def test_new_snapshot_replaces_the_old_one(filled, tmp_path: Path) -> None:
    registry, _, _ = filled
    first = registry.save_snapshot(tmp_path)
    registry.mark_seq(50)
    second = registry.save_snapshot(tmp_path)
    assert not first.exists() and second.exists()
    loaded = IndexRegistry(DIM)
    assert loaded.load_snapshot(tmp_path) and loaded.last_seq == 50


def test_snapshot_of_another_index_kind_is_rebuilt_on_load(filled, tmp_path: Path) -> None:
    registry, ids, vectors = filled
    registry.save_snapshot(tmp_path)
    loaded = IndexRegistry(DIM, exact_max=500, ann_config=AnnConfig(kind="ivf"))
    assert loaded.load_snapshot(tmp_path)
    assert loaded.wait_idle(60)
    assert loaded.get("big").mode == "approximate"
    _, found = loaded.get("big").search(vectors[10:20], 1)
    assert found[:, 0].tolist() == ids[10:20].tolist()

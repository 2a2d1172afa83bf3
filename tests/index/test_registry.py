"""IndexRegistry: per-collection indexes, catch-up from the change log."""

from __future__ import annotations

import numpy as np

from app.index.changes import Change
from app.index.registry import IndexRegistry
from tests.index.vectors import clustered

DIM = 128


def _adds(collection: str, face_ids: list[int], first_seq: int) -> list[Change]:
    vectors = clustered(len(face_ids), seed=first_seq)
    return [
        Change(first_seq + i, collection, face_id, "add", vector)
        for i, (face_id, vector) in enumerate(zip(face_ids, vectors, strict=True))
    ]


def test_get_creates_an_empty_index_once() -> None:
    registry = IndexRegistry(DIM)
    assert registry.get("c1") is registry.get("c1")
    assert len(registry.get("c1")) == 0


def test_apply_adds_and_deletes_in_sequence_order() -> None:
    registry = IndexRegistry(DIM)
    changes = [*_adds("c1", [1, 2, 3], first_seq=1), Change(4, "c1", 2, "delete")]
    registry.apply(list(reversed(changes)))
    assert len(registry.get("c1")) == 2
    assert registry.last_seq == 4


def test_apply_skips_changes_already_applied() -> None:
    registry = IndexRegistry(DIM)
    adds = _adds("c1", [1], first_seq=1)
    registry.apply([*adds, Change(2, "c1", 1, "delete")])
    registry.apply(adds)  # re-reading an old window must not resurrect face 1
    assert len(registry.get("c1")) == 0


def test_late_committed_lower_sequence_is_still_applied() -> None:
    registry = IndexRegistry(DIM)
    registry.apply(_adds("c1", [11], first_seq=11))
    registry.apply(_adds("c1", [10], first_seq=10))
    assert len(registry.get("c1")) == 2
    assert registry.last_seq == 11


def test_changes_go_to_their_own_collection() -> None:
    registry = IndexRegistry(DIM)
    registry.apply([*_adds("a", [1, 2], first_seq=1), *_adds("b", [3], first_seq=3)])
    assert (len(registry.get("a")), len(registry.get("b"))) == (2, 1)


def test_delete_for_unknown_collection_creates_nothing() -> None:
    registry = IndexRegistry(DIM)
    registry.apply([Change(1, "ghost", 5, "delete")])
    assert registry.collection_ids() == []


def test_replace_swaps_in_rebuilt_content() -> None:
    registry = IndexRegistry(DIM)
    registry.apply(_adds("c1", [1, 2], first_seq=1))
    vectors = clustered(3, seed=77)
    registry.replace("c1", np.array([7, 8, 9]), vectors)
    registry.mark_seq(2)
    _, found = registry.get("c1").search(vectors, 1)
    assert found[:, 0].tolist() == [7, 8, 9]
    assert registry.last_seq == 2


def test_changes_at_or_below_marked_seq_are_skipped() -> None:
    registry = IndexRegistry(DIM)
    registry.replace("c1", np.array([1]), clustered(1))
    registry.mark_seq(5)
    registry.apply([Change(5, "c1", 1, "delete")])
    assert len(registry.get("c1")) == 1


def test_drop_forgets_the_collection() -> None:
    registry = IndexRegistry(DIM)
    registry.apply(_adds("c1", [1], first_seq=1))
    registry.drop("c1")
    assert registry.collection_ids() == []


def test_assigning_last_seq_marks_content_complete_up_to_it() -> None:
    registry = IndexRegistry(DIM)
    registry.last_seq = 9
    registry.apply(_adds("c1", [1], first_seq=9))
    assert registry.last_seq == 9 and len(registry.get("c1")) == 0


def test_items_lists_every_collection_with_its_index() -> None:
    registry = IndexRegistry(DIM)
    registry.apply([*_adds("a", [1], first_seq=1), *_adds("b", [2, 3], first_seq=2)])
    assert {cid: len(index) for cid, index in registry.items()} == {"a": 1, "b": 2}

"""The float32 vectors of one collection, keyed by face id, in append-only slots.

Slots never move while an approximate index refers to them: a removal only tombstones its slot, and
`compacted()` produces a fresh store when the caller is ready to rebuild whatever points into it.
Not thread-safe on its own; `CollectionIndex` serialises access.
"""

from __future__ import annotations

import sys

import numpy as np

_MIN_CAPACITY = 256


class VectorStore:
    def __init__(self, dim: int, ids: np.ndarray | None = None, vectors: np.ndarray | None = None):
        self.dim = dim
        self._vecs = np.empty((_MIN_CAPACITY, dim), dtype=np.float32)
        self._ids = np.full(_MIN_CAPACITY, -1, dtype=np.int64)  # -1 marks a dead or unused slot
        self._slot_of: dict[int, int] = {}
        self._used = 0
        if ids is not None and vectors is not None and len(ids):
            self.append(ids, vectors)

    @classmethod
    def from_slots(cls, dim: int, slot_ids: np.ndarray, vectors: np.ndarray) -> VectorStore:
        """Recreate a store slot for slot, dead slots (id -1) included (snapshots)."""
        store = cls(dim)
        n = len(slot_ids)
        store._reserve(n)
        store._vecs[:n] = vectors
        store._ids[:n] = slot_ids
        live = np.flatnonzero(slot_ids >= 0)
        store._slot_of = dict(zip(slot_ids[live].tolist(), live.tolist(), strict=True))
        store._used = n
        return store

    def __len__(self) -> int:
        return len(self._slot_of)

    @property
    def used(self) -> int:
        """Slots handed out so far, dead ones included."""
        return self._used

    @property
    def dead(self) -> int:
        return self._used - len(self._slot_of)

    @property
    def vectors(self) -> np.ndarray:
        """View of every used slot (dead ones too); valid until the next append."""
        return self._vecs[: self._used]

    @property
    def slot_ids(self) -> np.ndarray:
        """Face id per used slot, -1 where dead; valid until the next append."""
        return self._ids[: self._used]

    def nbytes(self) -> int:
        return self._vecs.nbytes + self._ids.nbytes

    def map_nbytes(self) -> int:
        """The id-to-slot dict: its table plus two int objects per entry."""
        return sys.getsizeof(self._slot_of) + 2 * 32 * len(self._slot_of)

    def append(self, ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Store vectors under ids (an existing id is replaced); return the new slots."""
        n = len(ids)
        self._reserve(self._used + n)
        slots = np.arange(self._used, self._used + n, dtype=np.int64)
        self._vecs[self._used : self._used + n] = vectors
        self._ids[self._used : self._used + n] = ids
        for face_id, slot in zip(ids.tolist(), slots.tolist(), strict=True):
            old = self._slot_of.get(face_id)
            # Also covers one batch naming an id twice: the later vector wins.
            if old is not None:
                self._ids[old] = -1
            self._slot_of[face_id] = slot
        self._used += n
        return slots

    def remove(self, ids: np.ndarray) -> int:
        """Tombstone the slots of ids that are present; return how many were."""
        removed = 0
        for face_id in ids.tolist():
            slot = self._slot_of.pop(face_id, None)
            if slot is not None:
                self._ids[slot] = -1
                removed += 1
        return removed

    def alive(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the live ids and vectors, in slot order."""
        mask = self._ids[: self._used] >= 0
        return self._ids[: self._used][mask].copy(), self._vecs[: self._used][mask].copy()

    def compacted(self) -> VectorStore:
        ids, vecs = self.alive()
        return VectorStore(self.dim, ids, vecs)

    def _reserve(self, needed: int) -> None:
        capacity = len(self._ids)
        if needed <= capacity:
            return
        # Grow by half rather than double: at a million templates doubling would waste 256 MB.
        new_capacity = max(needed, capacity + capacity // 2, _MIN_CAPACITY)
        vecs = np.empty((new_capacity, self.dim), dtype=np.float32)
        vecs[: self._used] = self._vecs[: self._used]
        ids = np.full(new_capacity, -1, dtype=np.int64)
        ids[: self._used] = self._ids[: self._used]
        self._vecs, self._ids = vecs, ids

"""One collection's face index: exact search while small, approximate plus exact re-rank when large.

Policy:
- up to `exact_max` live templates every search is an exact inner product over all vectors;
- past it an approximate index (see `ann.py`) is built in a background thread from a copy of the
  vectors. Searches keep using the exact path meanwhile; adds and removes made during the build are
  logged and replayed onto the new structures before they are swapped in under the lock;
- in approximate mode the approximate index proposes a short list, which is re-ranked with the
  exact float32 vectors, so every similarity returned is the exact cosine;
- removals tombstone; when too many tombstones or unindexed growth pile up the index is rebuilt the
  same way, and a collection that shrinks below half of `exact_max` drops back to exact search.
All public methods are thread-safe.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import faiss
import numpy as np

from app.index import ann
from app.index.store import VectorStore

log = logging.getLogger(__name__)

# Padding similarity where fewer than k faces exist (id -1).
PAD_SIMILARITY = float("-inf")
_REBUILD_DEAD_FRACTION = 0.2
_COMPACT_DEAD_FRACTION = 0.25
_COMPACT_DEAD_MIN = 1024


@dataclass(slots=True)
class IndexState:
    """Everything needed to recreate a CollectionIndex without rebuilding (snapshots)."""

    ids: np.ndarray  # (slots,) int64 face id per slot, -1 where the slot is dead
    vectors: np.ndarray  # (slots, dim) float32
    ann_index: faiss.Index | None  # its labels are slot numbers


class CollectionIndex:
    def __init__(
        self,
        dim: int,
        *,
        exact_max: int = 50_000,
        ann_config: ann.AnnConfig | None = None,
        background: bool = True,
        threads: int = 1,
    ) -> None:
        self.dim = dim
        # FAISS's OpenMP thread count is per calling thread, so it is set on every search and
        # build. One thread: requests already run in parallel, and on a busy machine OpenMP teams
        # stall (measured in bench/search.py: 48 ms vs 1.7 ms p50 for flat 100k on 2 cores).
        self.threads = threads
        self.exact_max = exact_max
        self.ann_config = ann_config or ann.AnnConfig()
        self._background = background
        self._lock = threading.RLock()
        self._store = VectorStore(dim)
        # Approximate index labels equal store slots: both only ever append, together.
        self._ann: faiss.Index | None = None
        self._built_n = 0
        # Background rebuild bookkeeping: a generation number invalidates stale builds, and
        # changes made while building are replayed onto the new structures.
        self._generation = 0
        self._building: threading.Thread | None = None
        self._pending: list[tuple[str, np.ndarray, np.ndarray | None]] = []
        self._idle = threading.Condition(self._lock)

    # ---------------------------------------------------------------- public API
    def __len__(self) -> int:
        with self._lock:
            return len(self._store)

    @property
    def mode(self) -> str:
        """Which path searches take right now: "exact" or "approximate"."""
        with self._lock:
            return "exact" if self._ann is None else "approximate"

    @property
    def rebuilding(self) -> bool:
        with self._lock:
            return self._building is not None

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids, vectors = self._check_add(ids, vectors)
        if not len(ids):
            return
        with self._lock:
            slots = self._store.append(ids, vectors)
            if self._ann is not None:
                self._ann_add(vectors, slots)
            if self._building is not None:
                self._pending.append(("add", ids, vectors))
            self._maybe_rebuild()

    def remove(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if not len(ids):
            return
        with self._lock:
            self._store.remove(ids)
            if self._building is not None:
                self._pending.append(("remove", ids, None))
            self._maybe_rebuild()

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries.reshape(1, -1)
        if queries.shape[1] != self.dim:
            raise ValueError(f"queries have dim {queries.shape[1]}, index has {self.dim}")
        if k < 1:
            raise ValueError("k must be at least 1")
        faiss.omp_set_num_threads(self.threads)
        with self._lock:
            if self._ann is None:
                return self._search_exact(queries, k)
            return self._search_approximate(queries, k)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no background rebuild is running; False on timeout (for tests, snapshots)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._building is None, timeout)

    def nbytes(self) -> int:
        """Approximate resident bytes: vectors, id map and approximate index."""
        with self._lock:
            total = self._store.nbytes() + self._store.map_nbytes()
            if self._ann is not None:
                total += _faiss_nbytes(self._ann)
            return total

    # ----------------------------------------------------------- snapshot support
    def export_state(self) -> IndexState:
        """A consistent copy of the current content. A rebuild in progress is not waited for: the
        structures it will replace are consistent with each other and serve until then."""
        with self._lock:
            ann_copy = faiss.clone_index(self._ann) if self._ann is not None else None
            return IndexState(self._store.slot_ids.copy(), self._store.vectors.copy(), ann_copy)

    @classmethod
    def from_state(
        cls,
        dim: int,
        state: IndexState,
        *,
        exact_max: int = 50_000,
        ann_config: ann.AnnConfig | None = None,
        background: bool = True,
    ) -> CollectionIndex:
        index = cls(dim, exact_max=exact_max, ann_config=ann_config, background=background)
        with index._lock:
            index._store = VectorStore.from_slots(dim, state.ids, state.vectors)
            if (
                state.ann_index is not None
                and state.ann_index.ntotal == len(state.ids)
                and ann.matches(index.ann_config, state.ann_index)
            ):
                index._ann = state.ann_index
                index._built_n = len(index._store)
            index._maybe_rebuild()
        return index

    # ------------------------------------------------------------------ internals
    def _check_add(self, ids: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim == 1:
            vectors = vectors.reshape(1, -1)
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(
                f"expected vectors of shape ({len(ids)}, {self.dim}), got {vectors.shape}"
            )
        if (ids < 0).any():
            raise ValueError("face ids must be non-negative")
        return ids, vectors

    def _search_exact(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        m = len(queries)
        sims = np.full((m, k), PAD_SIMILARITY, dtype=np.float32)
        labels = np.full((m, k), -1, dtype=np.int64)
        live = len(self._store)
        if live == 0:
            return sims, labels
        vectors, slot_ids = self._store.vectors, self._store.slot_ids
        kk = min(k, live)
        # FAISS's blocked kernel over the store's own memory (no copy); dead slots are skipped by
        # a bitmap selector rather than over-fetching.
        bitmap = np.packbits(slot_ids >= 0, bitorder="little") if self._store.dead else None
        selector = (
            faiss.IDSelectorBitmap(len(slot_ids), faiss.swig_ptr(bitmap))
            if bitmap is not None
            else None
        )
        found_sims = np.empty((m, kk), dtype=np.float32)
        found_slots = np.empty((m, kk), dtype=np.int64)
        faiss.knn_inner_product(
            faiss.swig_ptr(queries),
            faiss.swig_ptr(vectors),
            self.dim,
            m,
            len(slot_ids),
            kk,
            faiss.swig_ptr(found_sims),
            faiss.swig_ptr(found_slots),
            selector,
        )
        ok = found_slots >= 0
        sims[:, :kk] = np.where(ok, found_sims, PAD_SIMILARITY)
        labels[:, :kk] = np.where(ok, slot_ids[np.maximum(found_slots, 0)], -1)
        return sims, labels

    def _search_approximate(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        assert self._ann is not None
        m = len(queries)
        count = max(k, self.ann_config.shortlist)
        found = ann.candidates(self.ann_config, self._ann, queries, count)
        slots = found
        face_ids = np.where(slots >= 0, self._store.slot_ids[np.maximum(slots, 0)], -1)
        # Exact re-rank: gather the float32 vectors of the short list and score them directly.
        cand_vecs = self._store.vectors[np.maximum(slots, 0)]  # (m, count, dim)
        scores = np.einsum("mcd,md->mc", cand_vecs, queries)
        scores[face_ids < 0] = -np.inf
        kk = min(k, count)
        top = _top_k(scores, kk)
        sims = np.full((m, k), PAD_SIMILARITY, dtype=np.float32)
        labels = np.full((m, k), -1, dtype=np.int64)
        sims[:, :kk] = np.take_along_axis(scores, top, axis=1)
        labels[:, :kk] = np.take_along_axis(face_ids, top, axis=1)
        labels[~np.isfinite(sims)] = -1
        sims[labels < 0] = PAD_SIMILARITY
        return sims, labels

    def _ann_add(self, vectors: np.ndarray, slots: np.ndarray) -> None:
        assert self._ann is not None and self._ann.ntotal == slots[0]
        self._ann.add(vectors)

    def _maybe_rebuild(self, *, force: bool = False, background: bool | None = None) -> None:
        """Decide, under the lock, whether the structures need (re)building, and start it."""
        background = self._background if background is None else background
        if self._building is not None:
            return
        live = len(self._store)
        if self._ann is None:
            if live > self.exact_max:
                self._start_rebuild(background)
            elif self._store.dead > max(
                _COMPACT_DEAD_MIN, _COMPACT_DEAD_FRACTION * self._store.used
            ):
                # Exact mode: nothing refers to slots, so compact in place.
                self._store = self._store.compacted()
            elif force and self._store.dead:
                self._store = self._store.compacted()
            return
        if live <= self.exact_max // 2:
            self._drop_ann()
            self._store = self._store.compacted()
            return
        stale = self._store.dead > _REBUILD_DEAD_FRACTION * max(1, self._store.used)
        # IVF centroids trained on a quarter of today's data partition it badly; rebuild on growth.
        outgrown = self.ann_config.kind == "ivf" and self._store.used > 4 * max(1, self._built_n)
        if stale or outgrown or force:
            self._start_rebuild(background)

    def _drop_ann(self) -> None:
        self._ann = None

    def _start_rebuild(self, background: bool) -> None:
        self._generation += 1
        generation = self._generation
        ids, vectors = self._store.alive()
        self._pending = []
        if not background:
            faiss.omp_set_num_threads(self.threads)
            self._finish_rebuild(generation, ids, vectors, ann.build(self.ann_config, vectors))
            return
        thread = threading.Thread(
            target=self._rebuild_worker,
            args=(generation, ids, vectors),
            name="collection-index-rebuild",
            daemon=True,
        )
        self._building = thread
        thread.start()

    def _rebuild_worker(self, generation: int, ids: np.ndarray, vectors: np.ndarray) -> None:
        faiss.omp_set_num_threads(self.threads)
        try:
            built = ann.build(self.ann_config, vectors)
        except Exception:  # a failed build must not wedge the index: keep serving what we have
            log.exception("approximate index build failed; staying on the current structures")
            with self._idle:
                if self._generation == generation:
                    self._building = None
                    self._pending = []
                self._idle.notify_all()
            return
        with self._idle:
            if self._generation == generation:
                self._finish_rebuild(generation, ids, vectors, built)
            self._idle.notify_all()

    def _finish_rebuild(
        self, generation: int, ids: np.ndarray, vectors: np.ndarray, built: faiss.Index
    ) -> None:
        """Swap in the new structures and replay changes made meanwhile (lock held)."""
        store = VectorStore(self.dim, ids, vectors)
        self._store = store
        self._ann = built
        self._built_n = len(ids)
        pending, self._pending = self._pending, []
        self._building = None
        for op, op_ids, op_vectors in pending:
            if op == "add":
                assert op_vectors is not None
                self._ann_add(op_vectors, self._store.append(op_ids, op_vectors))
            else:
                self._store.remove(op_ids)
        log.info("collection index rebuilt: %d templates, generation %d", len(store), generation)
        self._maybe_rebuild()

    def cancel_rebuild(self) -> None:
        """Forget a running build (its result is discarded); used when the index is replaced."""
        with self._idle:
            self._generation += 1
            self._building = None
            self._pending = []
            self._idle.notify_all()


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k largest scores per row, best first."""
    n = scores.shape[1]
    if k < n:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(n), scores.shape).copy()
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _faiss_nbytes(index: faiss.Index) -> int:
    """Serialized size: a close proxy for the index's resident memory."""
    return int(faiss.serialize_index(index).nbytes)

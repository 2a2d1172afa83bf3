"""Every collection's index, the change sequence they include, catch-up and snapshots.

The service keeps SQL as the truth. On start it either loads a snapshot (`load_snapshot`) and
replays changes after `last_seq`, or rebuilds each collection from SQL (`replace`) and records the
sequence it read up to (`mark_seq`). Before a search it `apply`s changes with seq > `last_seq`.

`apply` is idempotent per sequence number: a change already applied is skipped, even below
`last_seq`, so a caller may re-read a window of recent changes to catch sequence numbers that were
allocated early but committed late (PostgreSQL sequences do not commit in order).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from app.index import snapshot as snapshots
from app.index.ann import AnnConfig
from app.index.changes import Change
from app.index.collection_index import CollectionIndex

# How many recent sequence numbers are remembered individually for de-duplication.
_SEQ_WINDOW = 100_000


class IndexRegistry:
    def __init__(
        self,
        dim: int,
        *,
        exact_max: int = 50_000,
        snapshot_dir: Path | None = None,
        ann_config: AnnConfig | None = None,
        background: bool = True,
    ) -> None:
        self.dim = dim
        self.exact_max = exact_max
        self.snapshot_dir = snapshot_dir
        self.ann_config = ann_config or AnnConfig()
        self._background = background
        self._lock = threading.RLock()
        self._indexes: dict[str, CollectionIndex] = {}
        self._floor = 0  # every seq <= floor counts as applied
        self._applied: set[int] = set()  # applied seqs above floor
        self._last_seq = 0

    # ------------------------------------------------------------- collections
    def get(self, collection_id: str) -> CollectionIndex:
        """The collection's index, created empty on first use."""
        with self._lock:
            index = self._indexes.get(collection_id)
            if index is None:
                index = self._new_index()
                self._indexes[collection_id] = index
            return index

    def find(self, collection_id: str) -> CollectionIndex | None:
        """The collection's index if it has one (never creates it)."""
        with self._lock:
            return self._indexes.get(collection_id)

    def drop(self, collection_id: str) -> None:
        with self._lock:
            index = self._indexes.pop(collection_id, None)
        if index is not None:
            index.cancel_rebuild()

    def replace(self, collection_id: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Swap in an index rebuilt from SQL rows. Large ones serve exact search until their
        approximate index finishes building in the background."""
        index = self._new_index()
        index.add(ids, vectors)
        with self._lock:
            old = self._indexes.get(collection_id)
            self._indexes[collection_id] = index
        if old is not None:
            old.cancel_rebuild()

    def items(self) -> list[tuple[str, CollectionIndex]]:
        """(collection id, index) pairs at this moment (metrics, snapshots)."""
        with self._lock:
            return list(self._indexes.items())

    def collection_ids(self) -> list[str]:
        with self._lock:
            return list(self._indexes)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for background rebuilds of every collection (tests, benchmarks, shutdown)."""
        return all(index.wait_idle(timeout) for index in self._snapshot_of_indexes())

    # ------------------------------------------------------------ change log
    @property
    def last_seq(self) -> int:
        """Highest change sequence number applied (or included by a rebuild or snapshot)."""
        with self._lock:
            return self._last_seq

    @last_seq.setter
    def last_seq(self, seq: int) -> None:
        """Assigning declares the content complete up to seq (same as `mark_seq`); never lowers."""
        self.mark_seq(seq)

    def mark_seq(self, seq: int) -> None:
        """Record that the current content includes every change up to seq (after `replace`)."""
        with self._lock:
            self._floor = max(self._floor, seq)
            self._applied = {s for s in self._applied if s > self._floor}
            self._last_seq = max(self._last_seq, seq)

    def apply(self, changes: Sequence[Change]) -> None:
        """Apply changes in sequence order, skipping those already applied."""
        with self._lock:
            fresh = sorted(
                (c for c in changes if c.seq > self._floor and c.seq not in self._applied),
                key=lambda c: c.seq,
            )
            for run_collection, run in _runs(fresh):
                self._apply_run(run_collection, run)
            for change in fresh:
                self._applied.add(change.seq)
                self._last_seq = max(self._last_seq, change.seq)
            if len(self._applied) > _SEQ_WINDOW:
                self.mark_seq(self._last_seq - _SEQ_WINDOW // 2)

    # -------------------------------------------------------------- snapshots
    def save_snapshot(
        self,
        directory: Path | None = None,
        *,
        tag: str = "",
        history: Callable[[int], str] | None = None,
    ) -> Path:
        """Write every collection with the seq it includes; `tag` guards against loading a snapshot
        made for another database or model (e.g. the model id plus the database URL's hash), and
        `history(seq)` digests the change log up to seq (checked again by `load_snapshot`)."""
        target = self._snapshot_path(directory)
        # Changes must not slip in between copying the indexes and reading last_seq.
        with self._lock:
            seq = self._last_seq
            indexes = dict(self._indexes)
            states = {cid: index.export_state() for cid, index in indexes.items()}
        digest = history(seq) if history is not None else ""
        return snapshots.write(
            target,
            snapshots.Snapshot(last_seq=seq, tag=tag, states=states, history=digest),
            dim=self.dim,
        )

    def load_snapshot(
        self,
        directory: Path | None = None,
        *,
        tag: str = "",
        accept: Callable[[int, str], bool] | None = None,
    ) -> bool:
        """Replace all content with the snapshot; False (content untouched) when it is missing,
        made for another tag, corrupt, or `accept(last_seq, history)` refuses it (a snapshot of
        another history). Afterwards apply changes with seq > last_seq."""
        try:
            snap = snapshots.read(self._snapshot_path(directory), dim=self.dim, tag=tag)
        except snapshots.SnapshotError:
            return False
        if accept is not None and not accept(snap.last_seq, snap.history):
            return False
        loaded = {
            cid: CollectionIndex.from_state(
                self.dim,
                state,
                exact_max=self.exact_max,
                ann_config=self.ann_config,
                background=self._background,
            )
            for cid, state in snap.states.items()
        }
        with self._lock:
            old = list(self._indexes.values())
            self._indexes = loaded
            self._floor = snap.last_seq
            self._applied = set()
            self._last_seq = snap.last_seq
        for index in old:
            index.cancel_rebuild()
        return True

    def discard_snapshot(self, directory: Path | None = None) -> None:
        snapshots.discard(self._snapshot_path(directory))

    # -------------------------------------------------------------- internals
    def _new_index(self) -> CollectionIndex:
        return CollectionIndex(
            self.dim,
            exact_max=self.exact_max,
            ann_config=self.ann_config,
            background=self._background,
        )

    def _snapshot_of_indexes(self) -> list[CollectionIndex]:
        with self._lock:
            return list(self._indexes.values())

    def _snapshot_path(self, directory: Path | None) -> Path:
        path = directory or self.snapshot_dir
        if path is None:
            raise ValueError("no snapshot directory given or configured")
        return path

    def _apply_run(self, collection_id: str, run: list[Change]) -> None:
        """Apply consecutive changes of one collection and one op as a single batch."""
        if run[0].op == "add":
            ids = np.array([c.face_id for c in run], dtype=np.int64)
            vectors = np.stack([np.asarray(c.vector, dtype=np.float32) for c in run])
            self.get(collection_id).add(ids, vectors)
            return
        index = self._indexes.get(collection_id)
        if index is not None:
            index.remove(np.array([c.face_id for c in run], dtype=np.int64))


def _runs(changes: Iterable[Change]) -> Iterable[tuple[str, list[Change]]]:
    """Split seq-ordered changes into maximal runs with the same collection and op."""
    run: list[Change] = []
    for change in changes:
        if run and (change.collection_id != run[0].collection_id or change.op != run[0].op):
            yield run[0].collection_id, run
            run = []
        run.append(change)
    if run:
        yield run[0].collection_id, run

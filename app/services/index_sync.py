"""Keeps the in-memory FAISS registry equal to SQL: full rebuild at start-up, then catch-up from the
`face_changes` log before every search and after every write.

The index is only ever fed from what SQL has committed (never from a request's in-memory values), so
a crash or error between commit and index update leaves nothing in the index the database lacks,
and the next catch-up brings in whatever was committed.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.engine import release_connection
from app.index.changes import Change
from app.index.registry import IndexRegistry

log = logging.getLogger(__name__)


class IndexSync:
    """The `faiss` backend of `FaceIndex`: the registry plus the lock that makes "read changes
    after last_seq, apply" atomic."""

    backend = "faiss"

    def __init__(self, registry: IndexRegistry) -> None:
        self.registry = registry
        self._lock = threading.Lock()
        self.ready = False
        # Templates this process cannot read (face id → why): skipped, logged, and reported by
        # /readyz, so one row sealed with a key this replica lacks fails neither start-up nor
        # searches and writes in other collections (issue 11).
        self.unreadable: dict[int, str] = {}

    def rebuild(self, session: Session) -> int:
        """Load every template in one query and replace every collection's index; returns the
        number of templates. Runs in one transaction so `last_seq` matches the rows read."""
        with self._lock:
            repo.begin_bulk_snapshot_read(session)
            # Read the seq first inside the snapshot; both reads see the same committed state.
            last_seq = repo.last_change_seq(session)
            grouped, collection_ids, unreadable = repo.all_templates(session)
            release_connection(session)
            self.unreadable = {}
            for row in unreadable:
                self._skip(row.face_id, row.collection_id, row.reason)
            total = 0
            for cid in collection_ids:
                if cid in grouped:
                    ids, vectors = grouped[cid]
                    self.registry.replace(str(cid), ids, vectors)
                    total += len(ids)
                else:
                    self.registry.get(str(cid))
            self.registry.mark_seq(last_seq)
            self.ready = True
            return total

    def start(self, session: Session, *, snapshot_dir: Path | None, model_id: str) -> str:
        """Load the snapshot and replay later changes when one fits this database, its history and
        the model, else rebuild from SQL. Returns how the index was built ("snapshot" or
        "rebuild")."""
        if snapshot_dir is not None:
            tag = self._tag(session, model_id)

            def same_history(seq: int, history: str) -> bool:
                # A snapshot ahead of the change log belongs to a database that was rolled back;
                # one whose last changes differ from SQL's belongs to another history (a restore
                # followed by new writes reuses its seqs and face ids for other people).
                return seq <= repo.last_change_seq(session) and history == (
                    repo.change_log_digest(session, seq)
                )

            with self._lock:
                loaded = self.registry.load_snapshot(snapshot_dir, tag=tag, accept=same_history)
            release_connection(session)
            if loaded:
                self.catch_up(session)
                self.ready = True
                return "snapshot"
            # The snapshot does not fit; it must not load at a later start either, when the log
            # may have grown past its seq with other faces under the same ids.
            self.registry.discard_snapshot(snapshot_dir)
        self.rebuild(session)
        return "rebuild"

    def save_snapshot(self, session: Session, *, snapshot_dir: Path, model_id: str) -> None:
        tag = self._tag(session, model_id)
        with self._lock:
            self.registry.save_snapshot(
                snapshot_dir,
                tag=tag,
                history=lambda seq: repo.change_log_digest(session, seq),
            )
        release_connection(session)

    @staticmethod
    def _tag(session: Session, model_id: str) -> str:
        # Face ids restart in a recreated database: the database's own random id is in the tag.
        return f"{model_id}|{repo.database_instance_id(session)}"

    def catch_up(self, session: Session) -> int:
        """Apply each committed change with seq > last_seq (one indexed query); return the count."""
        with self._lock:
            logged = repo.changes_after(session, self.registry.last_seq)
            if not logged:
                return 0
            for c in logged:
                if c.unreadable is not None:
                    self._skip(c.face_id, c.collection_id, c.unreadable)
                elif c.op == "delete":
                    self.unreadable.pop(c.face_id, None)
            changes = [
                Change(
                    seq=c.seq,
                    collection_id=str(c.collection_id),
                    face_id=c.face_id,
                    op="delete" if c.op == "delete" else "add",
                    vector=c.template,
                )
                for c in logged
                # An add whose face row is already gone is followed by its delete, and an
                # unreadable one is reported instead: skip both.
                if c.op == "delete" or c.template is not None
            ]
            if changes:
                self.registry.apply(changes)
            # Writers hold a lock while logging, so seq order is commit order: everything up to
            # the last seq read is now applied (or was an add whose face is already gone).
            self.registry.mark_seq(logged[-1].seq)
            return len(logged)

    def add_collection(self, session: Session, collection_id: str) -> None:
        self.registry.get(collection_id)

    def _skip(self, face_id: int, collection_id: object, reason: str) -> None:
        if face_id not in self.unreadable:
            log.error(
                "template of face %d in collection %s cannot be read (%s): it is left out of "
                "the index until this process can read it (configure its key and restart)",
                face_id,
                collection_id,
                reason,
            )
        self.unreadable[face_id] = reason

    def drop(self, collection_id: str) -> None:
        with self._lock:
            self.registry.drop(collection_id)

    def search(
        self, session: Session, collection_id: str, queries: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Over what has been caught up so far (callers `catch_up` first). A collection the
        index does not hold (deleted while this search was under way) has nothing to find; it
        is not re-created, which left a ghost index in memory and in /metrics (issue 11)."""
        index = self.registry.find(collection_id)
        if index is None:
            empty = np.full((len(queries), k), -1, dtype=np.int64)
            return np.full((len(queries), k), -np.inf, dtype=np.float32), empty
        return index.search(queries, k)

    def face_counts(self) -> dict[str, int]:
        return {cid: len(index) for cid, index in self.registry.items()}

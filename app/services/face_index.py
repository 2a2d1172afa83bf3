"""What the use cases need from a face index, whichever backend serves it.

Two backends (`FACEMATCH_INDEX_BACKEND`):
- `faiss` (default, `IndexSync`): every process holds every collection in memory, rebuilt from SQL
  at start-up (or a snapshot) and fed from the `face_changes` log;
- `pgvector` (`PgvectorIndex`): PostgreSQL searches its own HNSW graphs; processes hold nothing,
  so they are ready at once whatever the gallery size, and there is no log to catch up.
Services only call the methods below, so they do not know which one runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
from sqlalchemy.orm import Session


class FaceIndex(Protocol):
    """Face-level search over each collection's templates; SQL stays the source of truth."""

    backend: str
    ready: bool
    unreadable: dict[int, str]
    """Face id → why its template cannot be read here; /readyz reports them (issue 11)."""

    def start(self, session: Session, *, snapshot_dir: Path | None, model_id: str) -> str:
        """Make the index serve what SQL holds; returns how ("rebuild", "snapshot", "pgvector")."""
        ...

    def catch_up(self, session: Session) -> int:
        """Take in writes other processes committed; returns how many changes were applied."""
        ...

    def add_collection(self, session: Session, collection_id: str) -> None:
        """A collection was created (committed)."""
        ...

    def drop(self, collection_id: str) -> None:
        """A collection was deleted (committed)."""
        ...

    def search(
        self, session: Session, collection_id: str, queries: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(m, k) exact cosine similarities, best first, and (m, k) face ids; -1 / -inf where
        the collection holds fewer than k faces."""
        ...

    def face_counts(self) -> dict[str, int]:
        """Templates per collection id (metrics)."""
        ...

    def save_snapshot(self, session: Session, *, snapshot_dir: Path, model_id: str) -> None:
        """Persist what makes the next start fast (a no-op where nothing is held)."""
        ...

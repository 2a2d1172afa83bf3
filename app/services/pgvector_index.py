"""The `pgvector` index backend: PostgreSQL searches, the process holds no index.

Every face row gets a `face_vectors` row in the same transaction (`app/db/vectors.py`), so a
committed write is searchable by every replica at once: there is no change-log catch-up and no
warm-up, and a fresh replica is ready as soon as it has checked the schema (bench/pgvector.py
measures it). The HNSW graph only chooses the k candidates; each one's similarity is the inner
product of the stored float32 vectors, and they are ordered by it, so reported similarities are
exact, as with FAISS. (The graph holds full vectors, so unlike FAISS's SQ8 graph it needs no longer
short list to re-rank: its own order among the faces it visited is already exact.)
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.db import vectors

log = logging.getLogger(__name__)

# pgvector's HNSW scan returns at most hnsw.ef_search rows, and refuses values above 1000.
_EF_SEARCH_MAX = 1000
# maintenance_work_mem for the start-up copy-in; each graph build then asks for what its graph
# needs (vectors.build_memory: ~1.3 GB per million 128-d templates at m=16).
_BUILD_MEMORY = "64MB"


class PgvectorIndex:
    """`FaceIndex` on PostgreSQL + pgvector. Thread-safe: it holds no mutable state of its own."""

    backend = "pgvector"

    def __init__(
        self, sessions: sessionmaker[Session], *, dim: int, params: vectors.HnswParams
    ) -> None:
        self._sessions = sessions
        self.dim = dim
        self.params = params
        self.ready = False
        self.unreadable: dict[int, str] = {}  # PostgreSQL reads its own vectors: none here
        # Every connection searches with this breadth, set when it connects (no round trip).
        self._default_ef = min(params.ef_search, _EF_SEARCH_MAX)
        engine = sessions.kw.get("bind")
        if isinstance(engine, Engine):
            vectors.search_defaults(engine, self._default_ef)

    def start(self, session: Session, *, snapshot_dir: Path | None, model_id: str) -> str:
        """Check the extension and table, give every collection its partition, copy in any face
        without a vector row (the first start after FAISS served), then build the HNSW indexes
        that are missing: after the bulk copy, which is much faster than growing them row by row.
        Replicas take turns (DDL lock); a replica that finds everything in place is ready at once.
        """
        del snapshot_dir, model_id  # nothing is held, so nothing to snapshot or tag
        if session.get_bind().dialect.name != "postgresql":
            raise vectors.PgvectorUnavailable(
                "FACEMATCH_INDEX_BACKEND=pgvector needs a PostgreSQL database "
                "(FACEMATCH_DATABASE_URL=postgresql+psycopg://...)"
            )
        # A first backfill and build may be long; the graph builds fastest when it fits in memory.
        vectors.allow_long_build(session, maintenance_work_mem=_BUILD_MEMORY)
        connection = session.connection()
        vectors.ensure_extension(connection)
        vectors.lock_ddl(connection)
        vectors.ensure_table(connection, self.dim)
        have = set(vectors.existing_partitions(connection))
        for cid in vectors.collection_ids(session):
            if vectors.partition_name(cid) not in have:
                vectors.create_partition_table(connection, cid)
        copied = vectors.backfill(session)
        for name in vectors.existing_partitions(connection, without_index=True):
            unindexed = name.removeprefix(f"{vectors.TABLE}_")
            rows = vectors.partition_rows(connection, unindexed)
            memory = vectors.build_memory(rows, self.dim, self.params.m)
            vectors.set_build_memory(connection, memory)
            log.info("pgvector: building the HNSW graph of %d templates (%s)", rows, memory)
            vectors.create_partition_index(connection, unindexed, self.params)
        session.commit()
        if copied:
            log.info("pgvector: copied %d templates into face_vectors and indexed them", copied)
        self.ready = True
        return "pgvector"

    def catch_up(self, session: Session) -> int:
        return 0  # writes are in the database the moment they commit

    def add_collection(self, session: Session, collection_id: str) -> None:
        self._create_partition(session, uuid.UUID(collection_id))
        session.commit()

    def drop(self, collection_id: str) -> None:
        # The rows went with their faces (ON DELETE CASCADE); the empty table goes now.
        with self._sessions() as session:
            vectors.drop_partition(session.connection(), collection_id)
            session.commit()

    def search(
        self, session: Session, collection_id: str, queries: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self.dim)
        m = len(queries)
        sims = np.full((m, k), -np.inf, dtype=np.float32)
        labels = np.full((m, k), -1, dtype=np.int64)
        # k rows, not a short list to re-rank: the graph's distances are exact (vectors.nearest).
        count = min(k, _EF_SEARCH_MAX)
        # The scan returns at most ef_search rows: raise it for this transaction when k needs it.
        ef = count if count > self._default_ef else None
        for row, query in enumerate(queries):
            found = vectors.nearest(session, collection_id, query, count=count, ef_search=ef)
            if found is None:
                break  # no partition: a collection no pgvector replica has enrolled into
            ids, scores = found
            order = np.argsort(-scores, kind="stable")[:k]  # by the exact inner product
            sims[row, : len(order)] = scores[order]
            labels[row, : len(order)] = ids[order]
        return sims, labels

    def face_counts(self) -> dict[str, int]:
        with self._sessions() as session:
            return vectors.face_counts(session)

    def save_snapshot(self, session: Session, *, snapshot_dir: Path, model_id: str) -> None:
        return None  # nothing is held in memory

    # ------------------------------------------------------------------ internals
    def _create_partition(self, session: Session, collection_id: uuid.UUID) -> None:
        vectors.create_partition(session.connection(), collection_id, self.params)

"""Templates as pgvector `vector` rows, one partition per collection with its own HNSW index.

Only used with `FACEMATCH_INDEX_BACKEND=pgvector` (PostgreSQL with the pgvector extension). The
`faces` table stays the source of truth; `face_vectors` holds the same templates in a form the
database can search:

    face_vectors (collection_id uuid, face_id bigint -> faces.id ON DELETE CASCADE,
                  embedding vector(d))
        PARTITION BY LIST (collection_id)
    face_vectors_<collection hex>: one partition per collection, HNSW (cosine) on its embeddings

A partition per collection rather than one table with partial indexes: creating a collection is then
an instant `CREATE TABLE`, not a scan of every other collection's rows, a search touches only its
own collection's graph, and deleting a collection drops its table. These tables are index storage
(like the FAISS snapshots), made at run time by the backend, so the migration only installs the
extension (alembic/versions/..._0004_pgvector_extension.py).
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from app.db.models import Collection, Face
from app.db.template_codec import decode_template, session_keyring

TABLE = "face_vectors"
# Serialises the backend's DDL (table, partitions, backfill) across replicas starting together.
_DDL_LOCK = 0x50475643  # "PGVC"
# Session.info key: sessions of a pgvector-backed app carry its HnswParams there, and write a
# vector row beside every face.
SESSION_INFO_KEY = "pgvector"


@dataclass(frozen=True, slots=True)
class HnswParams:
    """pgvector HNSW parameters; defaults from bench/pgvector.py (see bench/README.md)."""

    m: int = 16
    ef_construction: int = 64
    # At 1M templates (bench/README.md): recall@1 0.943 at 100, 0.983 at 200, 0.990 at 400, for
    # 4.8 / 10.0 / 16.7 ms of server CPU a search. 200: recall first, still a fraction of the
    # ~55 ms of inference an identify costs. (100k: 0.9967 from 100 up.)
    ef_search: int = 200


class PgvectorUnavailable(RuntimeError):
    """The database cannot serve the pgvector backend; the message says what to do."""


def partition_name(collection_id: uuid.UUID | str) -> str:
    return f"{TABLE}_{uuid.UUID(str(collection_id)).hex}"


@functools.cache
def _literal_format(dim: int) -> str:
    return "[" + ",".join(["%.9g"] * dim) + "]"


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form. Nine significant digits round-trip every float32, so the database
    holds the exact values. One %-format of the whole vector: 0.13 ms a template against 0.40 ms
    for a `repr` per element, which was most of a 1M copy-in's CPU and of a search's client CPU."""
    values = np.asarray(vector, dtype=np.float32).ravel()
    return _literal_format(len(values)) % tuple(values.tolist())


# --- schema -----------------------------------------------------------------------------------


def extension_status(connection: Connection) -> tuple[bool, bool]:
    """(installed in this database, available on the server)."""
    installed = connection.scalar(
        sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'vector'")
    )
    available = connection.scalar(
        sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
    )
    return bool(installed), bool(available)


def ensure_extension(connection: Connection) -> None:
    """Install the extension when the server has it and this role may; else a clear error."""
    installed, available = extension_status(connection)
    if installed:
        return
    server = connection.scalar(sa.text("SHOW server_version"))
    if not available:
        raise PgvectorUnavailable(
            f"FACEMATCH_INDEX_BACKEND=pgvector needs the pgvector extension, and this PostgreSQL "
            f"server ({server}) does not have it installed (pg_available_extensions lists no "
            f"'vector'). Install pgvector on the server (e.g. the pgvector/pgvector image, or the "
            f"postgresql-<version>-pgvector package) or use FACEMATCH_INDEX_BACKEND=faiss."
        )
    try:
        with connection.begin_nested():
            connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
    except sa.exc.DBAPIError as exc:
        raise PgvectorUnavailable(
            "the pgvector extension is available on the server but this database role may not "
            "create it; run `CREATE EXTENSION vector;` once as a superuser (or the database "
            f"owner) in this database, then start again ({exc.orig})"
        ) from exc


def ensure_table(connection: Connection, dim: int) -> None:
    """The partitioned parent table; checks an existing one has the model's dimension."""
    exists = connection.scalar(sa.text("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE})
    if not exists:
        connection.execute(
            sa.text(
                f"CREATE TABLE {TABLE} ("
                " collection_id uuid NOT NULL,"
                " face_id bigint NOT NULL REFERENCES faces (id) ON DELETE CASCADE,"
                f" embedding vector({int(dim)}) NOT NULL,"
                " PRIMARY KEY (collection_id, face_id)"
                ") PARTITION BY LIST (collection_id)"
            )
        )
        return
    stored = connection.scalar(
        sa.text(
            "SELECT atttypmod FROM pg_attribute "
            "WHERE attrelid = CAST(:t AS regclass) AND attname = 'embedding'"
        ),
        {"t": TABLE},
    )
    if stored != dim:
        raise PgvectorUnavailable(
            f"{TABLE} holds {stored}-dimensional vectors but the model makes {dim}; "
            f"templates of another model cannot share it"
        )


def existing_partitions(connection: Connection, *, without_index: bool = False) -> list[str]:
    """Table names of the collections' partitions; `without_index`: only those whose HNSW index
    is missing (a start-up that stopped between the bulk copy and the build)."""
    condition = " AND to_regclass(c.relname || '_hnsw') IS NULL" if without_index else ""
    rows = connection.execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:t AS regclass)" + condition
        ),
        {"t": TABLE},
    )
    return [r[0] for r in rows]


def has_partition(connection: Connection | Session, collection_id: uuid.UUID | str) -> bool:
    name = partition_name(collection_id)
    return bool(connection.scalar(sa.text("SELECT to_regclass(:t) IS NOT NULL"), {"t": name}))


def create_partition(
    connection: Connection, collection_id: uuid.UUID | str, params: HnswParams
) -> None:
    """The collection's table and its HNSW index (cosine); no-op where they exist."""
    create_partition_table(connection, collection_id)
    create_partition_index(connection, collection_id, params)


def create_partition_table(connection: Connection, collection_id: uuid.UUID | str) -> None:
    name = partition_name(collection_id)
    literal = str(uuid.UUID(str(collection_id)))  # validated: safe to inline
    connection.execute(
        sa.text(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {TABLE} FOR VALUES IN ('{literal}')"
        )
    )


def create_partition_index(
    connection: Connection, collection_id: uuid.UUID | str, params: HnswParams
) -> None:
    """Built after a bulk load it is several times faster than grown row by row (pgvector docs)."""
    name = partition_name(collection_id)
    connection.execute(
        sa.text(
            f"CREATE INDEX IF NOT EXISTS {name}_hnsw ON {name} USING hnsw "
            f"(embedding vector_cosine_ops) WITH (m = {int(params.m)}, ef_construction = "
            f"{int(params.ef_construction)})"
        )
    )


def drop_partition(connection: Connection, collection_id: uuid.UUID | str) -> None:
    connection.execute(sa.text(f"DROP TABLE IF EXISTS {partition_name(collection_id)}"))


def allow_long_build(session: Session, *, maintenance_work_mem: str) -> None:
    """For this transaction only: no statement timeout, and `maintenance_work_mem` for index
    builds (e.g. '256MB')."""
    session.execute(sa.text("SET LOCAL statement_timeout = 0"))
    set_build_memory(session, maintenance_work_mem)


def set_build_memory(connection: Connection | Session, maintenance_work_mem: str) -> None:
    """`maintenance_work_mem` for the rest of this transaction."""
    if not re.fullmatch(r"\d+[kMG]B", maintenance_work_mem):
        raise ValueError(f"not a PostgreSQL memory size: {maintenance_work_mem!r}")
    connection.execute(sa.text(f"SET LOCAL maintenance_work_mem = '{maintenance_work_mem}'"))


# Largest maintenance_work_mem a start-up build asks for. A parallel build reserves all of it as
# one shared-memory segment, so past this a very large collection's build spills to disk (slow,
# but it completes) rather than failing where the server lacks the memory.
BUILD_MEMORY_MAX_MB = 8 * 1024


def build_memory(rows: int, dim: int, m: int) -> str:
    """maintenance_work_mem that holds a partition's whole HNSW graph while it is built.

    pgvector builds in memory until the graph outgrows maintenance_work_mem, then continues on
    disk "significantly" slower. Per row the graph holds the vector (4·dim + 8 B), 2·m level-0
    neighbour slots of 16 B, and about 200 B of bookkeeping: 1,232 B at dim 128, m 16, against
    1,226 B measured on pgvector 0.8.6 (builds with 8 MB and 16 MB, serial and parallel, reported
    spilling after 6,835 and 13,686 rows). So 1M templates need ~1.3 GB; the fixed 1 GB used
    before spills at ~875k. (In the 1M bench build, with the index inside a 3 GB shared_buffers,
    the rate past that point did not drop: 45-47k rows/min before and after. The spill costs where
    the graph's pages must be read back from disk.) +10 % and 64 MB of headroom, capped at
    BUILD_MEMORY_MAX_MB."""
    per_row = 4 * dim + 8 + 32 * m + 200
    megabytes = -(-rows * per_row * 11 // 10 // 2**20) + 64
    return f"{min(megabytes, BUILD_MEMORY_MAX_MB)}MB"


def partition_rows(connection: Connection, collection_id: uuid.UUID | str) -> int:
    return int(
        connection.scalar(sa.text(f"SELECT count(*) FROM {partition_name(collection_id)}")) or 0
    )


def lock_ddl(connection: Connection) -> None:
    """Transaction-scoped: replicas starting together take turns creating tables and backfilling."""
    connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_DDL_LOCK)))


# --- rows -------------------------------------------------------------------------------------


def insert_vectors(
    connection: Connection | Session,
    rows: Sequence[tuple[uuid.UUID, int, np.ndarray]],
) -> None:
    """(collection_id, face_id, unit float32 template) rows, in the caller's transaction."""
    if not rows:
        return
    connection.execute(
        sa.text(
            f"INSERT INTO {TABLE} (collection_id, face_id, embedding) "
            "VALUES (:cid, :fid, CAST(:vec AS vector)) ON CONFLICT DO NOTHING"
        ),
        [{"cid": cid, "fid": int(fid), "vec": vector_literal(vec)} for cid, fid, vec in rows],
    )


def write_face_vectors(session: Session, rows: Sequence[tuple[uuid.UUID, int, np.ndarray]]) -> None:
    """Beside new face rows, in their transaction, when the session belongs to a pgvector-backed
    app. A collection without a partition (created while FAISS served) gets one first."""
    params = session.info.get(SESSION_INFO_KEY)
    if params is None or not rows:
        return
    for cid in {cid for cid, _, _ in rows}:
        if not has_partition(session, cid):
            create_partition(session.connection(), cid, params)
    insert_vectors(session, rows)


def backfill(session: Session, *, batch: int = 5_000) -> int:
    """Copy faces that have no vector row yet (written by a FAISS-backed replica, or before the
    switch to pgvector) into face_vectors; returns how many. Cheap when there are none: two
    index-only counts."""
    faces = session.scalar(sa.select(sa.func.count()).select_from(Face)) or 0
    have = session.scalar(sa.text(f"SELECT count(*) FROM {TABLE}")) or 0
    if faces == have:
        return 0
    keyring = session_keyring(session)
    copied = 0
    after = 0
    while True:
        # Keyset pagination (id > the last one seen): each batch starts where the previous one
        # stopped instead of re-probing every face already copied, which made a 1M backfill
        # quadratic in the number of batches.
        missing = session.execute(
            sa.text(
                "SELECT f.id, f.collection_id, f.template, f.model_id FROM faces f "
                f"WHERE f.id > :after AND NOT EXISTS (SELECT 1 FROM {TABLE} v "
                "WHERE v.face_id = f.id AND v.collection_id = f.collection_id) "
                "ORDER BY f.id LIMIT :n"
            ),
            {"after": after, "n": batch},
        ).all()
        if not missing:
            return copied
        after = int(missing[-1][0])
        insert_vectors(
            session,
            [
                (uuid.UUID(str(cid)), fid, decode_template(blob, model_id=mid, keyring=keyring))
                for fid, cid, blob, mid in missing
            ],
        )
        copied += len(missing)


def collection_ids(session: Session) -> list[uuid.UUID]:
    return list(session.scalars(sa.select(Collection.id)))


# --- search -----------------------------------------------------------------------------------


def search_defaults(engine: Engine, ef_search: int) -> None:
    """Every new connection of `engine` searches with this hnsw.ef_search, so a search needs no
    extra round trip to set it (each one costs a scheduling wake-up of the server process, which
    dominates on a loaded machine: bench/README.md). A placeholder until pgvector loads, as any
    extension setting."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET hnsw.ef_search = {int(ef_search)}")
        dbapi_connection.commit()

    sa.event.listen(engine, "connect", on_connect)


def nearest(
    session: Session,
    collection_id: uuid.UUID | str,
    query: np.ndarray,
    *,
    count: int,
    ef_search: int | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """(face ids, inner products) of the `count` nearest templates by the HNSW graph, or None
    when the collection has no partition (rolls the session back: the failed query ended its
    transaction). `ef_search`: for this transaction, when the connection's default is too small.

    The graph only chooses the candidates; each candidate's similarity is the inner product
    of the stored float32 vectors computed by the database (`<#>` is its negative), not a
    distance the graph approximated, so the caller can re-rank them exactly. pgvector's graph
    keeps the full vectors, so its order is already exact among the candidates it visited (the
    recall lost is candidates not visited, which ef_search sets): asking for more rows than the
    caller keeps, as FAISS's SQ8 short list needs, would return the same top rows (checked on
    100 queries at 100k: identical top 10 with LIMIT 64 and LIMIT 10).
    """
    if ef_search is not None:
        session.execute(
            sa.text("SELECT set_config('hnsw.ef_search', :ef, true)"), {"ef": str(int(ef_search))}
        )
    try:
        rows = session.execute(
            sa.text(
                f"SELECT face_id, -(embedding <#> CAST(:q AS vector)) AS sim "
                f"FROM {partition_name(collection_id)} "
                f"ORDER BY embedding <=> CAST(:q AS vector) LIMIT {int(count)}"
            ),
            {"q": vector_literal(query)},
        ).all()
    except sa.exc.ProgrammingError as exc:
        if not isinstance(exc.orig, psycopg.errors.UndefinedTable):
            raise
        session.rollback()
        return None
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    sims = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    return ids, sims


def face_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        sa.text(f"SELECT collection_id, count(*) FROM {TABLE} GROUP BY collection_id")
    ).all()
    return {str(cid): int(n) for cid, n in rows}

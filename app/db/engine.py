"""Database engine and session factory with short timeouts, so an outage fails fast, not hangs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.db import vectors
from app.db.template_codec import SESSION_INFO_KEY, TemplateKeyring


def create_db_engine(
    url: str,
    *,
    connect_timeout_s: int = 3,
    statement_timeout_ms: int = 15_000,
    socket_timeout_s: int = 5,
) -> Engine:
    """An engine for SQLite or PostgreSQL; SQLite enforces foreign keys (cascades) and uses WAL."""
    backend = sa.make_url(url).get_backend_name()
    connect_args: dict[str, Any] = {}
    # A request waits at most this long for a pooled connection, then answers 503
    # database_unavailable (app/api/errors.py) instead of piling up (SQLAlchemy's default: 30 s).
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if backend == "sqlite":
        database = sa.make_url(url).database
        if database and database != ":memory:":
            _private_file(Path(database))
            kwargs["pool_timeout"] = connect_timeout_s
        connect_args = {"check_same_thread": False, "timeout": 30}
    elif backend == "postgresql":
        connect_args = {
            "connect_timeout": connect_timeout_s,
            "options": f"-c statement_timeout={statement_timeout_ms}",
            # A partitioned server sends nothing, not even an error: the statement timeout never
            # reaches us. TCP_USER_TIMEOUT drops a connection whose sent data stays unacknowledged
            # and keepalive probes one that waits for an answer that never comes, each after
            # about socket_timeout_s (libpq parameters, passed through by psycopg).
            "keepalives": 1,
            "keepalives_idle": max(1, socket_timeout_s // 2),
            "keepalives_interval": 1,
            "keepalives_count": max(1, socket_timeout_s - socket_timeout_s // 2),
            "tcp_user_timeout": socket_timeout_s * 1000,
        }
        kwargs["pool_timeout"] = connect_timeout_s
    engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _private_file(path: Path) -> None:
    """Create the SQLite file owner-only (0600) before SQLite does (it would use the umask,
    usually 0644): it holds templates. SQLite gives its -wal and -shm files the same mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets searches read while an enroll writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(
    engine: Engine,
    *,
    keyring: TemplateKeyring | None = None,
    pgvector: vectors.HnswParams | None = None,
) -> sessionmaker[Session]:
    """Sessions carry the template keyring (encryption at rest) in `Session.info`, and with the
    pgvector backend its HNSW parameters (`app.db.vectors`: face writes add vector rows)."""
    info: dict[str, object] = {SESSION_INFO_KEY: keyring}
    if pgvector is not None:
        info[vectors.SESSION_INFO_KEY] = pgvector
    return sessionmaker(engine, expire_on_commit=False, info=info)


def release_connection(session: Session) -> None:
    """End the session's transaction so its pooled connection goes back to the pool.

    Services call this after reading, before work that holds no database state: inference (tens of
    milliseconds per photo, up to seconds for an enroll batch), index updates, file I/O. Until a
    session's transaction ends it keeps its connection checked out (and on PostgreSQL a snapshot
    open), so without this a few slow requests exhaust the pool and every other request waits on
    `pool_timeout`. Nothing has been written at these points, so rolling back loses nothing; the
    session stays usable and begins a new transaction on its next statement. Sessions are made
    with `expire_on_commit=False` and a rollback only expires what the transaction loaded, which
    the next access re-reads.
    """
    session.rollback()

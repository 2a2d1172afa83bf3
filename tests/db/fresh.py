"""Fresh, empty databases for tests: a SQLite file, or a PostgreSQL database of its own.

Several engineers and CI jobs share one PostgreSQL server, so each test session creates
`facematch_test_<random>` and drops it at the end.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa


@contextmanager
def fresh_database(kind: str, *, tmp_dir: Path, postgres_url: str | None = None) -> Iterator[str]:
    """Yield the URL of an empty database of `kind` ("sqlite", or "postgres" / "pgvector" on the
    server at `postgres_url`); drop it after."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_dir / f'facematch-{secrets.token_hex(4)}.db'}"
        return
    assert postgres_url is not None
    name = f"facematch_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def server_url(request: pytest.FixtureRequest, kind: str) -> str | None:
    """The server URL a database of `kind` needs (None for SQLite), from its session fixture."""
    fixture = {"postgres": "postgres_url", "pgvector": "pgvector_url"}.get(kind)
    return request.getfixturevalue(fixture) if fixture else None

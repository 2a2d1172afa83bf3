from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.db.fresh import fresh_database, server_url


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("pgvector", marks=pytest.mark.pgvector),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    pg = server_url(request, request.param)
    with fresh_database(request.param, tmp_dir=tmp_path, postgres_url=pg) as url:
        yield url

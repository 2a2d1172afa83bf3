from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.db.fresh import fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    pg = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with fresh_database(request.param, tmp_dir=tmp_path, postgres_url=pg) as url:
        yield url

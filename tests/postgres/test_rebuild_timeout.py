"""The start-up rebuild reads every template in one statement; on a big gallery that read takes
longer than the per-request statement timeout, which must not apply to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.db import repositories as repo
from app.db.engine import create_db_engine, session_factory
from app.db.migrate import upgrade_to_head
from app.index.registry import IndexRegistry
from app.services.index_sync import IndexSync
from tests.db.fresh import fresh_database

pytestmark = pytest.mark.postgres

TIMEOUT_MS = 100


@pytest.fixture
def engine(postgres_url: str, tmp_path: Path) -> Iterator[Engine]:
    with fresh_database("postgres", tmp_dir=tmp_path, postgres_url=postgres_url) as url:
        upgrade_to_head(url)
        engine = create_db_engine(url, statement_timeout_ms=TIMEOUT_MS)
        yield engine
        engine.dispose()


def test_requests_keep_their_statement_timeout(engine: Engine) -> None:
    with session_factory(engine)() as session, pytest.raises(sa.exc.OperationalError):
        session.execute(sa.text("SELECT pg_sleep(0.3)"))


def test_rebuild_is_not_cut_off_by_the_request_timeout(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_read = repo.all_templates

    def slow_read(session):  # stands in for reading a million templates
        session.execute(sa.text("SELECT pg_sleep(0.3)"))
        return real_read(session)

    monkeypatch.setattr(repo, "all_templates", slow_read)
    sync = IndexSync(IndexRegistry(128))
    with session_factory(engine)() as session:
        assert sync.rebuild(session) == 0
    assert sync.ready

"""Two real uvicorn processes serving `app.main:app` on one PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.db.fresh import fresh_database
from tests.helpers import ADMIN, ADMIN_KEY
from tests.live_server import LiveServer

_READY_TIMEOUT_S = 240


def _worker(name: str, database_url: str, models_dir: Path, data_dir: Path) -> LiveServer:
    return LiveServer(
        env={
            "FACEMATCH_DATABASE_URL": database_url,
            "FACEMATCH_DATA_DIR": str(data_dir),
            "FACEMATCH_MODEL_DIR": str(models_dir),
            "FACEMATCH_ADMIN_API_KEY": ADMIN_KEY,
            "FACEMATCH_INFERENCE_WORKERS": "1",
            "FACEMATCH_INFERENCE_THREADS": "1",
        },
        log_path=data_dir / f"{name}.log",
    )


@pytest.fixture(scope="module")
def workers(
    postgres_url: str, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    tmp = tmp_path_factory.mktemp("multiworker")
    with fresh_database("postgres", tmp_dir=tmp, postgres_url=postgres_url) as url:
        started: list[LiveServer] = []
        try:
            for name in ("a", "b"):
                data_dir = tmp / name
                data_dir.mkdir()
                worker = _worker(name, url, models_dir, data_dir)
                started.append(worker)
                # One at a time: both would otherwise run the migrations at once.
                worker.start(ready_timeout_s=_READY_TIMEOUT_S)
            clients = [httpx.Client(base_url=w.url, headers=ADMIN, timeout=120) for w in started]
            yield clients[0], clients[1]
            for client in clients:
                client.close()
        finally:
            for worker in started:
                worker.stop()

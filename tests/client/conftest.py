"""The real service, served by uvicorn in a subprocess on a free 127.0.0.1 port, for the tests that
talk to it the way users do (generated client, `facematch import`)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import LiveServer, ServedApi


@pytest.fixture(scope="session")
def served_api(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApi]:
    data_dir = tmp_path_factory.mktemp("served-data")
    api_key = secrets.token_urlsafe(24)
    server = LiveServer(
        env={
            "FACEMATCH_DATA_DIR": str(data_dir),
            "FACEMATCH_MODEL_DIR": str(models_dir),
            "FACEMATCH_ADMIN_API_KEY": api_key,
            "FACEMATCH_INFERENCE_THREADS": "1",
            "FACEMATCH_INFERENCE_WORKERS": "2",
            "FACEMATCH_DATABASE_URL": None,  # the default: SQLite under the data dir
        },
        log_path=data_dir / "uvicorn.log",
    )
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield ServedApi(server.url, api_key, server.log_path)
    finally:
        server.stop()

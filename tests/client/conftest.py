"""The real service, served by uvicorn in a subprocess on a free 127.0.0.1 port, for the tests that
talk to it the way users do (generated client, `facematch import`)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO

START_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class ServedApi:
    base_url: str
    api_key: str
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"uvicorn exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            ready = httpx.get(f"{base_url}/readyz", timeout=2)
        except httpx.TransportError:
            ready = None
        if ready is not None and ready.status_code == 200:
            return
        if ready is not None and ready.json().get("code") == "models_unavailable":
            # Models load once, at start-up: waiting longer cannot help.
            pytest.fail(f"service started without its models:\n{log.read_text()[-4000:]}")
        time.sleep(0.3)
    pytest.fail(f"service not ready after {START_TIMEOUT_S:.0f} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def served_api(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApi]:
    data_dir = tmp_path_factory.mktemp("served-data")
    log = data_dir / "uvicorn.log"
    port = _free_port()
    api_key = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "FACEMATCH_DATA_DIR": str(data_dir),
        "FACEMATCH_MODEL_DIR": str(models_dir),
        "FACEMATCH_ADMIN_API_KEY": api_key,
        "FACEMATCH_INFERENCE_THREADS": "1",
        "FACEMATCH_INFERENCE_WORKERS": "2",
    }
    env.pop("FACEMATCH_DATABASE_URL", None)  # the default: SQLite under the data dir
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, base_url, log)
        yield ServedApi(base_url, api_key, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

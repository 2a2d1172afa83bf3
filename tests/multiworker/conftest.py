"""Two real uvicorn processes serving `app.main:app` on one PostgreSQL database."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.db.fresh import fresh_database

ADMIN_KEY = "mw-admin-" + secrets.token_hex(8)
ADMIN = {"X-API-Key": ADMIN_KEY}
_READY_TIMEOUT_S = 240


class Worker:
    """One server process; `url` is its base URL."""

    def __init__(self, name: str, database_url: str, models_dir: Path, data_dir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / f"{name}.log"
        env = {
            **os.environ,
            "FACEMATCH_DATABASE_URL": database_url,
            "FACEMATCH_DATA_DIR": str(data_dir),
            "FACEMATCH_MODEL_DIR": str(models_dir),
            "FACEMATCH_ADMIN_API_KEY": ADMIN_KEY,
            "FACEMATCH_INFERENCE_WORKERS": "1",
            "FACEMATCH_INFERENCE_THREADS": "1",
        }
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"worker exited: {self._log_tail()}")
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.5)
                continue
            if response.status_code == 200:
                return
            if "models_unavailable" in response.text:
                pytest.fail(f"worker cannot load the face models: {self._log_tail()}")
            time.sleep(0.5)
        pytest.fail(f"worker not ready after {_READY_TIMEOUT_S}s: {self._log_tail()}")

    def _log_tail(self) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(line for line in lines if "/readyz" not in line)[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="module")
def workers(
    postgres_url: str, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    tmp = tmp_path_factory.mktemp("multiworker")
    with fresh_database("postgres", tmp_dir=tmp, postgres_url=postgres_url) as url:
        started: list[Worker] = []
        try:
            for name in ("a", "b"):
                data_dir = tmp / name
                data_dir.mkdir()
                worker = Worker(name, url, models_dir, data_dir)
                started.append(worker)
                # One at a time: both would otherwise run the migrations at once.
                worker.wait_ready()
            clients = [httpx.Client(base_url=w.url, headers=ADMIN, timeout=120) for w in started]
            yield clients[0], clients[1]
            for client in clients:
                client.close()
        finally:
            for worker in started:
                worker.stop()

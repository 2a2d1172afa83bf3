"""The one launcher for the service as a real `uvicorn` subprocess on a free 127.0.0.1 port: for
tests that talk to it as users do (generated client, `facematch import`, compatible clients), run
several workers, or kill it or its database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.helpers import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServedApi:
    """A started server as the user-facing tests see it."""

    base_url: str
    api_key: str
    log: Path


class LiveServer:
    """One uvicorn process; `start()` waits until /readyz answers 200."""

    def __init__(
        self, *, env: dict[str, str | None], log_path: Path, port: int | None = None
    ) -> None:
        """`env` adds to this process's environment; a None value removes the variable."""
        self.port = port or free_port()
        merged = {**os.environ, **env}
        self.env = {name: value for name, value in merged.items() if value is not None}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, ready_timeout_s: float = 180.0) -> None:
        command = [
            sys.executable, "-m", "uvicorn", "app.main:app",
            "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                ready = httpx.get(f"{self.url}/readyz", timeout=2)
            except httpx.TransportError:
                ready = None
            if ready is not None and ready.status_code == 200:
                return
            if ready is not None and "models_unavailable" in ready.text:
                # Models load once, at start-up: waiting longer cannot help.
                self.stop()
                raise RuntimeError(f"server started without its models:\n{self.log()}")
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"server not ready after {ready_timeout_s} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing — a power cut, as far as the process knows."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.exists() else ""


def sqlite_server(data_dir: Path, models_dir: Path, admin_key: str, **env: str) -> LiveServer:
    """A server on its own SQLite file in `data_dir`, one inference worker and thread (so a
    request that keeps its worker blocks everyone), no rate limit; `env` adds FACEMATCH_* values."""
    return LiveServer(
        env={
            "FACEMATCH_DATA_DIR": str(data_dir),
            "FACEMATCH_MODEL_DIR": str(models_dir),
            "FACEMATCH_DATABASE_URL": f"sqlite:///{data_dir / 'facematch.db'}",
            "FACEMATCH_ADMIN_API_KEY": admin_key,
            "FACEMATCH_RATE_LIMIT_PER_MINUTE": "0",
            "FACEMATCH_INFERENCE_WORKERS": "1",
            "FACEMATCH_INFERENCE_THREADS": "1",
            **{f"FACEMATCH_{name.upper()}": value for name, value in env.items()},
        },
        log_path=data_dir / "server.log",
    )

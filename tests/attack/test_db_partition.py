"""A network partition between the service and PostgreSQL (issue 11, finding 7), against a live
server and a private PostgreSQL: packets to and from the database's port are dropped (iptables on
loopback), so the server sends nothing back, not even an error. Before the fix, requests on pooled
connections hung for the whole partition (the kernel's retransmission timeout is ~15 minutes);
now they fail with 503 within a few seconds, and the service recovers when the network does.

Needs root and iptables (skipped otherwise); only the private server's port is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.attack.private_postgres import PrivatePostgres, Unavailable
from tests.helpers import ADMIN_KEY
from tests.live_server import sqlite_server


def _iptables(action: str, port: int) -> None:
    for direction in ("--dport", "--sport"):
        rule = ["INPUT", "-i", "lo", "-p", "tcp", direction, str(port), "-j", "DROP"]
        subprocess.run(["iptables", action, *rule], check=True, capture_output=True, timeout=10)


@pytest.fixture
def database() -> Iterator[PrivatePostgres]:
    if os.geteuid() != 0 or shutil.which("iptables") is None:
        pytest.skip("a partition needs root and iptables")
    try:
        server = PrivatePostgres()
    except Unavailable as exc:
        pytest.skip(f"cannot run a private PostgreSQL server: {exc}")
    probe = subprocess.run(
        ["iptables", "-L", "INPUT", "-n"], capture_output=True, timeout=10, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"iptables is not usable here: {probe.stderr.decode()[:200]}")
    server.init()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


def test_partitioned_database_fails_requests_fast_and_recovers(
    database: PrivatePostgres, tmp_path: Path, models_dir: Path
) -> None:
    server = sqlite_server(
        tmp_path, models_dir, ADMIN_KEY,
        database_url=database.url, db_connect_timeout_s="2", db_socket_timeout_s="3",
    )  # fmt: skip
    server.start()
    partitioned = False
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_KEY}, timeout=30) as c:
            assert c.post("/v1/collections", json={"name": "partition"}).status_code == 201
            assert c.get("/v1/collections").status_code == 200  # pooled connections exist
            _iptables("-I", database.port)
            partitioned = True
            for path in ("/v1/collections", "/readyz"):
                started = time.monotonic()
                answer = c.get(path)
                took = time.monotonic() - started
                assert answer.status_code == 503, answer.text
                assert answer.json()["code"] == "database_unavailable"
                assert took < 15, f"{path} took {took:.1f} s during the partition"
            _iptables("-D", database.port)
            partitioned = False
            deadline = time.monotonic() + 30
            while c.get("/v1/collections").status_code != 200:
                assert time.monotonic() < deadline, "no recovery after the partition healed"
                time.sleep(0.5)
    finally:
        if partitioned:
            _iptables("-D", database.port)
        server.stop()

"""Disk full under the SQLite database (issue 11, low finding), against a live server whose data
directory is a small tmpfs: a write answers 507 `storage_full` (not "database unreachable"),
nothing half-written is acknowledged, /readyz reports not ready, and both recover once space is
freed. Needs root to mount the tmpfs (skipped otherwise).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import ADMIN_KEY
from tests.live_server import sqlite_server


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=80m", "tmpfs", str(mount)],
        capture_output=True,
        timeout=10,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode()[:200]}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30, check=False)


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    for block in (1 << 20, 4096, 1):  # down to the last byte
        with contextlib.suppress(OSError), filler.open("ab", buffering=0) as out:
            while True:
                out.write(b"\0" * block)
    return filler


def test_disk_full_is_507_and_recovers(small_disk: Path, tmp_path: Path, models_dir: Path) -> None:
    server = sqlite_server(small_disk, models_dir, ADMIN_KEY)
    server.log_path = tmp_path / "server.log"
    server.start()
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_KEY}, timeout=30) as c:
            collection = c.post("/v1/collections", json={"name": "disk"}).json()["id"]
            filler = _fill(small_disk)
            full = [
                c.post(
                    f"/v1/collections/{collection}/identities",
                    json={"external_id": f"p{n}", "metadata": {"pad": "x" * 16000}},
                )
                for n in range(20)
            ]
            refused = [r for r in full if r.status_code != 201]
            assert refused, "the disk never filled up"
            assert all(r.status_code == 507 for r in refused), [r.text for r in refused]
            assert refused[0].json()["code"] == "storage_full"
            ready = c.get("/readyz")
            assert ready.status_code == 503 and ready.json()["code"] == "not_ready", ready.text
            filler.unlink()
            deadline = time.monotonic() + 20
            while c.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "not ready again after space was freed"
                time.sleep(0.5)
            again = c.post(f"/v1/collections/{collection}/identities", json={"external_id": "ok"})
            assert again.status_code == 201, again.text
    finally:
        server.stop()

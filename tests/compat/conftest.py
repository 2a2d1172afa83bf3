"""One live facematch (uvicorn subprocess, real models, its own SQLite file) per test module, with
two tenants: collection A (an enroll key and an identify key) and collection B (an enroll key).

The compatibility tests drive it with the real client libraries, which need a real HTTP server.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.attack.live_server import sqlite_server
from tests.conftest import PHOTOS

ADMIN_KEY = "compat-admin-key-0123456789abcdef0123456789"


def photo(relative: str) -> bytes:
    return (PHOTOS / relative).read_bytes()


@dataclass(frozen=True, slots=True)
class Tenants:
    url: str
    host: str
    port: int
    collection_a: str
    collection_b: str
    enroll_a: str
    identify_a: str
    enroll_b: str

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": ADMIN_KEY}, timeout=60)


def _key(admin: httpx.Client, role: str, collection_id: str) -> str:
    response = admin.post("/v1/keys", json={"role": role, "collection_id": collection_id})
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


@pytest.fixture(scope="module")
def live(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    data_dir = tmp_path_factory.mktemp("compat")
    # Two workers: the real clients' requests overlap with nothing, but Double Take's would.
    server = sqlite_server(data_dir, models_dir, ADMIN_KEY, inference_workers="2")
    server.start()
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_KEY}) as admin:
            a = admin.post("/v1/collections", json={"name": "tenant-a"}).json()["id"]
            b = admin.post("/v1/collections", json={"name": "tenant-b"}).json()["id"]
            yield Tenants(
                url=server.url,
                host="127.0.0.1",
                port=server.port,
                collection_a=a,
                collection_b=b,
                enroll_a=_key(admin, "enroll", a),
                identify_a=_key(admin, "identify", a),
                enroll_b=_key(admin, "enroll", b),
            )
    finally:
        server.stop()

"""One live facematch (uvicorn subprocess, real models, its own SQLite file) per test module, with
two tenants: collection A (an enroll key and an identify key) and collection B (an enroll key).

The compatibility tests drive it with the real client libraries, which need a real HTTP server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.compat.tenants import Tenants
from tests.helpers import ADMIN_KEY
from tests.live_server import sqlite_server


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

"""Database outage: with PostgreSQL stopped, the service answers 503 `database_unavailable` at once
(no hang) on /readyz and on data calls; once PostgreSQL is back it recovers without a restart.

The server stopped is a private PostgreSQL started for this test (see private_postgres.py), never
the shared one on 5432, so this runs safely in parallel with every other test. The service is a
real uvicorn process; every call has a client timeout, so a hang fails the test, not stalls it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.attack.private_postgres import PrivatePostgres, Unavailable
from tests.helpers import ADMIN_KEY, assert_problem, photo
from tests.live_server import LiveServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# Generous for a loaded CI machine, far below "hanging": the service's own connect timeout is 3 s.
CALL_TIMEOUT_S = 20.0


@dataclass
class Outage:
    database: PrivatePostgres
    server: LiveServer
    client: httpx.Client  # admin key
    scoped: httpx.Client  # a collection-scoped enroll key (authenticating it needs the database)
    collection_id: str
    identity_id: str


def _wait_ready(client: httpx.Client, attempts: int = 60) -> httpx.Response:
    response = client.get("/readyz")
    for _ in range(attempts):
        if response.status_code == 200:
            break
        time.sleep(0.5)
        response = client.get("/readyz")
    return response


@pytest.fixture(scope="module")
def outage(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    try:
        database = PrivatePostgres()
    except Unavailable as exc:
        pytest.skip(f"cannot run a private PostgreSQL server: {exc}")
    try:
        database.init()
        database.start()
        data_dir = tmp_path_factory.mktemp("outage")
        server = LiveServer(
            env={
                "FACEMATCH_DATA_DIR": str(data_dir),
                "FACEMATCH_DATABASE_URL": database.url,
                "FACEMATCH_MODEL_DIR": str(models_dir),
                "FACEMATCH_ADMIN_API_KEY": ADMIN_KEY,
                "FACEMATCH_RATE_LIMIT_PER_MINUTE": "0",
            },
            log_path=data_dir / "server.log",
        )
        server.start()
        client = httpx.Client(
            base_url=server.url, headers={"X-API-Key": ADMIN_KEY}, timeout=CALL_TIMEOUT_S
        )
        collection_id = client.post("/v1/collections", json={"name": "outage"}).json()["id"]
        identity_id = client.post(
            f"/v1/collections/{collection_id}/identities", json={"external_id": "obama"}
        ).json()["id"]
        enrolled = client.post(
            f"/v1/collections/{collection_id}/identities/{identity_id}/faces",
            files={"image": ("o.jpg", photo("obama/obama1.jpg"), "image/jpeg")},
        )
        assert enrolled.status_code == 201, enrolled.text
        key = client.post("/v1/keys", json={"collection_id": collection_id, "role": "enroll"})
        scoped = httpx.Client(
            base_url=server.url,
            headers={"X-API-Key": key.json()["key"]},
            timeout=CALL_TIMEOUT_S,
        )
        try:
            yield Outage(database, server, client, scoped, collection_id, identity_id)
        finally:
            client.close()
            scoped.close()
            server.stop()
    finally:
        database.destroy()


@pytest.fixture
def database_down(outage: Outage) -> Iterator[Outage]:
    """PostgreSQL stopped for the length of one test, and always started again afterwards."""
    outage.database.stop()
    try:
        yield outage
    finally:
        outage.database.start()
        assert _wait_ready(outage.client).status_code == 200, outage.server.log()


def test_readyz_answers_database_unavailable(database_down: Outage) -> None:
    assert_problem(database_down.client.get("/readyz"), 503, "database_unavailable")


def test_healthz_stays_up_while_the_database_is_down(database_down: Outage) -> None:
    assert database_down.client.get("/healthz").status_code == 200


def test_read_answers_database_unavailable(database_down: Outage) -> None:
    response = database_down.client.get(f"/v1/collections/{database_down.collection_id}")
    assert_problem(response, 503, "database_unavailable")
    assert "Retry-After" in response.headers


def test_scoped_key_call_answers_database_unavailable(database_down: Outage) -> None:
    response = database_down.scoped.get(f"/v1/collections/{database_down.collection_id}")
    assert_problem(response, 503, "database_unavailable")


def test_write_answers_database_unavailable(database_down: Outage) -> None:
    response = database_down.client.post(
        f"/v1/collections/{database_down.collection_id}/identities", json={"external_id": "x"}
    )
    assert_problem(response, 503, "database_unavailable")


def test_identify_answers_database_unavailable(database_down: Outage) -> None:
    response = database_down.client.post(
        f"/v1/collections/{database_down.collection_id}/identify",
        files={"image": ("p.jpg", photo("obama/obama2.jpg"), "image/jpeg")},
    )
    assert_problem(response, 503, "database_unavailable")


def test_service_recovers_without_a_restart(outage: Outage) -> None:
    outage.database.stop()
    try:
        assert_problem(outage.client.get("/readyz"), 503, "database_unavailable")
    finally:
        outage.database.start()
    assert _wait_ready(outage.client).status_code == 200
    identified = outage.client.post(
        f"/v1/collections/{outage.collection_id}/identify",
        files={"image": ("p.jpg", photo("obama/obama2.jpg"), "image/jpeg")},
    )
    assert identified.status_code == 200, identified.text
    assert identified.json()["faces"][0]["match"]["identity_id"] == outage.identity_id
    created = outage.scoped.post(
        f"/v1/collections/{outage.collection_id}/identities", json={"external_id": "after"}
    )
    assert created.status_code == 201, created.text
    assert outage.server.process is not None and outage.server.process.poll() is None

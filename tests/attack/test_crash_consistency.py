"""Crash consistency: SIGKILL the server while clients enroll and delete; no acknowledged loss.

A real uvicorn process serves a temp data directory. Several clients enroll distinct photos at once
(and one deletes some of its acknowledged faces) until the server is killed mid-stream; then it is
restarted and checked: every face whose enroll answered 201 is in SQL and is found by identify
(probing with the very photo gives that face, similarity ≈ 1); every face whose delete answered 204
is gone from both; every face id identify returns exists in SQL. Repeated several times on the same
data, so each restart also recovers from the previous crash.
"""

from __future__ import annotations

import io
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from tests.db.fresh import fresh_database
from tests.helpers import ADMIN_KEY, PHOTOS
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow

CYCLES = 3
ENROLL_CLIENTS = 3
ACKS_BEFORE_KILL = 6  # per cycle, at least; the kill then lands a random moment later
SOURCES = ("obama/obama1.jpg", "biden/biden2.jpg", "obama/obama3.jpg", "obama/obama2.jpg")


@dataclass
class Ledger:
    """What the server acknowledged; written by the client threads."""

    enrolled: dict[int, bytes] = field(default_factory=dict)  # face id → the photo enrolled
    deleted: dict[int, bytes] = field(default_factory=dict)
    uncertain: dict[int, bytes] = field(default_factory=dict)  # delete sent, no answer yet
    lock: threading.Lock = field(default_factory=threading.Lock)


def _variants(source: str, count: int, seed: int) -> Iterator[bytes]:
    """Distinct photos of one face: small random crops of a downscaled copy, re-encoded."""
    rng = random.Random(seed)
    with Image.open(PHOTOS / source) as image:
        image = image.convert("RGB")
        scale = 640 / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    for _ in range(count):
        dx, dy = rng.randrange(0, 24), rng.randrange(0, 24)
        crop = image.crop((dx, dy, image.width - rng.randrange(0, 24), image.height - dy))
        out = io.BytesIO()
        crop.save(out, format="JPEG", quality=rng.randrange(80, 96))
        yield out.getvalue()


def _enroll_loop(
    url: str, path: str, photos: Iterator[bytes], ledger: Ledger, stop: threading.Event
) -> None:
    with httpx.Client(base_url=url, headers={"X-API-Key": ADMIN_KEY}, timeout=60) as client:
        for data in photos:
            if stop.is_set():
                return
            try:
                response = client.post(path, files={"image": ("v.jpg", data, "image/jpeg")})
            except httpx.TransportError:
                return  # the server died with this request in flight: not acknowledged
            if response.status_code == 201:
                with ledger.lock:
                    for face in response.json()["faces"]:
                        ledger.enrolled[face["id"]] = data


def _enroll_then_delete_loop(
    url: str, path: str, photos: Iterator[bytes], ledger: Ledger, stop: threading.Event
) -> None:
    """Enroll, and delete every second acknowledged face again."""
    with httpx.Client(base_url=url, headers={"X-API-Key": ADMIN_KEY}, timeout=60) as client:
        for n, data in enumerate(photos):
            if stop.is_set():
                return
            try:
                response = client.post(path, files={"image": ("v.jpg", data, "image/jpeg")})
                if response.status_code != 201:
                    continue
                face_id = response.json()["faces"][0]["id"]
                with ledger.lock:
                    ledger.enrolled[face_id] = data
                if n % 2 == 0:
                    # Until the 204 arrives the delete may or may not have happened.
                    with ledger.lock:
                        ledger.uncertain[face_id] = ledger.enrolled.pop(face_id)
                    if client.delete(f"{path}/{face_id}").status_code == 204:
                        with ledger.lock:
                            ledger.deleted[face_id] = ledger.uncertain.pop(face_id)
            except httpx.TransportError:
                return


def _run_until_killed(server: LiveServer, paths: list[str], ledger: Ledger, cycle: int) -> None:
    stop = threading.Event()
    before = len(ledger.enrolled) + len(ledger.deleted)
    threads = [
        threading.Thread(
            target=_enroll_then_delete_loop if n == 0 else _enroll_loop,
            args=(server.url, path, _variants(SOURCES[n % len(SOURCES)], 40, 1000 * cycle + n),
                  ledger, stop),
            daemon=True,
        )
        for n, path in enumerate(paths)
    ]  # fmt: skip
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 240
    while len(ledger.enrolled) + len(ledger.deleted) - before < ACKS_BEFORE_KILL:
        assert time.monotonic() < deadline, f"too few enrolls acknowledged:\n{server.log()}"
        assert all(t.is_alive() for t in threads), f"a client stopped early:\n{server.log()}"
        time.sleep(0.05)
    time.sleep(random.Random(cycle).uniform(0.0, 0.6))  # land the kill anywhere in a request
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=60)


def _faces_in_sql(database_url: str) -> set[int]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(sa.text("SELECT id FROM faces")).scalars())
    finally:
        engine.dispose()


def _identify(client: httpx.Client, collection_id: str, data: bytes) -> list[dict]:
    response = client.post(
        f"/v1/collections/{collection_id}/identify",
        params={"top_k": 100, "faces": "largest"},
        files={"image": ("probe.jpg", data, "image/jpeg")},
    )
    assert response.status_code == 200, response.text
    [face] = response.json()["faces"]
    return face["candidates"]


def _check(server: LiveServer, database_url: str, collection_id: str, ledger: Ledger) -> None:
    in_sql = _faces_in_sql(database_url)
    assert set(ledger.enrolled) <= in_sql, (
        f"acknowledged faces lost: {set(ledger.enrolled) - in_sql}"
    )
    reused = set(ledger.deleted) & set(ledger.enrolled)
    assert not reused, f"face ids given to a new face after their delete: {sorted(reused)}"
    assert not set(ledger.deleted) & in_sql, "acknowledged deletes came back"
    with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_KEY}, timeout=60) as client:
        for face_id, data in ledger.enrolled.items():
            candidates = _identify(client, collection_id, data)
            assert {c["face_id"] for c in candidates} <= in_sql, "index holds faces SQL lacks"
            best = {c["face_id"]: c["similarity"] for c in candidates}
            assert best.get(face_id, 0.0) > 0.999, f"face {face_id} not found by identify"
        for face_id, data in ledger.deleted.items():
            candidates = _identify(client, collection_id, data)
            assert {c["face_id"] for c in candidates} <= in_sql, "index holds faces SQL lacks"
            assert face_id not in {c["face_id"] for c in candidates}, "deleted face still found"


def _crash_cycles(
    tmp_path: Path, models_dir: Path, database_url: str, *, snapshots: bool = False
) -> None:
    extra = {"FACEMATCH_INDEX_SNAPSHOT_DIR": str(tmp_path / "snapshots")} if snapshots else {}
    server = LiveServer(
        env={
            **extra,
            "FACEMATCH_DATA_DIR": str(tmp_path),
            "FACEMATCH_MODEL_DIR": str(models_dir),
            "FACEMATCH_DATABASE_URL": database_url,
            "FACEMATCH_ADMIN_API_KEY": ADMIN_KEY,
            "FACEMATCH_RATE_LIMIT_PER_MINUTE": "0",
            "FACEMATCH_INFERENCE_WORKERS": "2",
            "FACEMATCH_INFERENCE_THREADS": "1",
        },
        log_path=tmp_path / "server.log",
    )
    try:
        server.start()
        with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_KEY}) as admin:
            collection_id = admin.post("/v1/collections", json={"name": "crash"}).json()["id"]
            paths = []
            for n in range(ENROLL_CLIENTS):
                identity = admin.post(
                    f"/v1/collections/{collection_id}/identities", json={"external_id": f"c{n}"}
                ).json()
                paths.append(f"/v1/collections/{collection_id}/identities/{identity['id']}/faces")
        ledger = Ledger()
        for cycle in range(CYCLES):
            if snapshots:
                # A graceful stop writes a snapshot; the writes after it exist only in SQL.
                server.stop()
                server.start()
                assert any((tmp_path / "snapshots").iterdir()), "no snapshot was written"
            _run_until_killed(server, paths, ledger, cycle)
            server.start()
            _check(server, database_url, collection_id, ledger)
        assert len(ledger.enrolled) >= CYCLES * ACKS_BEFORE_KILL // 2
    finally:
        server.stop()


def test_sigkill_mid_stream_loses_no_acknowledged_face_sqlite(
    tmp_path: Path, models_dir: Path
) -> None:
    _crash_cycles(tmp_path, models_dir, f"sqlite:///{tmp_path / 'facematch.db'}")


@pytest.mark.postgres
def test_sigkill_mid_stream_loses_no_acknowledged_face_postgres(
    tmp_path: Path, models_dir: Path, postgres_url: str
) -> None:
    with fresh_database("postgres", tmp_dir=tmp_path, postgres_url=postgres_url) as database_url:
        _crash_cycles(tmp_path, models_dir, database_url)


@pytest.mark.postgres
def test_sigkill_with_index_snapshots_loses_nothing_and_resurrects_nothing(
    tmp_path: Path, models_dir: Path, postgres_url: str
) -> None:
    # Restarts load a snapshot taken before later enrolls and deletes, then catch up from the log.
    with fresh_database("postgres", tmp_dir=tmp_path, postgres_url=postgres_url) as database_url:
        _crash_cycles(tmp_path, models_dir, database_url, snapshots=True)

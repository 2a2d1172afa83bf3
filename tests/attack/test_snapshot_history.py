"""A stale index snapshot must never load into a different history (issue 11, finding 3).

The attack, as an unlucky operator runs it against a live server with snapshots on: enroll A; back
up the database; enroll B; graceful stop (the snapshot now holds B); restore the backup; start;
enroll C (C gets B's old face id and change seq); the process is killed before its next graceful
stop; restart. Before the fix the old snapshot loaded, catch-up skipped C's change (its seq was
"already applied") and identify of B's photo answered `match: C` with similarity 1.0.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import httpx

from tests.helpers import ADMIN_KEY, PHOTOS
from tests.live_server import sqlite_server


def _enroll(client: httpx.Client, path: str, photo: str) -> int:
    response = client.post(
        path,
        params={"face": "largest"},
        files={"image": ("p.jpg", (PHOTOS / photo).read_bytes(), "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    return response.json()["faces"][0]["id"]


def _match(client: httpx.Client, collection_id: str, photo: str) -> dict | None:
    response = client.post(
        f"/v1/collections/{collection_id}/identify",
        params={"faces": "largest"},
        files={"image": ("p.jpg", (PHOTOS / photo).read_bytes(), "image/jpeg")},
    )
    assert response.status_code == 200, response.text
    [face] = response.json()["faces"]
    return face["match"]


def test_snapshot_from_before_a_restore_never_answers_with_another_person(
    tmp_path: Path, models_dir: Path
) -> None:
    database = tmp_path / "facematch.db"
    snapshots = tmp_path / "snapshots"
    server = sqlite_server(tmp_path, models_dir, ADMIN_KEY, index_snapshot_dir=str(snapshots))
    a, b, c = "obama/obama1.jpg", "biden/biden.jpg", "multiface/dlib__2008_001322.jpg"
    try:
        server.start()
        with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_KEY}, timeout=60) as cl:
            collection = cl.post("/v1/collections", json={"name": "restore"}).json()["id"]
            paths = {}
            for person in ("A", "B", "C"):
                identity = cl.post(
                    f"/v1/collections/{collection}/identities", json={"external_id": person}
                ).json()["id"]
                paths[person] = f"/v1/collections/{collection}/identities/{identity}/faces"
            _enroll(cl, paths["A"], a)
            backup = tmp_path / "backup.db"
            with sqlite3.connect(database) as live, sqlite3.connect(backup) as copy:
                live.backup(copy)
            b_face = _enroll(cl, paths["B"], b)
        server.stop()  # graceful: the snapshot now includes B's face
        assert (snapshots / "CURRENT").is_file()

        for suffix in ("-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(backup, database)  # the operator restores the backup
        server.start()
        with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_KEY}, timeout=60) as cl:
            c_face = _enroll(cl, paths["C"], c)
            assert c_face == b_face, "the scenario needs C to reuse B's face id"
        server.kill()  # no graceful stop: no newer snapshot is written

        server.start()
        with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_KEY}, timeout=60) as cl:
            wrong = _match(cl, collection, b)
            assert wrong is None or wrong["external_id"] != "C", f"B's photo matched C: {wrong}"
            right = _match(cl, collection, c)
            assert right is not None and right["external_id"] == "C", right
            assert _match(cl, collection, a)["external_id"] == "A"  # type: ignore[index]
    finally:
        server.stop()

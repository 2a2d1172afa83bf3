"""Template-key rotation across replicas (issue 11, finding 6), two live servers on one database.

Replica A already writes with the new key; replica B does not have it yet. Before the fix, B's
change-log catch-up raised on the one template it could not open and never advanced: identify,
enroll and delete failed with 500 in every collection (committed writes included) while /readyz
stayed 200.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from app.db.template_codec import generate_key
from tests.helpers import ADMIN_KEY, PHOTOS
from tests.live_server import sqlite_server

OLD, NEW = generate_key(), generate_key()


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"X-API-Key": ADMIN_KEY}, timeout=60)


def _enroll(client: httpx.Client, collection: str, photo: str) -> httpx.Response:
    identity = client.post(
        f"/v1/collections/{collection}/identities", json={"external_id": photo}
    ).json()["id"]
    return client.post(
        f"/v1/collections/{collection}/identities/{identity}/faces",
        files={"image": ("p.jpg", (PHOTOS / photo).read_bytes(), "image/jpeg")},
    )


def test_a_replica_without_the_new_key_keeps_serving_and_reports_not_ready(
    tmp_path: Path, models_dir: Path
) -> None:
    rotated = sqlite_server(
        tmp_path, models_dir, ADMIN_KEY,
        template_key=NEW, template_key_id="k2", template_retired_keys=f"k1:{OLD}",
    )  # fmt: skip
    behind = sqlite_server(tmp_path, models_dir, ADMIN_KEY, template_key=OLD, template_key_id="k1")
    behind.log_path = tmp_path / "behind.log"
    try:
        behind.start()
        with _client(behind.url) as b:
            other = b.post("/v1/collections", json={"name": "other"}).json()["id"]
            assert _enroll(b, other, "obama/obama1.jpg").status_code == 201
        rotated.start()
        with _client(rotated.url) as a:
            rotating = a.post("/v1/collections", json={"name": "rotating"}).json()["id"]
            sealed = _enroll(a, rotating, "biden/biden.jpg")  # sealed with k2
            assert sealed.status_code == 201
        with _client(behind.url) as b:
            probe = {"image": ("p.jpg", (PHOTOS / "obama/obama2.jpg").read_bytes(), "image/jpeg")}
            found = b.post(f"/v1/collections/{other}/identify", files=probe)
            assert found.status_code == 200, found.text
            assert found.json()["faces"][0]["match"]["external_id"] == "obama/obama1.jpg"
            assert b.post(f"/v1/collections/{rotating}/identify", files=probe).status_code == 200
            again = _enroll(b, other, "obama/obama3.jpg")
            assert again.status_code == 201, again.text
            face = again.json()["faces"][0]["id"]
            identities = b.get(f"/v1/collections/{other}/identities").json()["items"]
            owner = next(i for i in identities if i["external_id"] == "obama/obama3.jpg")
            deleted = b.delete(f"/v1/collections/{other}/identities/{owner['id']}/faces/{face}")
            assert deleted.status_code == 204, deleted.text
            ready = b.get("/readyz")
            assert ready.status_code == 503, ready.text
            assert ready.json()["code"] == "not_ready"
            assert str(sealed.json()["faces"][0]["id"]) in ready.json()["detail"]
        assert "cannot be read" in behind.log()
    finally:
        rotated.stop()
        behind.stop()

"""Read-your-writes across workers: each worker holds its own index, PostgreSQL is shared, and an
acknowledged write on one worker is visible to the next search on the other."""

from __future__ import annotations

import secrets

import httpx
import pytest

from tests.conftest import PHOTOS

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _photo(name: str) -> tuple[str, bytes, str]:
    return (name.split("/")[-1], (PHOTOS / name).read_bytes(), "image/jpeg")


def _collection(client: httpx.Client) -> str:
    response = client.post("/v1/collections", json={"name": f"mw-{secrets.token_hex(4)}"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _identity(client: httpx.Client, cid: str, external_id: str) -> str:
    response = client.post(f"/v1/collections/{cid}/identities", json={"external_id": external_id})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _enroll(client: httpx.Client, cid: str, iid: str, *names: str) -> list[int]:
    files = [("image", _photo(n)) for n in names]
    response = client.post(f"/v1/collections/{cid}/identities/{iid}/faces", files=files)
    assert response.status_code == 201, response.text
    return [face["id"] for face in response.json()["faces"]]


def _candidates(client: httpx.Client, cid: str, name: str) -> list[str]:
    response = client.post(
        f"/v1/collections/{cid}/identify",
        files={"image": _photo(name)},
        params={"faces": "largest"},
    )
    assert response.status_code == 200, response.text
    faces = response.json()["faces"]
    return [c["identity_id"] for c in faces[0]["candidates"]] if faces else []


def test_enroll_on_one_worker_is_identified_on_the_other(workers) -> None:
    a, b = workers
    cid = _collection(a)
    obama = _identity(a, cid, "obama")
    biden = _identity(a, cid, "biden")
    _enroll(a, cid, obama, "obama/obama.jpg", "obama/obama1.jpg")
    _enroll(a, cid, biden, "biden/biden.jpg")
    assert _candidates(b, cid, "obama/obama2.jpg")[0] == obama
    assert _candidates(b, cid, "biden/biden2.jpg")[0] == biden


def test_delete_on_one_worker_is_gone_on_the_other(workers) -> None:
    a, b = workers
    cid = _collection(a)
    obama = _identity(a, cid, "obama")
    biden = _identity(a, cid, "biden")
    _enroll(a, cid, obama, "obama/obama.jpg")
    _enroll(a, cid, biden, "biden/biden.jpg")
    assert _candidates(a, cid, "obama/obama2.jpg")[0] == obama  # a's index holds obama now
    response = b.delete(f"/v1/collections/{cid}/identities/{obama}")
    assert response.status_code == 204, response.text
    assert obama not in _candidates(a, cid, "obama/obama2.jpg")


def test_face_deleted_on_one_worker_is_not_returned_by_the_other(workers) -> None:
    a, b = workers
    cid = _collection(b)
    obama = _identity(b, cid, "obama")
    face_ids = _enroll(b, cid, obama, "obama/obama.jpg")
    assert _candidates(a, cid, "obama/obama2.jpg") == [obama]
    response = b.delete(f"/v1/collections/{cid}/identities/{obama}/faces/{face_ids[0]}")
    assert response.status_code == 204, response.text
    assert _candidates(a, cid, "obama/obama2.jpg") == []

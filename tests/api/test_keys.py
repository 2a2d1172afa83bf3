"""Scoped API keys: authentication, roles, tenancy, revocation."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.helpers import ADMIN, add_identity, unique


def _key(client: TestClient, role: str, collection_id: object | None) -> dict:
    response = client.post(
        "/v1/keys", json={"collection_id": collection_id, "role": role, "name": role}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    return response.json()


def _h(key: dict) -> dict[str, str]:
    return {"X-API-Key": key["key"]}


def test_missing_key_is_401_unauthorized(client: TestClient) -> None:
    response = client.get("/v1/collections")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_unknown_key_is_401(client: TestClient) -> None:
    for key in ("nonsense", "fm_deadbeef0000_xyz", ADMIN["X-API-Key"] + "x"):
        assert client.get("/v1/collections", headers={"X-API-Key": key}).status_code == 401


def test_created_key_is_shown_once_and_listed_without_secret(
    client: TestClient, collection: dict
) -> None:
    created = _key(client, "identify", collection["id"])
    assert created["key"].startswith("fm_" + created["prefix"] + "_")
    listed = client.get("/v1/keys", params={"limit": 500}, headers=ADMIN).json()["items"]
    mine = [k for k in listed if k["id"] == created["id"]]
    assert len(mine) == 1 and "key" not in mine[0]


def test_key_use_sets_last_used_at(client: TestClient, collection: dict) -> None:
    created = _key(client, "identify", collection["id"])
    assert created["last_used_at"] is None
    client.get(f"/v1/collections/{collection['id']}", headers=_h(created))
    listed = client.get("/v1/keys", params={"limit": 500}, headers=ADMIN).json()["items"]
    assert next(k for k in listed if k["id"] == created["id"])["last_used_at"] is not None


def test_identify_role_cannot_create_identities(client: TestClient, collection: dict) -> None:
    key = _key(client, "identify", collection["id"])
    response = client.post(
        f"/v1/collections/{collection['id']}/identities", json={}, headers=_h(key)
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_enroll_role_can_create_identities(client: TestClient, collection: dict) -> None:
    key = _key(client, "enroll", collection["id"])
    response = client.post(
        f"/v1/collections/{collection['id']}/identities", json={}, headers=_h(key)
    )
    assert response.status_code == 201


def test_enroll_role_cannot_delete_the_collection(client: TestClient, collection: dict) -> None:
    key = _key(client, "enroll", collection["id"])
    assert client.delete(f"/v1/collections/{collection['id']}", headers=_h(key)).status_code == 403


def test_scoped_admin_cannot_create_collections(client: TestClient, collection: dict) -> None:
    key = _key(client, "admin", collection["id"])
    response = client.post("/v1/collections", json={"name": unique("x")}, headers=_h(key))
    assert response.status_code == 403


def test_another_tenants_collection_is_404(client: TestClient, collection: dict) -> None:
    other = client.post("/v1/collections", json={"name": unique("b")}, headers=ADMIN).json()
    identity = add_identity(client, other["id"])
    key = _key(client, "admin", collection["id"])
    base = f"/v1/collections/{other['id']}"
    for method, url in (
        ("GET", base),
        ("GET", f"{base}/identities"),
        ("GET", f"{base}/identities/{identity['id']}"),
        ("POST", f"{base}/identities"),
        ("DELETE", f"{base}/identities/{identity['id']}"),
        ("DELETE", base),
    ):
        response = client.request(
            method, url, json={} if method == "POST" else None, headers=_h(key)
        )
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.json()["code"] == "not_found"
    # Nothing was deleted by the failed attempts.
    assert client.get(f"{base}/identities/{identity['id']}", headers=ADMIN).status_code == 200


def test_scoped_key_lists_only_its_collection(client: TestClient, collection: dict) -> None:
    client.post("/v1/collections", json={"name": unique("other")}, headers=ADMIN)
    key = _key(client, "identify", collection["id"])
    listed = client.get("/v1/collections", headers=_h(key)).json()
    assert [c["id"] for c in listed["items"]] == [collection["id"]] and listed["total"] == 1


def test_scoped_admin_cannot_mint_keys_for_other_collections(
    client: TestClient, collection: dict
) -> None:
    other = client.post("/v1/collections", json={"name": unique("o")}, headers=ADMIN).json()
    key = _key(client, "admin", collection["id"])
    to_other = {"collection_id": other["id"], "role": "admin"}
    assert client.post("/v1/keys", json=to_other, headers=_h(key)).status_code == 404
    to_all = {"collection_id": None, "role": "admin"}
    assert client.post("/v1/keys", json=to_all, headers=_h(key)).status_code == 403


def test_revoked_key_stops_working(client: TestClient, collection: dict) -> None:
    key = _key(client, "identify", collection["id"])
    url = f"/v1/collections/{collection['id']}"
    assert client.get(url, headers=_h(key)).status_code == 200
    assert client.delete(f"/v1/keys/{key['id']}", headers=ADMIN).status_code == 204
    assert client.get(url, headers=_h(key)).status_code == 401


def test_key_for_unknown_collection_is_404(client: TestClient) -> None:
    body = {"collection_id": str(uuid.uuid4()), "role": "identify"}
    assert client.post("/v1/keys", json=body, headers=ADMIN).status_code == 404


def test_unknown_role_is_a_validation_error(client: TestClient) -> None:
    body = {"collection_id": None, "role": "root"}
    response = client.post("/v1/keys", json=body, headers=ADMIN)
    assert response.status_code == 422 and response.json()["code"] == "validation_error"


def test_deleting_a_collection_revokes_its_keys(client: TestClient) -> None:
    doomed = client.post("/v1/collections", json={"name": unique("d")}, headers=ADMIN).json()
    key = _key(client, "admin", doomed["id"])
    assert client.delete(f"/v1/collections/{doomed['id']}", headers=ADMIN).status_code == 204
    assert client.get("/v1/collections", headers=_h(key)).status_code == 401

"""Identities: create, external_id uniqueness, list with filter, read, update, delete."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.helpers import ADMIN, add_identity


def _url(collection: dict) -> str:
    return f"/v1/collections/{collection['id']}/identities"


def test_create_returns_201_with_fields(client: TestClient, collection: dict) -> None:
    body = {"external_id": "emp-1", "display_name": "Ada", "metadata": {"team": "x"}}
    response = client.post(_url(collection), json=body, headers=ADMIN)
    assert response.status_code == 201
    created = response.json()
    assert created["external_id"] == "emp-1" and created["metadata"] == {"team": "x"}
    assert created["face_count"] == 0 and created["collection_id"] == collection["id"]


def test_external_id_is_unique_within_a_collection(client: TestClient, collection: dict) -> None:
    add_identity(client, collection["id"], external_id="same")
    response = client.post(_url(collection), json={"external_id": "same"}, headers=ADMIN)
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


def test_same_external_id_is_fine_in_another_collection(client: TestClient) -> None:
    ids = []
    for name in (uuid.uuid4().hex, uuid.uuid4().hex):
        cid = client.post("/v1/collections", json={"name": name}, headers=ADMIN).json()["id"]
        ids.append(add_identity(client, cid, external_id="shared")["id"])
    assert ids[0] != ids[1]


def test_list_filters_by_external_id(client: TestClient, collection: dict) -> None:
    add_identity(client, collection["id"], external_id="a")
    add_identity(client, collection["id"], external_id="b")
    everyone = client.get(_url(collection), headers=ADMIN).json()
    assert everyone["total"] == 2
    only_b = client.get(_url(collection), params={"external_id": "b"}, headers=ADMIN).json()
    assert [i["external_id"] for i in only_b["items"]] == ["b"] and only_b["total"] == 1


def test_patch_changes_only_the_fields_sent(client: TestClient, collection: dict) -> None:
    identity = add_identity(client, collection["id"], external_id="p", display_name="Old")
    url = f"{_url(collection)}/{identity['id']}"
    response = client.patch(url, json={"display_name": "New"}, headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["display_name"] == "New" and response.json()["external_id"] == "p"


def test_patch_to_a_taken_external_id_is_409(client: TestClient, collection: dict) -> None:
    add_identity(client, collection["id"], external_id="taken")
    other = add_identity(client, collection["id"], external_id="free")
    url = f"{_url(collection)}/{other['id']}"
    assert client.patch(url, json={"external_id": "taken"}, headers=ADMIN).status_code == 409


def test_delete_then_get_is_404(client: TestClient, collection: dict) -> None:
    identity = add_identity(client, collection["id"])
    url = f"{_url(collection)}/{identity['id']}"
    assert client.delete(url, headers=ADMIN).status_code == 204
    assert client.get(url, headers=ADMIN).json()["code"] == "not_found"


def test_identity_of_another_collection_is_404(client: TestClient, collection: dict) -> None:
    other = client.post("/v1/collections", json={"name": uuid.uuid4().hex}, headers=ADMIN).json()
    identity = add_identity(client, other["id"])
    response = client.get(f"{_url(collection)}/{identity['id']}", headers=ADMIN)
    assert response.status_code == 404


def test_unknown_fields_are_rejected(client: TestClient, collection: dict) -> None:
    response = client.post(_url(collection), json={"nickname": "x"}, headers=ADMIN)
    assert response.status_code == 422 and response.json()["code"] == "validation_error"


def test_sql_looking_and_unicode_external_ids_round_trip(
    client: TestClient, collection: dict
) -> None:
    for external_id in ("'; DROP TABLE faces; --", "Zoë 李 🙂"):
        created = add_identity(client, collection["id"], external_id=external_id)
        assert created["external_id"] == external_id


def test_nul_in_a_name_is_a_validation_error(client: TestClient, collection: dict) -> None:
    response = client.post(_url(collection), json={"display_name": "a\x00b"}, headers=ADMIN)
    assert response.status_code == 422

"""Collections: create, list (paginated), read, delete."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.helpers import ADMIN, unique


def test_create_returns_201_with_counts_and_model(client: TestClient) -> None:
    name = unique("staff")
    response = client.post("/v1/collections", json={"name": name}, headers=ADMIN)
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == name
    assert body["face_count"] == 0 and body["identity_count"] == 0
    assert body["model_id"].startswith("dlib-resnet-v1@")
    uuid.UUID(body["id"])
    assert body["created_at"].endswith(("+00:00", "Z"))


def test_duplicate_name_is_a_409_conflict(client: TestClient) -> None:
    name = unique("dup")
    assert client.post("/v1/collections", json={"name": name}, headers=ADMIN).status_code == 201
    response = client.post("/v1/collections", json={"name": name}, headers=ADMIN)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "conflict"


def test_list_is_paginated_with_total(client: TestClient) -> None:
    for _ in range(3):
        client.post("/v1/collections", json={"name": unique("page")}, headers=ADMIN)
    first = client.get("/v1/collections", params={"limit": 2}, headers=ADMIN).json()
    assert len(first["items"]) == 2 and first["total"] >= 3
    second = client.get("/v1/collections", params={"limit": 2, "offset": 2}, headers=ADMIN).json()
    assert {c["id"] for c in first["items"]}.isdisjoint({c["id"] for c in second["items"]})


def test_get_returns_the_collection(client: TestClient, collection: dict) -> None:
    response = client.get(f"/v1/collections/{collection['id']}", headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["name"] == collection["name"]


def test_unknown_collection_is_404_not_found(client: TestClient) -> None:
    response = client.get(f"/v1/collections/{uuid.uuid4()}", headers=ADMIN)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_malformed_collection_id_is_422_validation_error(client: TestClient) -> None:
    response = client.get("/v1/collections/not-a-uuid", headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_delete_removes_the_collection(client: TestClient, collection: dict) -> None:
    url = f"/v1/collections/{collection['id']}"
    assert client.delete(url, headers=ADMIN).status_code == 204
    assert client.get(url, headers=ADMIN).status_code == 404


def test_empty_name_is_rejected(client: TestClient) -> None:
    response = client.post("/v1/collections", json={"name": ""}, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"

"""The OpenAPI document: readable operation ids, problems documented on every v1 route."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _operations(client: TestClient) -> list[tuple[str, str, dict]]:
    spec = client.get("/openapi.json").json()
    return [
        (path, method, op)
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
    ]


def test_operation_ids_read_like_tag_and_action(client: TestClient) -> None:
    ids = {op["operationId"] for _, _, op in _operations(client)}
    assert {
        "collections-create",
        "identities-create",
        "faces-enroll",
        "matching-identify",
        "matching-verify",
        "detection-detect",
        "keys-create",
        "models-list",
        "health-ready",
    } <= ids


def test_every_v1_route_documents_401_and_422_problems(client: TestClient) -> None:
    for path, _, op in _operations(client):
        if path.startswith("/v1") and "x-protocol" not in op:  # DeepStack's door: its own errors
            for status in ("401", "422"):
                content = op["responses"][status]["content"]
                assert "application/problem+json" in content, (path, status)


def test_photo_routes_accept_multipart_and_json(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/collections/{collection_id}/identify"]["post"]["requestBody"]
    assert {"multipart/form-data", "application/json"} <= set(body["content"])

"""Request handling: content types, base64 JSON, body cap while reading, rate limit, problems."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ADMIN, add_identity, enroll, identify, photo, unique


def test_unsupported_content_type_is_415(client: TestClient) -> None:
    response = client.post(
        "/v1/detect", content=b"hello", headers={**ADMIN, "content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_multipart_without_the_field_is_422(client: TestClient) -> None:
    files = {"photo": ("a.jpg", photo("obama/obama1.jpg"), "image/jpeg")}
    response = client.post("/v1/detect", files=files, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert "image" in response.json()["detail"]


def test_text_field_instead_of_file_is_422(client: TestClient) -> None:
    response = client.post(
        "/v1/detect", data={"image": "abc"}, files={"x": ("x", b"x")}, headers=ADMIN
    )
    assert response.status_code == 422


def test_invalid_base64_is_422(client: TestClient) -> None:
    response = client.post("/v1/detect", json={"image": "***not base64***"}, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_wrong_json_type_is_422(client: TestClient) -> None:
    response = client.post("/v1/detect", json={"image": 42}, headers=ADMIN)
    assert response.status_code == 422


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/v1/detect", content=b"{nope", headers={**ADMIN, "content-type": "application/json"}
    )
    assert response.status_code == 422


def test_base64_json_works_like_multipart(client: TestClient) -> None:
    data = photo("obama/obama1.jpg")
    as_json = client.post(
        "/v1/detect", json={"image": base64.b64encode(data).decode()}, headers=ADMIN
    ).json()
    as_file = client.post(
        "/v1/detect", files={"image": ("o.jpg", data, "image/jpeg")}, headers=ADMIN
    ).json()
    assert as_json == as_file and len(as_json["faces"]) == 1


def test_text_as_image_is_invalid_image(client: TestClient) -> None:
    files = {"image": ("a.jpg", b"this is not a photo at all", "image/jpeg")}
    response = client.post("/v1/detect", files=files, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_image"


def test_problem_has_rfc9457_fields(client: TestClient) -> None:
    response = client.get("/v1/nowhere", headers=ADMIN)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert {"type", "title", "status", "code", "detail"} <= set(response.json())


def _streamed(chunks: int, size: int) -> Iterator[bytes]:
    for _ in range(chunks):
        yield b"x" * size


def test_body_over_the_cap_is_413_before_it_is_all_read(
    start_app: Callable[..., TestClient],
) -> None:
    with start_app(max_body_bytes=64 * 1024) as small:
        declared = small.post(
            "/v1/detect",
            content=b"x" * (65 * 1024),
            headers={**ADMIN, "content-type": "application/json"},
        )
        assert declared.status_code == 413
        assert declared.json()["code"] == "payload_too_large"
        # No Content-Length: the running count must stop it.
        chunked = small.post(
            "/v1/detect",
            content=_streamed(100, 4096),
            headers={**ADMIN, "content-type": "multipart/form-data; boundary=b"},
        )
        assert chunked.status_code == 413
        assert chunked.json()["code"] == "payload_too_large"
        assert small.get("/healthz").status_code == 200


def test_rate_limit_answers_429_with_retry_after(start_app: Callable[..., TestClient]) -> None:
    with start_app(rate_limit_per_minute=6, rate_limit_burst=2) as limited:
        statuses = [limited.get("/v1/collections", headers=ADMIN).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = limited.get("/v1/collections", headers=ADMIN)
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1


def test_healthz_needs_no_key(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_every_check(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"models": "ok", "database": "ok", "indexes": "ok"}


def test_models_lists_the_model_and_threshold(client: TestClient) -> None:
    models = client.get("/v1/models", headers=ADMIN).json()["models"]
    assert models[0]["embedding_dim"] == 128
    assert -1 <= models[0]["default_threshold"] <= 1


def test_inference_past_the_timeout_is_503_with_retry_after(
    start_app: Callable[..., TestClient],
) -> None:
    with start_app(inference_timeout_s=0.001) as hurried:
        files = {"image": ("o.jpg", photo("obama/obama3.jpg"), "image/jpeg")}
        response = hurried.post("/v1/detect", files=files, headers=ADMIN)
        assert response.status_code == 503
        assert response.json()["code"] == "inference_timeout"
        assert "Retry-After" in response.headers


def test_restart_with_index_snapshot_serves_the_same_faces(
    start_app: Callable[..., TestClient], tmp_path_factory: pytest.TempPathFactory, backend: str
) -> None:
    snapshots = tmp_path_factory.mktemp("snap")
    with start_app(index_snapshot_dir=snapshots) as first:
        cid = first.post("/v1/collections", json={"name": unique("s")}, headers=ADMIN).json()["id"]
        iid = add_identity(first, cid, external_id="biden")["id"]
        enroll(first, cid, iid, "biden/biden.jpg")
    # pgvector holds no index in the process, so there is nothing to snapshot; a restart must
    # serve the same faces all the same.
    assert any(snapshots.iterdir()) == (backend != "pgvector")
    with start_app(index_snapshot_dir=snapshots) as second:
        match = identify(second, cid, "biden/biden2.jpg")["faces"][0]["match"]
        assert match["external_id"] == "biden"

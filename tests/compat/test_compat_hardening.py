"""The protocol doors under attack: the hostile-input corpus replayed through the DeepStack and
CompreFace routes (their 4xx shapes, never a 5xx), body and pixel caps, per-key rate limits, and
every compat route declaring its access. In-process apps sharing one loaded pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from app.api.access import routes_without_access
from app.main import create_app
from app.vision.pipeline import VisionPipeline
from tests.attack.corpus import HostileRequest, chunks, corpus
from tests.attack.service import attack_settings
from tests.helpers import ADMIN_KEY, photo

CORPUS = corpus()
DEEPSTACK = ("/v1/vision/face", "/v1/vision/face/recognize", "/v1/vision/face/register")
COMPREFACE = (
    "/api/v1/recognition/recognize",
    "/api/v1/recognition/faces?subject=target",
    "/api/v1/detection/detect",
)


@pytest.fixture(scope="module")
def pipeline(models_dir: Path) -> VisionPipeline:
    return VisionPipeline.load(models_dir, threads=1)


def _start(pipeline: VisionPipeline, data_dir: Path, **overrides: Any) -> Iterator[TestClient]:
    app = create_app(attack_settings(data_dir, **overrides), pipeline=pipeline, json_logs=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _enroll_key(client: TestClient, name: str) -> str:
    admin = {"X-API-Key": ADMIN_KEY}
    collection = client.post("/v1/collections", json={"name": name}, headers=admin).json()["id"]
    created = client.post(
        "/v1/keys", json={"role": "enroll", "collection_id": collection}, headers=admin
    )
    return str(created.json()["key"])


@pytest.fixture(scope="module")
def service(
    pipeline: VisionPipeline, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, str]]:
    for client in _start(pipeline, tmp_path_factory.mktemp("doors")):
        yield client, _enroll_key(client, "doors")


def _key_for(item: HostileRequest, key: str) -> str:
    return {"none": "", "bogus": "fm_000000000000_" + "A" * 43}.get(item.auth, key)


def _deepstack(client: TestClient, path: str, item: HostileRequest, key: str) -> Any:
    headers = dict(item.extra_headers)
    if item.files:
        data = {"api_key": _key_for(item, key), "userid": "target"}
        return client.post(path, data=data, files=list(item.files), headers=headers)
    if item.content_type is not None:
        headers["Content-Type"] = item.content_type
    content = item.content or b""
    return client.post(path, content=chunks(content) if item.chunked else content, headers=headers)


def _compreface(client: TestClient, path: str, item: HostileRequest, key: str) -> Any:
    headers = {**dict(item.extra_headers), "x-api-key": _key_for(item, key)}
    if item.files:
        # The corpus sends `image`; CompreFace's field is `file`.
        files = [("file" if n == "image" else n, f) for n, f in item.files]
        return client.post(path, files=files, headers=headers)
    if item.content_type is not None:
        headers["Content-Type"] = item.content_type
    content = item.content or b""
    return client.post(path, content=chunks(content) if item.chunked else content, headers=headers)


def _assert_door_shape(response: Any, door: str) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    body = response.json()
    if response.status_code >= 400:
        if door == "deepstack":
            assert body["success"] is False and isinstance(body["error"], str), body
        else:
            assert set(body) == {"message", "code"} and isinstance(body["code"], int), body
    elif door == "deepstack":
        assert body["success"] is True, body


@pytest.mark.parametrize("item", CORPUS, ids=[item.kind for item in CORPUS])
def test_hostile_corpus_through_the_doors(
    service: tuple[TestClient, str], item: HostileRequest
) -> None:
    client, key = service
    for path in DEEPSTACK:
        _assert_door_shape(_deepstack(client, path, item, key), "deepstack")
    for path in COMPREFACE:
        _assert_door_shape(_compreface(client, path, item, key), "compreface")
    assert client.get("/healthz").status_code == 200


def test_hostile_names_are_refused_or_kept_exactly(service: tuple[TestClient, str]) -> None:
    client, key = service
    jpeg = {"image": ("a.jpg", photo("obama/obama1.jpg"), "image/jpeg")}
    for bad in ("tab\tname", "nul\x00name", "x" * 201):
        answer = client.post(
            "/v1/vision/face/register", data={"api_key": key, "userid": bad}, files=jpeg
        )
        assert answer.status_code == 400, answer.text
        refused = client.post(
            "/api/v1/recognition/subjects", json={"subject": bad}, headers={"x-api-key": key}
        )
        assert refused.status_code == 400 and refused.json()["code"] == 26, refused.text
    odd = "Zoë'; DROP TABLE identities;-- 🙂"
    added = client.post(
        "/api/v1/recognition/subjects", json={"subject": odd}, headers={"x-api-key": key}
    )
    assert added.json() == {"subject": odd}
    listed = client.post("/v1/vision/face/list", data={"api_key": key}).json()["faces"]
    assert odd in listed


def test_body_and_pixel_caps_answer_in_door_format(
    pipeline: VisionPipeline, tmp_path: Path
) -> None:
    big = photo("multiface/dlib__2008_001322.jpg")
    for client in _start(pipeline, tmp_path, max_body_bytes=len(big) // 2, max_image_pixels=64):
        key = _enroll_key(client, "caps")
        over_body = client.post(
            "/v1/vision/face/recognize",
            data={"api_key": key},
            files={"image": ("big.jpg", big, "image/jpeg")},
        )
        assert over_body.status_code == 413 and over_body.json()["success"] is False
        over_cf = client.post(
            "/api/v1/recognition/recognize",
            files={"file": ("big.jpg", big, "image/jpeg")},
            headers={"x-api-key": key},
        )
        assert over_cf.status_code == 413 and set(over_cf.json()) == {"message", "code"}
        small = photo("obama/obama1.jpg")
        pixels = client.post(
            "/v1/vision/face",
            data={"api_key": key},
            files={"image": ("p.jpg", small, "image/jpeg")},
        )
        assert pixels.status_code == 413 and pixels.json()["success"] is False, pixels.text


def test_rate_limits_apply_per_key(pipeline: VisionPipeline, tmp_path: Path) -> None:
    for client in _start(pipeline, tmp_path, rate_limit_per_minute=1, rate_limit_burst=2):
        key = _enroll_key(client, "limited")
        answers = [client.post("/v1/vision/face/list", data={"api_key": key}) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[2].json()["success"] is False and "Retry-After" in answers[2].headers
        limited = client.get("/api/v1/recognition/subjects", headers={"x-api-key": key})
        assert limited.status_code == 429 and set(limited.json()) == {"message", "code"}


def test_every_compat_route_declares_its_access(service: tuple[TestClient, str]) -> None:
    """Issue 10's route walk covers the doors: each route declares `access(...)` with its own
    credential reader (tests/api/test_access_declared.py walks the whole app too)."""
    client, _ = service
    routes = client.app.routes  # type: ignore[attr-defined]
    compat = {
        (method, c.path)
        for c in iter_route_contexts(routes)
        if (c.path or "").startswith(("/v1/vision/", "/api/v1/"))
        for method in c.methods or ()
    }
    assert len(compat) == 12 + 14  # DeepStack's 6 routes with and without "/", CompreFace's 14
    assert routes_without_access(routes) == []

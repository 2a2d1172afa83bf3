"""What the test packages share, imported from here (never from a conftest, which holds only
fixtures): where the fixtures are, the admin key every test service is started with, and the
photo / collection / identity / enroll / identify / problem helpers that drive the `/v1` API
through any httpx-compatible client (Starlette's TestClient or httpx.Client of a live server)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
PHOTOS = FIXTURES / "photos"
DOCKER = REPO / "docker"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# One admin key for every service a test starts (in process or as a live server).
ADMIN_KEY = "test-admin-" + secrets.token_hex(16)
ADMIN = {"X-API-Key": ADMIN_KEY}


def photo(relative: str) -> bytes:
    """A fixture photo by its path under tests/fixtures/photos, e.g. "obama/obama1.jpg"."""
    return (PHOTOS / relative).read_bytes()


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def _auth(client: Any, headers: Mapping[str, str] | None) -> Mapping[str, str]:
    """The headers asked for; else none when the client carries its own key; else the admin's."""
    if headers is not None:
        return headers
    return {} if "x-api-key" in client.headers else ADMIN


def create_collection(client: Any, name: str, *, headers: Mapping[str, str] | None = None) -> str:
    """The new collection's id."""
    response = client.post("/v1/collections", json={"name": name}, headers=_auth(client, headers))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def add_identity(
    client: Any, cid: object, *, headers: Mapping[str, str] | None = None, **body: object
) -> dict[str, Any]:
    response = client.post(
        f"/v1/collections/{cid}/identities", json=body, headers=_auth(client, headers)
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _file(item: str | bytes) -> tuple[str, tuple[str, bytes, str]]:
    if isinstance(item, bytes):
        return "image", ("face.jpg", item, "image/jpeg")
    return "image", (Path(item).name, photo(item), "image/jpeg")


def enroll(
    client: Any,
    cid: object,
    iid: object,
    *photos: str | bytes,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Enroll fixture photos (by relative path) or raw bytes; the 201 answer."""
    response = client.post(
        f"/v1/collections/{cid}/identities/{iid}/faces",
        files=[_file(p) for p in photos],
        headers=_auth(client, headers),
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def enrolled_face_id(client: Any, cid: object, iid: object, item: str | bytes) -> int:
    """Enroll one photo; the id of its face."""
    return int(enroll(client, cid, iid, item)["faces"][0]["id"])


def identify(
    client: Any,
    cid: object,
    name: str,
    *,
    headers: Mapping[str, str] | None = None,
    **params: object,
) -> dict[str, Any]:
    response = client.post(
        f"/v1/collections/{cid}/identify",
        files=[_file(name)],
        params=params,
        headers=_auth(client, headers),
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def assert_problem(response: Any, status: int, code: str) -> None:
    """An RFC 9457 problem with this status and code, whose body repeats the status."""
    assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body = response.json()
    assert body["code"] == code, body
    assert body["status"] == status, body
    assert isinstance(body.get("detail"), str), body

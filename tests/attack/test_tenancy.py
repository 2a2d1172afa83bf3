"""Tenant isolation: a key of collection A cannot read, search, enroll into or delete from B.

Another tenant's collection answers 404 exactly like a missing one (its existence does not leak),
a role that is too weak answers 403, a missing, unknown or revoked key 401. Every refused write is
followed by a look, as admin, that B is untouched.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.helpers import (
    add_identity,
    assert_problem,
    create_collection,
    enrolled_face_id,
    photo,
)

OBAMA = "obama/obama1.jpg"
OBAMA_PROBE = "obama/obama2.jpg"
BIDEN = "biden/biden2.jpg"
BIDEN_PROBE = "biden/biden.jpg"


@dataclass(frozen=True)
class Tenants:
    a: str  # collection ids
    b: str
    a_identity: str
    b_identity: str
    a_face: int
    b_face: int
    a_keys: dict[str, str]  # role → key
    b_admin_key_id: str


@pytest.fixture(scope="module")
def tenants(service: TestClient) -> Tenants:
    a = create_collection(service, "tenant-a")
    b = create_collection(service, "tenant-b")
    a_identity = add_identity(service, a, external_id="obama")["id"]
    b_identity = add_identity(service, b, external_id="biden")["id"]
    a_face = enrolled_face_id(service, a, a_identity, OBAMA)
    b_face = enrolled_face_id(service, b, b_identity, BIDEN)
    a_keys = {}
    for role in ("identify", "enroll", "admin"):
        created = service.post("/v1/keys", json={"collection_id": a, "role": role})
        assert created.status_code == 201, created.text
        a_keys[role] = created.json()["key"]
    b_admin = service.post("/v1/keys", json={"collection_id": b, "role": "admin"})
    assert b_admin.status_code == 201, b_admin.text
    return Tenants(a, b, a_identity, b_identity, a_face, b_face, a_keys, b_admin.json()["id"])


@pytest.fixture
def as_a(service: TestClient, tenants: Tenants) -> TestClient:
    """The same app, called with A's admin key (the strongest key A has)."""
    return _client_with_key(service, tenants.a_keys["admin"])


def _client_with_key(service: TestClient, key: str) -> TestClient:
    # Not entered as a context manager: that would run the app's lifespan a second time.
    client = TestClient(service.app, raise_server_exceptions=False)
    client.headers["X-API-Key"] = key
    return client


def _files(relative: str, field: str = "image") -> dict[str, tuple[str, bytes, str]]:
    return {field: ("photo.jpg", photo(relative), "image/jpeg")}


def _b_is_intact(service: TestClient, t: Tenants) -> None:
    collection = service.get(f"/v1/collections/{t.b}")
    assert collection.status_code == 200, collection.text
    assert collection.json()["identity_count"] == 1
    identity = service.get(f"/v1/collections/{t.b}/identities/{t.b_identity}")
    assert identity.status_code == 200, identity.text
    assert identity.json()["external_id"] == "biden"
    faces = service.get(f"/v1/collections/{t.b}/identities/{t.b_identity}/faces").json()
    assert [f["id"] for f in faces["items"]] == [t.b_face]


# --- reading --------------------------------------------------------------------------------


def test_key_of_a_cannot_read_collection_b(as_a: TestClient, tenants: Tenants) -> None:
    assert_problem(as_a.get(f"/v1/collections/{tenants.b}"), 404, "not_found")


def test_key_of_a_lists_only_collection_a(as_a: TestClient, tenants: Tenants) -> None:
    listed = as_a.get("/v1/collections")
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["items"]] == [tenants.a]


def test_key_of_a_cannot_list_identities_of_b(as_a: TestClient, tenants: Tenants) -> None:
    assert_problem(as_a.get(f"/v1/collections/{tenants.b}/identities"), 404, "not_found")


def test_key_of_a_cannot_read_an_identity_of_b(as_a: TestClient, tenants: Tenants) -> None:
    response = as_a.get(f"/v1/collections/{tenants.b}/identities/{tenants.b_identity}")
    assert_problem(response, 404, "not_found")


def test_key_of_a_cannot_list_faces_of_b(as_a: TestClient, tenants: Tenants) -> None:
    response = as_a.get(f"/v1/collections/{tenants.b}/identities/{tenants.b_identity}/faces")
    assert_problem(response, 404, "not_found")


def test_identity_of_b_cannot_be_read_through_a_path_of_a(
    as_a: TestClient, tenants: Tenants
) -> None:
    response = as_a.get(f"/v1/collections/{tenants.a}/identities/{tenants.b_identity}")
    assert_problem(response, 404, "not_found")


def test_collection_b_looks_exactly_like_a_missing_collection(
    as_a: TestClient, tenants: Tenants
) -> None:
    missing = str(uuid.uuid4())
    other = as_a.get(f"/v1/collections/{tenants.b}").json()
    absent = as_a.get(f"/v1/collections/{missing}").json()
    assert other["detail"].replace(tenants.b, "ID") == absent["detail"].replace(missing, "ID")
    assert {k: v for k, v in other.items() if k != "detail"} == {
        k: v for k, v in absent.items() if k != "detail"
    }


# --- searching ------------------------------------------------------------------------------


def test_key_of_a_cannot_search_collection_b(as_a: TestClient, tenants: Tenants) -> None:
    response = as_a.post(f"/v1/collections/{tenants.b}/identify", files=_files(BIDEN_PROBE))
    assert_problem(response, 404, "not_found")


def test_key_of_a_cannot_verify_against_an_identity_of_b(
    as_a: TestClient, tenants: Tenants
) -> None:
    response = as_a.post(
        f"/v1/collections/{tenants.b}/identities/{tenants.b_identity}/verify",
        files=_files(BIDEN_PROBE),
    )
    assert_problem(response, 404, "not_found")


def test_identity_of_b_cannot_be_verified_through_a_path_of_a(
    as_a: TestClient, tenants: Tenants
) -> None:
    response = as_a.post(
        f"/v1/collections/{tenants.a}/identities/{tenants.b_identity}/verify",
        files=_files(BIDEN_PROBE),
    )
    assert_problem(response, 404, "not_found")


def test_searching_collection_a_never_returns_identities_of_b(
    as_a: TestClient, tenants: Tenants
) -> None:
    response = as_a.post(f"/v1/collections/{tenants.a}/identify", files=_files(BIDEN_PROBE))
    assert response.status_code == 200, response.text
    found = {c["identity_id"] for f in response.json()["faces"] for c in f["candidates"]}
    assert tenants.b_identity not in found
    assert found <= {tenants.a_identity}


# --- writing --------------------------------------------------------------------------------


def test_key_of_a_cannot_create_an_identity_in_b(
    service: TestClient, as_a: TestClient, tenants: Tenants
) -> None:
    response = as_a.post(f"/v1/collections/{tenants.b}/identities", json={"external_id": "x"})
    assert_problem(response, 404, "not_found")
    _b_is_intact(service, tenants)


def test_key_of_a_cannot_enroll_into_b(
    service: TestClient, as_a: TestClient, tenants: Tenants
) -> None:
    response = as_a.post(
        f"/v1/collections/{tenants.b}/identities/{tenants.b_identity}/faces",
        files=_files(OBAMA_PROBE),
    )
    assert_problem(response, 404, "not_found")
    _b_is_intact(service, tenants)


def test_identity_of_b_cannot_be_enrolled_into_through_a_path_of_a(
    service: TestClient, as_a: TestClient, tenants: Tenants
) -> None:
    response = as_a.post(
        f"/v1/collections/{tenants.a}/identities/{tenants.b_identity}/faces",
        files=_files(OBAMA_PROBE),
    )
    assert_problem(response, 404, "not_found")
    _b_is_intact(service, tenants)


def test_key_of_a_cannot_update_an_identity_of_b(
    service: TestClient, as_a: TestClient, tenants: Tenants
) -> None:
    response = as_a.patch(
        f"/v1/collections/{tenants.b}/identities/{tenants.b_identity}",
        json={"external_id": "hijacked"},
    )
    assert_problem(response, 404, "not_found")
    _b_is_intact(service, tenants)


# --- deleting -------------------------------------------------------------------------------


def test_key_of_a_cannot_delete_a_face_of_b(
    service: TestClient, as_a: TestClient, tenants: Tenants
) -> None:
    response = as_a.delete(
        f"/v1/collections/{tenants.b}/identities/{tenants.b_identity}/faces/{tenants.b_face}"
    )
    assert_problem(response, 404, "not_found")
    _b_is_intact(service, tenants)


def test_face_of_b_cannot_be_deleted_through_a_path_of_a(
    service: TestClient, as_a: TestClient, tenants: Tenants
) -> None:
    mixed = [
        f"/v1/collections/{tenants.a}/identities/{tenants.b_identity}/faces/{tenants.b_face}",
        f"/v1/collections/{tenants.a}/identities/{tenants.a_identity}/faces/{tenants.b_face}",
    ]
    for path in mixed:
        assert_problem(as_a.delete(path), 404, "not_found")
    _b_is_intact(service, tenants)


def test_key_of_a_cannot_delete_an_identity_of_b(
    service: TestClient, as_a: TestClient, tenants: Tenants
) -> None:
    response = as_a.delete(f"/v1/collections/{tenants.b}/identities/{tenants.b_identity}")
    assert_problem(response, 404, "not_found")
    response = as_a.delete(f"/v1/collections/{tenants.a}/identities/{tenants.b_identity}")
    assert_problem(response, 404, "not_found")
    _b_is_intact(service, tenants)


def test_admin_key_of_a_cannot_delete_collection_b(
    service: TestClient, as_a: TestClient, tenants: Tenants
) -> None:
    assert_problem(as_a.delete(f"/v1/collections/{tenants.b}"), 404, "not_found")
    _b_is_intact(service, tenants)


# --- keys -----------------------------------------------------------------------------------


def test_admin_key_of_a_cannot_create_a_key_for_b(as_a: TestClient, tenants: Tenants) -> None:
    response = as_a.post("/v1/keys", json={"collection_id": tenants.b, "role": "admin"})
    assert_problem(response, 404, "not_found")


def test_admin_key_of_a_cannot_create_a_key_for_every_collection(as_a: TestClient) -> None:
    response = as_a.post("/v1/keys", json={"collection_id": None, "role": "identify"})
    assert_problem(response, 403, "forbidden")


def test_admin_key_of_a_lists_only_keys_of_a(as_a: TestClient, tenants: Tenants) -> None:
    listed = as_a.get("/v1/keys")
    assert listed.status_code == 200, listed.text
    assert {k["collection_id"] for k in listed.json()["items"]} == {tenants.a}
    assert all("key" not in k for k in listed.json()["items"])


def test_admin_key_of_a_cannot_revoke_a_key_of_b(
    service: TestClient, as_a: TestClient, tenants: Tenants
) -> None:
    assert_problem(as_a.delete(f"/v1/keys/{tenants.b_admin_key_id}"), 404, "not_found")
    listed = service.get("/v1/keys").json()["items"]
    [b_key] = [k for k in listed if k["id"] == tenants.b_admin_key_id]
    assert b_key["revoked_at"] is None


def test_collection_scoped_admin_key_cannot_create_collections(as_a: TestClient) -> None:
    assert_problem(as_a.post("/v1/collections", json={"name": "escape"}), 403, "forbidden")


# --- roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/collections/{a}/identities", {"external_id": "new"}),
        ("PATCH", "/v1/collections/{a}/identities/{a_identity}", {"display_name": "x"}),
        ("DELETE", "/v1/collections/{a}/identities/{a_identity}", None),
        ("DELETE", "/v1/collections/{a}/identities/{a_identity}/faces/{a_face}", None),
        ("DELETE", "/v1/collections/{a}", None),
        ("POST", "/v1/keys", {"collection_id": "{a}", "role": "identify"}),
    ],
    ids=[
        "create-identity",
        "update-identity",
        "delete-identity",
        "delete-face",
        "delete-collection",
        "create-key",
    ],
)
def test_identify_key_cannot_change_anything(
    service: TestClient, tenants: Tenants, method: str, path: str, body: dict | None
) -> None:
    values = {"a": tenants.a, "a_identity": tenants.a_identity, "a_face": tenants.a_face}
    if body is not None:
        body = {k: v.format(**values) if isinstance(v, str) else v for k, v in body.items()}
    client = _client_with_key(service, tenants.a_keys["identify"])
    response = client.request(method, path.format(**values), json=body)
    assert_problem(response, 403, "forbidden")


def test_identify_key_cannot_enroll(service: TestClient, tenants: Tenants) -> None:
    client = _client_with_key(service, tenants.a_keys["identify"])
    response = client.post(
        f"/v1/collections/{tenants.a}/identities/{tenants.a_identity}/faces",
        files=_files(OBAMA_PROBE),
    )
    assert_problem(response, 403, "forbidden")


def test_identify_key_can_search_its_collection(service: TestClient, tenants: Tenants) -> None:
    client = _client_with_key(service, tenants.a_keys["identify"])
    response = client.post(f"/v1/collections/{tenants.a}/identify", files=_files(OBAMA_PROBE))
    assert response.status_code == 200, response.text
    assert response.json()["faces"][0]["match"]["identity_id"] == tenants.a_identity


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("DELETE", "/v1/collections/{a}", None),
        ("POST", "/v1/keys", {"collection_id": "{a}", "role": "identify"}),
        ("GET", "/v1/keys", None),
    ],
    ids=["delete-collection", "create-key", "list-keys"],
)
def test_enroll_key_cannot_administer(
    service: TestClient, tenants: Tenants, method: str, path: str, body: dict | None
) -> None:
    if body is not None:
        body = {k: v.format(a=tenants.a) if isinstance(v, str) else v for k, v in body.items()}
    client = _client_with_key(service, tenants.a_keys["enroll"])
    response = client.request(method, path.format(a=tenants.a), json=body)
    assert_problem(response, 403, "forbidden")


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["", "wrong", "fm_000000000000_" + "A" * 43, "x" * 10_000],
    ids=["empty", "short", "well-formed-unknown", "very-long"],
)
def test_unknown_key_is_refused(service: TestClient, tenants: Tenants, key: str) -> None:
    client = _client_with_key(service, key)
    assert_problem(client.get(f"/v1/collections/{tenants.a}"), 401, "unauthorized")


def test_request_without_key_is_refused(service: TestClient, tenants: Tenants) -> None:
    client = TestClient(service.app, raise_server_exceptions=False)
    assert_problem(client.get(f"/v1/collections/{tenants.a}"), 401, "unauthorized")


def test_revoked_key_stops_working_at_once(service: TestClient, tenants: Tenants) -> None:
    created = service.post("/v1/keys", json={"collection_id": tenants.a, "role": "identify"})
    assert created.status_code == 201, created.text
    client = _client_with_key(service, created.json()["key"])
    assert client.get(f"/v1/collections/{tenants.a}").status_code == 200
    assert service.delete(f"/v1/keys/{created.json()['id']}").status_code == 204
    assert_problem(client.get(f"/v1/collections/{tenants.a}"), 401, "unauthorized")

"""The audit trail through the API: every write is recorded with who, what, when and which ids;
only admin keys read it, a collection's admin only its own events; no biometric data in it."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.helpers import (
    add_identity,
    assert_problem,
    create_collection,
    enrolled_face_id,
)


@dataclass(frozen=True)
class Scene:
    collection_id: str
    other_collection_id: str
    enroll_key_id: str
    enroll_key: str
    admin_key: str  # admin of collection_id only


@pytest.fixture(scope="module")
def scene(service: TestClient) -> Scene:
    collection_id = create_collection(service, "audited")
    other = create_collection(service, "audited-other")
    add_identity(service, other, external_id="elsewhere")["id"]
    enroll_key = service.post("/v1/keys", json={"collection_id": collection_id, "role": "enroll"})
    admin_key = service.post("/v1/keys", json={"collection_id": collection_id, "role": "admin"})
    assert enroll_key.status_code == admin_key.status_code == 201
    return Scene(
        collection_id,
        other,
        enroll_key.json()["id"],
        enroll_key.json()["key"],
        admin_key.json()["key"],
    )


def _as(service: TestClient, key: str) -> TestClient:
    # Not entered as a context manager: that would run the app's lifespan a second time.
    client = TestClient(service.app, raise_server_exceptions=False)
    client.headers["X-API-Key"] = key
    return client


def _events(client: TestClient, **params: object) -> list[dict]:
    response = client.get("/v1/audit-events", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_enroll_is_recorded_with_the_key_and_the_face_ids(
    service: TestClient, scene: Scene
) -> None:
    client = _as(service, scene.enroll_key)
    identity_id = add_identity(client, scene.collection_id, external_id="enrolled")["id"]
    face_id = enrolled_face_id(client, scene.collection_id, identity_id, "obama/obama1.jpg")
    [event] = _events(service, action="face.enroll", target_id=identity_id)
    assert event["key_id"] == scene.enroll_key_id
    assert event["collection_id"] == scene.collection_id
    assert event["details"] == {"face_ids": [face_id]}
    assert event["created_at"].endswith(("Z", "+00:00"))


def test_identity_creation_is_recorded(service: TestClient, scene: Scene) -> None:
    client = _as(service, scene.enroll_key)
    identity_id = add_identity(client, scene.collection_id, external_id="created")["id"]
    [event] = _events(service, action="identity.create", target_id=identity_id)
    assert (event["key_id"], event["target_type"]) == (scene.enroll_key_id, "identity")


def test_identity_update_names_the_changed_fields(service: TestClient, scene: Scene) -> None:
    identity_id = add_identity(service, scene.collection_id, external_id="renamed")["id"]
    changed = service.patch(
        f"/v1/collections/{scene.collection_id}/identities/{identity_id}",
        json={"display_name": "New Name"},
    )
    assert changed.status_code == 200, changed.text
    [event] = _events(service, action="identity.update", target_id=identity_id)
    assert event["key_id"] == "admin"
    assert event["details"] == {"fields": ["display_name"]}


def test_identity_deletion_lists_every_face_removed(service: TestClient, scene: Scene) -> None:
    identity_id = add_identity(service, scene.collection_id, external_id="deleted")["id"]
    faces = [
        enrolled_face_id(service, scene.collection_id, identity_id, name)
        for name in ("obama/obama1.jpg", "obama/obama2.jpg")
    ]
    deleted = service.delete(f"/v1/collections/{scene.collection_id}/identities/{identity_id}")
    assert deleted.status_code == 204, deleted.text
    [event] = _events(service, action="identity.delete", target_id=identity_id)
    assert sorted(event["details"]["face_ids"]) == sorted(faces)


def test_face_deletion_is_recorded(service: TestClient, scene: Scene) -> None:
    identity_id = add_identity(service, scene.collection_id, external_id="face-deleted")["id"]
    face_id = enrolled_face_id(service, scene.collection_id, identity_id, "biden/biden2.jpg")
    path = f"/v1/collections/{scene.collection_id}/identities/{identity_id}/faces/{face_id}"
    assert service.delete(path).status_code == 204
    [event] = _events(service, action="face.delete", target_id=str(face_id))
    assert event["details"] == {"identity_id": identity_id}


def test_key_creation_and_revocation_are_recorded(service: TestClient, scene: Scene) -> None:
    created = service.post(
        "/v1/keys", json={"collection_id": scene.collection_id, "role": "identify"}
    ).json()
    assert service.delete(f"/v1/keys/{created['id']}").status_code == 204
    [made] = _events(service, action="key.create", target_id=created["id"])
    [revoked] = _events(service, action="key.revoke", target_id=created["id"])
    assert made["details"] == {"role": "identify"}
    assert revoked["key_id"] == "admin"


def test_collection_deletion_is_recorded_and_outlives_the_collection(
    service: TestClient,
) -> None:
    doomed = create_collection(service, "audited-doomed")
    assert service.delete(f"/v1/collections/{doomed}").status_code == 204
    actions = {e["action"] for e in _events(service, collection_id=doomed)}
    assert actions == {"collection.create", "collection.delete"}


def test_refused_write_leaves_no_event(service: TestClient, scene: Scene) -> None:
    add_identity(service, scene.collection_id, external_id="unique-once")["id"]
    before = _events(service, action="identity.create")
    duplicate = service.post(
        f"/v1/collections/{scene.collection_id}/identities", json={"external_id": "unique-once"}
    )
    assert_problem(duplicate, 409, "conflict")
    assert _events(service, action="identity.create") == before


def test_trail_holds_ids_and_counts_but_no_biometric_data(service: TestClient) -> None:
    events = _events(service, limit=500)
    assert events
    for event in events:
        for value in (event["details"] or {}).values():
            items = value if isinstance(value, list) else [value]
            assert not any(isinstance(item, float) for item in items), event
    assert "template" not in json.dumps(events)


def test_collection_admin_sees_only_its_collection(service: TestClient, scene: Scene) -> None:
    client = _as(service, scene.admin_key)
    events = _events(client, limit=500)
    assert events
    assert {e["collection_id"] for e in events} == {scene.collection_id}
    other = client.get("/v1/audit-events", params={"collection_id": scene.other_collection_id})
    assert_problem(other, 404, "not_found")


def test_enroll_key_cannot_read_the_trail(service: TestClient, scene: Scene) -> None:
    client = _as(service, scene.enroll_key)
    assert_problem(client.get("/v1/audit-events"), 403, "forbidden")


def test_trail_pages_backwards_with_before_id(service: TestClient) -> None:
    everything = _events(service, limit=500)
    first = service.get("/v1/audit-events", params={"limit": 2}).json()
    second = _events(service, limit=2, before_id=first["next_before_id"])
    assert [e["id"] for e in first["items"] + second] == [e["id"] for e in everything[:4]]


def test_unknown_action_filter_is_a_validation_error(service: TestClient) -> None:
    response = service.get("/v1/audit-events", params={"action": "face.peek"})
    assert_problem(response, 422, "validation_error")

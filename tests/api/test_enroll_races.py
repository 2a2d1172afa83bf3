"""Deterministic versions of the enroll races of issue 11, on SQLite, PostgreSQL and pgvector.

A hook on the repository's first write of the enroll (`add_faces`, or `add_identity` for
Rekognition's holders) commits a competing change from another connection, exactly between the
enroll's last read and its insert, the window a live race hits only sometimes
(tests/attack/test_enroll_races.py races it for real):

- an identity or collection deleted there: the enroll answers 404 in each door's not-found shape
  (was 409 `conflict`: the foreign keys refused the insert);
- the same photo enrolled there: stored once, the enroll answers 422 `duplicate_image` as a
  sequential re-enroll does (was: two faces of one photo).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from fastapi.testclient import TestClient

from app.db import repositories as repo
from app.db.engine import create_db_engine, session_factory
from tests.helpers import ADMIN, add_identity, create_collection, photo, unique

PHOTO = "obama/obama1.jpg"
# What a competing enroll stores: any template, a box and quality as enroll writes them.
BOX = {"x": 10.0, "y": 10.0, "width": 80.0, "height": 80.0}
QUALITY = {
    "detection_score": 0.99,
    "interocular_px": 40.0,
    "sharpness": 100.0,
    "pose": 0.1,
    "brightness": 120.0,
}
TEMPLATE = np.ones(128, np.float32) / np.sqrt(128)


@contextmanager
def _between_read_and_insert(
    monkeypatch: pytest.MonkeyPatch,
    backend_url: str,
    competitor: Callable[[Any], None],
    *,
    write: str = "add_faces",
) -> Iterator[list[int]]:
    """Run `competitor(session)` on its own connection and commit it, once, just before the
    enroll's first `write`; yields a list that counts the hook's runs."""
    original = getattr(repo, write)
    ran: list[int] = []
    engine = create_db_engine(backend_url)

    def hooked(*args: Any, **kwargs: Any) -> Any:
        if not ran:
            ran.append(1)
            with session_factory(engine)() as other:
                competitor(other)
                other.commit()
        return original(*args, **kwargs)

    monkeypatch.setattr(repo, write, hooked)
    try:
        yield ran
    finally:
        monkeypatch.setattr(repo, write, original)
        engine.dispose()


def _delete_identity(collection_id: str, identity_id: str) -> Callable[[Any], None]:
    def delete(session: Any) -> None:
        identity = repo.get_identity(
            session, collection_id=uuid.UUID(collection_id), identity_id=uuid.UUID(identity_id)
        )
        assert identity is not None
        repo.delete_identity(session, identity)

    return delete


def _delete_collection(collection_id: str) -> Callable[[Any], None]:
    def delete(session: Any) -> None:
        collection = repo.get_collection(session, uuid.UUID(collection_id))
        assert collection is not None
        repo.delete_collection(session, collection)

    return delete


def _enroll(client: TestClient, cid: str, iid: str) -> Any:
    return client.post(
        f"/v1/collections/{cid}/identities/{iid}/faces",
        files=[("image", ("p.jpg", photo(PHOTO), "image/jpeg"))],
        headers=ADMIN,
    )


# --- /v1 ----------------------------------------------------------------------------------------


def test_identity_deleted_between_lookup_and_insert_is_404(
    client: TestClient, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = create_collection(client, unique("race"))
    iid = add_identity(client, cid)["id"]
    with _between_read_and_insert(monkeypatch, backend_url, _delete_identity(cid, iid)) as ran:
        answer = _enroll(client, cid, iid)
    assert ran, "the hook never ran"
    assert answer.status_code == 404, answer.text
    assert answer.json()["code"] == "not_found"
    assert client.get(f"/v1/collections/{cid}", headers=ADMIN).json()["face_count"] == 0


def test_collection_deleted_between_lookup_and_insert_is_404(
    client: TestClient, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = create_collection(client, unique("race"))
    iid = add_identity(client, cid)["id"]
    with _between_read_and_insert(monkeypatch, backend_url, _delete_collection(cid)) as ran:
        answer = _enroll(client, cid, iid)
    assert ran
    assert answer.status_code == 404, answer.text
    assert answer.json()["code"] == "not_found"
    assert client.get(f"/v1/collections/{cid}", headers=ADMIN).status_code == 404


def test_same_photo_enrolled_between_check_and_insert_is_stored_once(
    client: TestClient, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = create_collection(client, unique("race"))
    iid = add_identity(client, cid)["id"]
    digest = hashlib.sha256(photo(PHOTO)).hexdigest()

    def enroll_it_first(session: Any) -> None:
        identity = repo.get_identity(
            session, collection_id=uuid.UUID(cid), identity_id=uuid.UUID(iid)
        )
        assert identity is not None
        repo.add_faces(
            session, identity=identity, model_id=model_id, faces=[(TEMPLATE, BOX, QUALITY, digest)]
        )

    model_id = client.get(f"/v1/collections/{cid}", headers=ADMIN).json()["model_id"]
    with _between_read_and_insert(monkeypatch, backend_url, enroll_it_first) as ran:
        answer = _enroll(client, cid, iid)
    assert ran
    # What a sequential re-enroll of the photo answers.
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "duplicate_image"
    faces = client.get(f"/v1/collections/{cid}/identities/{iid}/faces", headers=ADMIN).json()
    assert faces["total"] == 1, faces


def test_a_batch_keeps_its_other_photos_when_one_was_enrolled_meanwhile(
    client: TestClient, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = create_collection(client, unique("race"))
    iid = add_identity(client, cid)["id"]
    first, second = photo("obama/obama1.jpg"), photo("obama/obama2.jpg")
    model_id = client.get(f"/v1/collections/{cid}", headers=ADMIN).json()["model_id"]

    def enroll_first_photo(session: Any) -> None:
        identity = repo.get_identity(
            session, collection_id=uuid.UUID(cid), identity_id=uuid.UUID(iid)
        )
        assert identity is not None
        digest = hashlib.sha256(first).hexdigest()
        repo.add_faces(
            session, identity=identity, model_id=model_id, faces=[(TEMPLATE, BOX, QUALITY, digest)]
        )

    with _between_read_and_insert(monkeypatch, backend_url, enroll_first_photo):
        answer = client.post(
            f"/v1/collections/{cid}/identities/{iid}/faces",
            files=[
                ("image", ("1.jpg", first, "image/jpeg")),
                ("image", ("2.jpg", second, "image/jpeg")),
            ],
            headers=ADMIN,
        )
    # As a sequential enroll of both after the first was stored: one stored, one duplicate.
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert len(body["faces"]) == 1
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(0, "duplicate_image")]
    faces = client.get(f"/v1/collections/{cid}/identities/{iid}/faces", headers=ADMIN).json()
    assert faces["total"] == 2, faces


# --- the doors ----------------------------------------------------------------------------------


def _scoped_key(client: TestClient, cid: str, **extra: str) -> dict[str, Any]:
    created = client.post(
        "/v1/keys", json={"role": "enroll", "collection_id": cid, **extra}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    key: dict[str, Any] = created.json()
    return key


@pytest.mark.parametrize("gone", ["subject", "collection"])
def test_deepstack_register_answers_not_found_in_its_shape(
    client: TestClient, backend_url: str, monkeypatch: pytest.MonkeyPatch, gone: str
) -> None:
    cid = create_collection(client, unique("ds"))
    key = _scoped_key(client, cid)["key"]
    iid = add_identity(client, cid, external_id="bob")["id"]
    competitor = _delete_identity(cid, iid) if gone == "subject" else _delete_collection(cid)
    with _between_read_and_insert(monkeypatch, backend_url, competitor) as ran:
        answer = client.post(
            "/v1/vision/face/register",
            data={"api_key": key, "userid": "bob"},
            files=[("image", ("p.jpg", photo(PHOTO), "image/jpeg"))],
        )
    assert ran
    assert answer.status_code == 404, answer.text
    body = answer.json()
    assert body["success"] is False and "not found" in body["error"], body


@pytest.mark.parametrize("gone", ["subject", "collection"])
def test_compreface_add_answers_not_found_in_its_shape(
    client: TestClient, backend_url: str, monkeypatch: pytest.MonkeyPatch, gone: str
) -> None:
    cid = create_collection(client, unique("cf"))
    key = _scoped_key(client, cid)["key"]
    iid = add_identity(client, cid, external_id="bob")["id"]
    competitor = _delete_identity(cid, iid) if gone == "subject" else _delete_collection(cid)
    with _between_read_and_insert(monkeypatch, backend_url, competitor) as ran:
        answer = client.post(
            "/api/v1/recognition/faces",
            params={"subject": "bob"},
            files=[("file", ("p.jpg", photo(PHOTO), "image/jpeg"))],
            headers={"x-api-key": key},
        )
    assert ran
    assert answer.status_code == 404, answer.text
    assert answer.json()["code"] == 11, answer.json()


def _rekognition(client: TestClient, key: dict[str, Any], target: str, body: dict) -> Any:
    data = json.dumps(body).encode()
    request = AWSRequest(
        method="POST",
        url="http://testserver/",
        data=data,
        headers={
            "X-Amz-Target": f"RekognitionService.{target}",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    credentials = Credentials(key["access_key_id"], key["secret_access_key"])
    SigV4Auth(credentials, "rekognition", "eu-central-1").add_auth(request)
    return client.post("/", content=data, headers=dict(request.headers.items()))


def test_rekognition_index_faces_answers_resource_not_found(
    client: TestClient, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique("rk")
    cid = create_collection(client, name)
    created = client.post(
        "/v1/keys", json={"role": "admin", "kind": "sigv4", "collection_id": None}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    key = created.json()
    image = {"Image": {"Bytes": base64.b64encode(photo(PHOTO)).decode()}}
    with _between_read_and_insert(
        monkeypatch, backend_url, _delete_collection(cid), write="add_identity"
    ) as ran:
        answer = _rekognition(client, key, "IndexFaces", {"CollectionId": name, **image})
    assert ran
    assert answer.status_code == 400, answer.text
    assert answer.json()["__type"] == "ResourceNotFoundException", answer.json()


def test_rekognition_may_still_put_two_faces_of_one_photo_into_one_user(
    client: TestClient,
) -> None:
    """Why the unique index is partial: IndexFaces of one photo twice gives two faces, and
    AssociateFaces may give both to one user, as Rekognition allows."""
    name = unique("rk")
    create_collection(client, name)
    created = client.post(
        "/v1/keys", json={"role": "admin", "kind": "sigv4", "collection_id": None}, headers=ADMIN
    )
    key = created.json()
    image = {"Image": {"Bytes": base64.b64encode(photo(PHOTO)).decode()}}
    face_ids = []
    for _ in range(2):
        indexed = _rekognition(client, key, "IndexFaces", {"CollectionId": name, **image})
        assert indexed.status_code == 200, indexed.text
        face_ids += [r["Face"]["FaceId"] for r in indexed.json()["FaceRecords"]]
    assert len(set(face_ids)) == 2
    user = {"CollectionId": name, "UserId": "u1"}
    assert _rekognition(client, key, "CreateUser", user).status_code == 200
    associated = _rekognition(client, key, "AssociateFaces", {**user, "FaceIds": face_ids})
    assert associated.status_code == 200, associated.text
    assert sorted(f["FaceId"] for f in associated.json()["AssociatedFaces"]) == sorted(face_ids)

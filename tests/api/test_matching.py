"""Enroll, identify, verify and detect with the real models on real photos."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from app.db import repositories as repo
from app.db.engine import create_db_engine, session_factory
from app.vision.pipeline import VisionPipeline
from tests.helpers import ADMIN, add_identity, enroll, identify, photo, unique

OBAMA_ENROLL = ("obama/obama.jpg", "obama/obama1.jpg", "obama/obama2.jpg")
STRANGERS = "multiface/dlib__2008_001322.jpg"  # people never enrolled anywhere
TWO_FACES = "multiface/face_recognition__obama_and_biden.jpg"
DOG = "nonface/dlib__dog.jpg"


@pytest.fixture(scope="module")
def gallery(client: TestClient) -> dict:
    """obama (3 photos) and biden (1 photo) enrolled in a fresh collection."""
    cid = client.post("/v1/collections", json={"name": unique("gallery")}, headers=ADMIN).json()[
        "id"
    ]
    obama = add_identity(client, cid, external_id="obama", display_name="Barack Obama")
    biden = add_identity(client, cid, external_id="biden", display_name="Joe Biden")
    enrolled = enroll(client, cid, obama["id"], *OBAMA_ENROLL)
    enroll(client, cid, biden["id"], "biden/biden.jpg")
    return {"cid": cid, "obama": obama["id"], "biden": biden["id"], "obama_faces": enrolled}


def _only_face(result: dict) -> dict:
    assert len(result["faces"]) == 1, result
    return result["faces"][0]


def test_enroll_returns_one_face_per_photo(gallery: dict) -> None:
    faces = gallery["obama_faces"]["faces"]
    assert len(faces) == 3 and gallery["obama_faces"]["rejected"] == []
    assert all(f["box"]["width"] > 40 and f["identity_id"] == gallery["obama"] for f in faces)


def test_identify_fourth_obama_photo_matches_obama(client: TestClient, gallery: dict) -> None:
    face = _only_face(identify(client, gallery["cid"], "obama/obama3.jpg"))
    assert face["match"]["external_id"] == "obama"
    assert face["candidates"][0]["identity_id"] == gallery["obama"]
    assert face["candidates"][0]["similarity"] >= face["match"]["similarity"] - 1e-9


def test_identify_second_biden_photo_matches_biden(client: TestClient, gallery: dict) -> None:
    face = _only_face(identify(client, gallery["cid"], "biden/biden2.jpg"))
    assert face["match"]["external_id"] == "biden"


def test_candidates_are_identities_best_first(client: TestClient, gallery: dict) -> None:
    face = _only_face(identify(client, gallery["cid"], "obama/obama3.jpg"))
    ids = [c["identity_id"] for c in face["candidates"]]
    sims = [c["similarity"] for c in face["candidates"]]
    assert len(ids) == len(set(ids)) == 2  # obama's three faces count once
    assert sims == sorted(sims, reverse=True)
    assert all(0 <= c["estimated_far"] <= 1 for c in face["candidates"])


def test_people_never_enrolled_have_no_match(client: TestClient, gallery: dict) -> None:
    result = identify(client, gallery["cid"], STRANGERS)
    assert len(result["faces"]) >= 2
    assert all(f["match"] is None for f in result["faces"])


def test_two_face_photo_identifies_both(client: TestClient, gallery: dict) -> None:
    result = identify(client, gallery["cid"], TWO_FACES)
    matches = {f["match"]["external_id"] for f in result["faces"] if f["match"]}
    assert matches == {"obama", "biden"}


def test_faces_largest_searches_one_face(client: TestClient, gallery: dict) -> None:
    result = identify(client, gallery["cid"], TWO_FACES, faces="largest")
    assert len(result["faces"]) == 1


def test_threshold_override_above_every_score_gives_no_match(
    client: TestClient, gallery: dict
) -> None:
    face = _only_face(identify(client, gallery["cid"], "obama/obama3.jpg", threshold=0.9999))
    assert face["match"] is None and face["candidates"]


def test_dog_photo_identifies_no_faces(client: TestClient, gallery: dict) -> None:
    assert identify(client, gallery["cid"], DOG)["faces"] == []


def test_detect_finds_several_faces_largest_first(client: TestClient) -> None:
    files = {"image": ("g.jpg", photo(STRANGERS), "image/jpeg")}
    faces = client.post("/v1/detect", files=files, headers=ADMIN).json()["faces"]
    assert len(faces) >= 2
    areas = [f["box"]["width"] * f["box"]["height"] for f in faces]
    assert areas == sorted(areas, reverse=True)
    assert all(len(f["landmarks"]) == 5 for f in faces)


def test_detect_dog_is_empty(client: TestClient) -> None:
    files = {"image": ("d.jpg", photo(DOG), "image/jpeg")}
    assert client.post("/v1/detect", files=files, headers=ADMIN).json() == {"faces": []}


def test_detect_honours_max_faces(client: TestClient) -> None:
    files = {"image": ("g.jpg", photo(STRANGERS), "image/jpeg")}
    response = client.post("/v1/detect", files=files, params={"max_faces": 1}, headers=ADMIN)
    assert len(response.json()["faces"]) == 1


def _verify(client: TestClient, a: str, b: str) -> dict:
    files = [
        ("image_a", ("a.jpg", photo(a), "image/jpeg")),
        ("image_b", ("b.jpg", photo(b), "image/jpeg")),
    ]
    response = client.post("/v1/verify", files=files, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def test_verify_same_person_matches(client: TestClient) -> None:
    result = _verify(client, "obama/obama1.jpg", "obama/obama3.jpg")
    assert result["match"] is True and result["similarity"] >= result["threshold"]


def test_verify_different_people_do_not_match(client: TestClient) -> None:
    result = _verify(client, "obama/obama1.jpg", "biden/biden.jpg")
    assert result["match"] is False and result["similarity"] < result["threshold"]


def test_verify_with_base64_json(client: TestClient) -> None:
    body = {
        "image_a": base64.b64encode(photo("biden/biden.jpg")).decode(),
        "image_b": base64.b64encode(photo("biden/biden2.jpg")).decode(),
    }
    response = client.post("/v1/verify", json=body, headers=ADMIN)
    assert response.status_code == 200 and response.json()["match"] is True


def test_verify_without_a_face_is_no_face(client: TestClient) -> None:
    files = [
        ("image_a", ("a.jpg", photo("obama/obama1.jpg"), "image/jpeg")),
        ("image_b", ("b.jpg", photo(DOG), "image/jpeg")),
    ]
    response = client.post("/v1/verify", files=files, headers=ADMIN)
    assert response.status_code == 422 and response.json()["code"] == "no_face"


def test_verify_against_an_identity(client: TestClient, gallery: dict) -> None:
    url = f"/v1/collections/{gallery['cid']}/identities/{gallery['obama']}/verify"
    same = client.post(url, files={"image": ("o.jpg", photo("obama/obama3.jpg"))}, headers=ADMIN)
    other = client.post(url, files={"image": ("b.jpg", photo("biden/biden2.jpg"))}, headers=ADMIN)
    assert same.json()["match"] is True and other.json()["match"] is False
    assert same.json()["face_id"] in {f["id"] for f in gallery["obama_faces"]["faces"]}


def test_enroll_dog_is_422_no_face(client: TestClient, gallery: dict) -> None:
    url = f"/v1/collections/{gallery['cid']}/identities/{gallery['biden']}/faces"
    response = client.post(url, files={"image": ("d.jpg", photo(DOG))}, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["code"] == "no_face"
    assert response.json()["rejected"][0]["index"] == 0


def test_enroll_two_face_photo_is_multiple_faces(client: TestClient, collection: dict) -> None:
    identity = add_identity(client, collection["id"])
    url = f"/v1/collections/{collection['id']}/identities/{identity['id']}/faces"
    response = client.post(url, files={"image": ("t.jpg", photo(TWO_FACES))}, headers=ADMIN)
    assert response.status_code == 422 and response.json()["code"] == "multiple_faces"


def test_enroll_face_largest_takes_the_largest_face(client: TestClient, collection: dict) -> None:
    identity = add_identity(client, collection["id"])
    url = f"/v1/collections/{collection['id']}/identities/{identity['id']}/faces"
    response = client.post(
        url, files={"image": ("t.jpg", photo(TWO_FACES))}, params={"face": "largest"}, headers=ADMIN
    )
    assert response.status_code == 201 and len(response.json()["faces"]) == 1


def test_enroll_mixed_batch_lists_rejections(client: TestClient, collection: dict) -> None:
    identity = add_identity(client, collection["id"])
    result = enroll(client, collection["id"], identity["id"], "biden/biden.jpg", DOG)
    assert len(result["faces"]) == 1
    assert [(r["index"], r["code"]) for r in result["rejected"]] == [(1, "no_face")]


def test_the_same_photo_twice_is_a_duplicate(client: TestClient, collection: dict) -> None:
    identity = add_identity(client, collection["id"])
    enroll(client, collection["id"], identity["id"], "biden/biden.jpg")
    url = f"/v1/collections/{collection['id']}/identities/{identity['id']}/faces"
    again = client.post(url, files={"image": ("b.jpg", photo("biden/biden.jpg"))}, headers=ADMIN)
    assert again.status_code == 422 and again.json()["code"] == "duplicate_image"


def test_deleted_identity_is_gone_from_identify(client: TestClient, collection: dict) -> None:
    cid = collection["id"]
    biden = add_identity(client, cid, external_id="biden")
    enroll(client, cid, biden["id"], "biden/biden.jpg")
    assert _only_face(identify(client, cid, "biden/biden2.jpg"))["match"] is not None
    assert (
        client.delete(f"/v1/collections/{cid}/identities/{biden['id']}", headers=ADMIN).status_code
        == 204
    )
    assert _only_face(identify(client, cid, "biden/biden2.jpg"))["candidates"] == []


def test_deleted_face_is_gone_from_identify(client: TestClient, collection: dict) -> None:
    cid = collection["id"]
    biden = add_identity(client, cid, external_id="biden")
    face_id = enroll(client, cid, biden["id"], "biden/biden.jpg")["faces"][0]["id"]
    url = f"/v1/collections/{cid}/identities/{biden['id']}/faces"
    assert client.get(url, headers=ADMIN).json()["total"] == 1
    assert client.delete(f"{url}/{face_id}", headers=ADMIN).status_code == 204
    assert client.get(url, headers=ADMIN).json()["total"] == 0
    assert _only_face(identify(client, cid, "biden/biden2.jpg"))["candidates"] == []


def test_collection_counts_follow_enrollment(client: TestClient, gallery: dict) -> None:
    body = client.get(f"/v1/collections/{gallery['cid']}", headers=ADMIN).json()
    assert body["identity_count"] == 2 and body["face_count"] == 4


def test_restart_on_the_same_database_gives_identical_results(
    client: TestClient, gallery: dict, start_app: Callable[..., TestClient]
) -> None:
    before = [identify(client, gallery["cid"], n) for n in ("obama/obama3.jpg", TWO_FACES)]
    with start_app() as restarted:
        after = [identify(restarted, gallery["cid"], n) for n in ("obama/obama3.jpg", TWO_FACES)]
    assert after == before


def test_identify_role_key_can_identify_but_not_enroll(client: TestClient, gallery: dict) -> None:
    key = client.post(
        "/v1/keys", json={"collection_id": gallery["cid"], "role": "identify"}, headers=ADMIN
    ).json()["key"]
    headers = {"X-API-Key": key}
    files = {"image": ("o.jpg", photo("obama/obama3.jpg"))}
    ok = client.post(f"/v1/collections/{gallery['cid']}/identify", files=files, headers=headers)
    assert ok.status_code == 200
    url = f"/v1/collections/{gallery['cid']}/identities/{gallery['obama']}/faces"
    assert client.post(url, files=files, headers=headers).status_code == 403


def _collection_with_model(backend_url: str, model_id: str) -> str:
    engine = create_db_engine(backend_url)
    try:
        with session_factory(engine)() as session:
            collection = repo.add_collection(session, name=unique("m"), model_id=model_id)
            session.commit()
            return str(collection.id)
    finally:
        engine.dispose()


def test_collection_of_another_network_is_409_model_mismatch(
    client: TestClient, backend_url: str
) -> None:
    cid = _collection_with_model(backend_url, "arcface-r100@0123abcd")
    files = {"image": ("o.jpg", photo("obama/obama3.jpg"))}
    response = client.post(f"/v1/collections/{cid}/identify", files=files, headers=ADMIN)
    assert response.status_code == 409 and response.json()["code"] == "model_mismatch"


def test_re_export_of_the_same_network_still_serves(
    client: TestClient, backend_url: str, pipeline: VisionPipeline
) -> None:
    network = pipeline.model_id.split("@")[0]
    cid = _collection_with_model(backend_url, f"{network}@00000000")
    assert identify(client, cid, "obama/obama3.jpg")["faces"][0]["candidates"] == []


def test_identify_is_audited_with_ids_only(client: TestClient, gallery: dict) -> None:
    identify(client, gallery["cid"], "obama/obama3.jpg")
    events = client.get(
        "/v1/audit-events", params={"action": "identify", "limit": 5}, headers=ADMIN
    ).json()["items"]
    mine = [e for e in events if e["collection_id"] == gallery["cid"]]
    assert mine and mine[0]["key_id"] == "admin"
    assert mine[0]["details"]["matched_identity_ids"] == [gallery["obama"]]
    assert "similarity" not in str(mine[0]["details"])


def test_enroll_and_delete_leave_audit_events(client: TestClient, collection: dict) -> None:
    identity = add_identity(client, collection["id"], external_id="audited")
    enroll(client, collection["id"], identity["id"], "biden/biden.jpg")
    client.delete(f"/v1/collections/{collection['id']}/identities/{identity['id']}", headers=ADMIN)
    events = client.get(
        "/v1/audit-events", params={"target_id": identity["id"]}, headers=ADMIN
    ).json()["items"]
    assert {"identity.create", "face.enroll", "identity.delete"} <= {e["action"] for e in events}

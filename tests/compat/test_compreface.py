"""The CompreFace door, driven by the real `compreface-sdk` and by Double Take's exact requests,
against a live server on real photos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from compreface import CompreFace
from compreface.collections import FaceCollection
from compreface.collections.face_collections import Subjects
from compreface.service import RecognitionService

from tests.compat.tenants import Tenants
from tests.helpers import ADMIN_KEY, PHOTOS, photo

API = "/api/v1/recognition"
NO_FACE = {"message": "No face is found in the given image", "code": 28}


def sdk(live: Tenants) -> CompreFace:
    return CompreFace(domain="http://127.0.0.1", port=str(live.port))


def recognition(live: Tenants, key: str) -> RecognitionService:
    return sdk(live).init_face_recognition(key)


def path(relative: str) -> str:
    return str(PHOTOS / relative)


def call(live: Tenants, method: str, url: str, key: str | None, **kwargs: Any) -> httpx.Response:
    headers = {"x-api-key": key} if key is not None else {}
    return httpx.request(method, f"{live.url}{url}", headers=headers, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def enrolled(live: Tenants) -> dict[str, str]:
    """obama (two photos) and biden added through the SDK's face collection; their image ids."""
    faces: FaceCollection = recognition(live, live.enroll_a).get_face_collection()
    ids = {}
    for name, image in (
        ("obama", "obama/obama.jpg"),
        ("obama", "obama/obama1.jpg"),
        ("biden", "biden/biden.jpg"),
    ):
        added = faces.add(image_path=path(image), subject=name)
        assert set(added) == {"image_id", "subject"} and added["subject"] == name
        ids[image] = added["image_id"]
    return ids


def test_face_collection_lists_with_compreface_paging(
    live: Tenants, enrolled: dict[str, str]
) -> None:
    listed = recognition(live, live.identify_a).get_face_collection().list()
    assert set(listed) == {"faces", "page_number", "page_size", "total_pages", "total_elements"}
    assert listed["total_elements"] == 3 and listed["page_number"] == 0
    assert {f["image_id"] for f in listed["faces"]} == set(enrolled.values())
    page = call(live, "GET", f"{API}/faces", live.identify_a, params={"page": 1, "size": 2}).json()
    assert (page["page_number"], page["page_size"], page["total_pages"]) == (1, 2, 2)
    assert len(page["faces"]) == 1
    only = call(live, "GET", f"{API}/faces", live.identify_a, params={"subject": "biden"}).json()
    assert [f["subject"] for f in only["faces"]] == ["biden"]


def test_recognize_names_new_photos(live: Tenants, enrolled: dict[str, str]) -> None:
    service = recognition(live, live.identify_a)
    for image, name in (("obama/obama3.jpg", "obama"), ("biden/biden2.jpg", "biden")):
        [face] = service.recognize(image_path=path(image))["result"]
        assert set(face) == {"box", "subjects"}
        assert set(face["box"]) == {"probability", "x_max", "y_max", "x_min", "y_min"}
        [best] = face["subjects"]
        assert best["subject"] == name and best["similarity"] >= 0.5  # CompreFace's threshold


def test_recognize_options_plugins_and_status(live: Tenants, enrolled: dict[str, str]) -> None:
    answer = recognition(live, live.identify_a).recognize(
        image_path=path("obama/obama3.jpg"),
        options={
            "limit": 0,
            "prediction_count": 2,
            "det_prob_threshold": 0.8,
            "face_plugins": "landmarks,calculator,age,gender",
            "status": True,
        },
    )
    [face] = answer["result"]
    assert [s["subject"] for s in face["subjects"]] == ["obama", "biden"]
    assert face["subjects"][0]["similarity"] > face["subjects"][1]["similarity"]
    assert len(face["landmarks"]) == 5 and len(face["embedding"]) == 128
    assert {"detector", "calculator"} <= set(face["execution_time"])
    assert set(answer["plugins_versions"]) == {"detector", "calculator"}


def test_group_photo_and_no_face(live: Tenants, enrolled: dict[str, str]) -> None:
    service = recognition(live, live.identify_a)
    group = service.recognize(image_path=path("multiface/dlib__2008_001322.jpg"))["result"]
    assert len(group) == 3
    # Three strangers: nobody reaches CompreFace's recommended 0.5.
    assert all(s["similarity"] < 0.5 for face in group for s in face["subjects"])
    assert service.recognize(image_path=path("nonface/dlib__dog.jpg")) == NO_FACE


def test_an_unenrolled_person_scores_below_client_defaults(
    live: Tenants, enrolled: dict[str, str], shared_data: Path
) -> None:
    people = shared_data / "photos" / "identities" / "kit_harington"
    if not people.is_dir():
        pytest.skip(f"no photos of an unenrolled person in {people}")
    service = recognition(live, live.identify_a)
    for image in sorted(people.iterdir())[:2]:
        for face in service.recognize(image_path=str(image))["result"]:
            assert all(s["similarity"] < 0.5 for s in face["subjects"]), image


def test_verify_against_an_example(live: Tenants, enrolled: dict[str, str]) -> None:
    faces = recognition(live, live.identify_a).get_face_collection()
    same = faces.verify(image_path=path("obama/obama2.jpg"), image_id=enrolled["obama/obama.jpg"])
    other = faces.verify(image_path=path("biden/biden2.jpg"), image_id=enrolled["obama/obama.jpg"])
    assert same["result"][0]["similarity"] >= 0.5 > other["result"][0]["similarity"]
    missing = faces.verify(
        image_path=path("obama/obama2.jpg"), image_id="00000000-0000-0000-0000-0000000fffff"
    )
    assert missing["code"] == 11


def test_subjects_add_list_rename_merge_delete(live: Tenants, enrolled: dict[str, str]) -> None:
    recog = recognition(live, live.enroll_a)
    subjects: Subjects = recog.get_subjects()
    faces = recog.get_face_collection()
    assert subjects.add("carol") == {"subject": "carol"}
    assert subjects.add("carol")["code"] == 26  # exists already
    assert {"obama", "biden", "carol"} <= set(subjects.list()["subjects"])
    assert subjects.update("carol", "caroline") == {"updated": True}
    # Renaming onto an existing subject merges: dave's face moves to caroline.
    faces.add(image_path=path("biden/biden2.jpg"), subject="dave")
    assert subjects.update("dave", "caroline") == {"updated": True}
    names = subjects.list()["subjects"]
    assert "dave" not in names and "caroline" in names
    listed = call(live, "GET", f"{API}/faces", live.enroll_a, params={"subject": "caroline"})
    assert listed.json()["total_elements"] == 1
    assert subjects.delete("caroline") == {"subject": "caroline"}
    assert subjects.delete("caroline")["code"] == 11


def test_examples_delete_by_id_by_subject_and_in_bulk(
    live: Tenants, enrolled: dict[str, str]
) -> None:
    faces = recognition(live, live.enroll_a).get_face_collection()
    first = faces.add(image_path=path("obama/obama2.jpg"), subject="eve")
    again = faces.add(image_path=path("obama/obama2.jpg"), subject="eve")
    assert again == first  # the same photo twice is one face (a retried upload)
    second = faces.add(image_path=path("obama/obama3.jpg"), subject="eve")
    assert faces.delete(first["image_id"]) == first
    assert faces.delete(first["image_id"])["code"] == 11
    third = faces.add(image_path=path("biden/biden2.jpg"), subject="eve")
    bulk = call(
        live,
        "POST",
        f"{API}/faces/delete",
        live.enroll_a,
        json=[second["image_id"], "not-an-id", "00000000-0000-0000-0000-0000000fffff"],
    )
    assert bulk.status_code == 200 and bulk.json() == [second]
    assert faces.delete_all("eve") == {"deleted": 1}
    assert third["image_id"] not in {f["image_id"] for f in faces.list()["faces"]}


def test_detection_and_verification_services(live: Tenants, enrolled: dict[str, str]) -> None:
    detection = sdk(live).init_face_detection(live.identify_a)
    found = detection.detect(image_path=path("multiface/dlib__2008_001322.jpg"))
    assert len(found["result"]) == 3
    assert detection.detect(image_path=path("nonface/dlib__dog.jpg")) == NO_FACE
    verification = sdk(live).init_face_verification(live.identify_a)
    same = verification.verify(path("obama/obama1.jpg"), path("obama/obama2.jpg"))
    [item] = same["result"]
    assert set(item) == {"source_image_face", "face_matches"}
    assert item["face_matches"][0]["similarity"] >= 0.5
    group = verification.verify(
        path("obama/obama1.jpg"), path("multiface/face_recognition__obama_and_biden.jpg")
    )["result"][0]["face_matches"]
    assert max(m["similarity"] for m in group) >= 0.5 > min(m["similarity"] for m in group)


def test_base64_json_bodies(live: Tenants, enrolled: dict[str, str]) -> None:
    import base64

    encoded = base64.b64encode(photo("obama/obama3.jpg")).decode()
    answer = call(live, "POST", f"{API}/recognize", live.identify_a, json={"file": encoded})
    assert answer.status_code == 200
    assert answer.json()["result"][0]["subjects"][0]["subject"] == "obama"


def test_double_take_requests_replayed(live: Tenants, enrolled: dict[str, str]) -> None:
    """Double Take's compreface detector: train = `faces?subject=` with `file`; recognize =
    `recognize?face_plugins=...` with `det_prob_threshold` and `file`; remove =
    `DELETE faces?subject=`. Its normalize() reads `result[].subjects[0].similarity` and
    treats `code: 28` as no faces."""
    trained = call(
        live,
        "POST",
        f"{API}/faces",
        live.enroll_a,
        params={"subject": "frank"},
        files={"file": ("train.jpg", photo("biden/biden2.jpg"), "image/jpeg")},
    )
    assert trained.status_code == 201 and trained.json()["subject"] == "frank"
    for plugins in ("undefined", "mask,gender,age,pose"):
        recognized = call(
            live,
            "POST",
            f"{API}/recognize?face_plugins={plugins}",
            live.identify_a,
            params={"det_prob_threshold": 0.8},
            files={"file": ("latest.jpg", photo("obama/obama3.jpg"), "image/jpeg")},
        )
        assert recognized.status_code == 200
        [face] = recognized.json()["result"]
        assert face["subjects"][0]["subject"] == "obama"
        assert face["subjects"][0]["similarity"] * 100 >= 60  # Double Take's match confidence
    none = call(
        live,
        "POST",
        f"{API}/recognize",
        live.identify_a,
        files={"file": ("dog.jpg", photo("nonface/dlib__dog.jpg"), "image/jpeg")},
    )
    assert (none.status_code, none.json()) == (400, NO_FACE)
    removed = call(live, "DELETE", f"{API}/faces", live.enroll_a, params={"subject": "frank"})
    assert removed.json() == {"deleted": 1}


def test_tenancy_holds(live: Tenants, enrolled: dict[str, str]) -> None:
    other = recognition(live, live.enroll_b)
    assert other.get_subjects().list() == {"subjects": []}
    assert other.get_face_collection().list()["total_elements"] == 0
    [face] = other.recognize(image_path=path("obama/obama3.jpg"))["result"]
    assert face["subjects"] == []
    assert other.get_face_collection().delete(enrolled["biden/biden.jpg"])["code"] == 11
    verified = other.get_face_collection().verify(
        image_path=path("obama/obama2.jpg"), image_id=enrolled["obama/obama.jpg"]
    )
    assert verified["code"] == 11
    assert other.get_face_collection().delete_all("obama") == {"deleted": 0}
    assert "obama" in recognition(live, live.identify_a).get_subjects().list()["subjects"]


def test_errors_in_compreface_words(live: Tenants, enrolled: dict[str, str]) -> None:
    jpeg = {"file": ("a.jpg", photo("obama/obama1.jpg"), "image/jpeg")}
    cases = [
        (call(live, "GET", f"{API}/subjects", None), 400, 20),
        (call(live, "GET", f"{API}/subjects", "fm_000000000000_" + "A" * 43), 401, 10),
        (call(live, "GET", f"{API}/subjects", ADMIN_KEY), 403, 6),
        (call(live, "POST", f"{API}/subjects", live.identify_a, json={"subject": "x"}), 403, 6),
        (call(live, "POST", f"{API}/faces", live.enroll_a, files=jpeg), 400, 33),
        (call(live, "POST", f"{API}/faces", live.enroll_a, params={"subject": "x"}), 400, 26),
        (
            call(
                live,
                "POST",
                f"{API}/faces",
                live.enroll_a,
                params={"subject": "x"},
                files={"file": ("j.jpg", b"\xff\xd8 not a jpeg", "image/jpeg")},
            ),
            400,
            21,
        ),
        (
            call(
                live,
                "POST",
                f"{API}/faces",
                live.enroll_a,
                params={"subject": "x"},
                files={"file": ("g.jpg", photo("multiface/dlib__2008_001322.jpg"), "image/jpeg")},
            ),
            400,
            31,
        ),
        (
            call(
                live,
                "POST",
                f"{API}/recognize",
                live.identify_a,
                params={"det_prob_threshold": 2},
                files=jpeg,
            ),
            400,
            26,
        ),
        (call(live, "DELETE", f"{API}/faces/nonsense", live.enroll_a), 404, 11),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert set(body) == {"message", "code"} and body["code"] == code, body
    # Nothing was left behind by the refused uploads.
    assert "x" not in recognition(live, live.identify_a).get_subjects().list()["subjects"]


def test_identities_are_ordinary(live: Tenants, enrolled: dict[str, str]) -> None:
    with live.admin() as admin:
        identities = admin.get(
            f"/v1/collections/{live.collection_a}/identities", params={"external_id": "obama"}
        ).json()["items"]
        assert [i["face_count"] for i in identities] == [2]

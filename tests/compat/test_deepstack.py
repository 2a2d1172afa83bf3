"""The DeepStack face API door, driven by the real `deepstack-python` client and by Double Take's
exact requests, against a live server on real photos."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from deepstack.core import DeepstackException, DeepstackFace

from tests.compat.tenants import Tenants
from tests.helpers import ADMIN_KEY, photo

BASE = "/v1/vision/face"


def client(live: Tenants, key: str, **kwargs: float) -> DeepstackFace:
    return DeepstackFace(ip=live.host, port=live.port, api_key=key, timeout=120, **kwargs)


def post(live: Tenants, path: str, *, key: str | None, files=None, **fields: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    data = dict(fields)
    if key is not None:
        data["api_key"] = key
    return httpx.post(f"{live.url}{path}", data=data, files=files, timeout=120)


@pytest.fixture(scope="module")
def enrolled(live: Tenants) -> Tenants:
    """obama (two photos) and biden registered through deepstack-python, in collection A."""
    ds = client(live, live.enroll_a)
    assert ds.register("obama", photo("obama/obama.jpg")) == "face added"
    assert ds.register("obama", photo("obama/obama1.jpg")) == "face added"
    assert ds.register("biden", photo("biden/biden.jpg")) == "face added"
    return live


def test_the_client_lists_registered_users(enrolled: Tenants) -> None:
    assert sorted(client(enrolled, enrolled.identify_a).get_registered_faces()) == [
        "biden",
        "obama",
    ]


def test_register_keeps_every_photo_as_a_face(enrolled: Tenants) -> None:
    """DeepStack replaced a user's embedding on each register; facematch appends faces."""
    with enrolled.admin() as admin:
        identities = admin.get(
            f"/v1/collections/{enrolled.collection_a}/identities", params={"external_id": "obama"}
        ).json()["items"]
        assert [i["face_count"] for i in identities] == [2]


@pytest.mark.parametrize(
    ("image", "userid"), [("obama/obama3.jpg", "obama"), ("biden/biden2.jpg", "biden")]
)
def test_recognize_names_new_photos_of_enrolled_people(
    enrolled: Tenants, image: str, userid: str
) -> None:
    ds = client(enrolled, enrolled.identify_a, min_confidence=0.67)
    [prediction] = ds.recognize(photo(image))
    assert prediction["userid"] == userid
    assert 0.67 <= prediction["confidence"] <= 1.0
    assert set(prediction) == {"confidence", "userid", "x_min", "y_min", "x_max", "y_max"}
    assert all(isinstance(prediction[k], int) for k in ("x_min", "y_min", "x_max", "y_max"))
    assert prediction["x_min"] < prediction["x_max"] and prediction["y_min"] < prediction["y_max"]


def test_a_group_photo_gives_one_prediction_per_face(enrolled: Tenants) -> None:
    ds = client(enrolled, enrolled.identify_a)
    # Three people, none enrolled (ground truth: shared data's multiface/faces.tsv).
    group = photo("multiface/dlib__2008_001322.jpg")
    predictions = ds.recognize(group)
    assert [(p["userid"], p["confidence"]) for p in predictions] == [("unknown", 0)] * 3
    detected = ds.detect(group)
    assert len(detected) == 3
    assert all(set(d) == {"confidence", "x_min", "y_min", "x_max", "y_max"} for d in detected)
    both = ds.recognize(photo("multiface/face_recognition__obama_and_biden.jpg"))
    assert {"biden", "obama"} <= {p["userid"] for p in both}


def test_a_photo_without_faces_gives_no_predictions(enrolled: Tenants) -> None:
    ds = client(enrolled, enrolled.identify_a)
    assert ds.recognize(photo("nonface/dlib__dog.jpg")) == []
    assert ds.detect(photo("nonface/dlib__dog.jpg")) == []


def test_an_unenrolled_person_is_unknown(enrolled: Tenants, shared_data: Path) -> None:
    people = shared_data / "photos" / "identities" / "kit_harington"
    if not people.is_dir():
        pytest.skip(f"no photos of an unenrolled person in {people}")
    for path in sorted(people.iterdir())[:2]:
        # deepstack-python's own default (0.45) is the laxest client default: FAR <= 1e-2.
        predictions = client(enrolled, enrolled.identify_a).recognize(path.read_bytes())
        assert predictions, path
        assert {p["userid"] for p in predictions} == {"unknown"}
        assert {p["confidence"] for p in predictions} == {0}


def test_double_take_requests_replayed(enrolled: Tenants) -> None:
    """Double Take's deepstack detector: `image` + `api_key` (no min_confidence: the server's
    0.67 applies); train: `image` + `userid` + `api_key`; remove: `userid` + `api_key`."""
    recognized = post(
        enrolled,
        f"{BASE}/recognize",
        key=enrolled.identify_a,
        files={"image": ("latest.jpg", photo("obama/obama2.jpg"), "image/jpeg")},
    )
    assert recognized.status_code == 200
    body = recognized.json()
    assert body["success"] is True and isinstance(body["duration"], float)
    assert [p["userid"] for p in body["predictions"]] == ["obama"]
    assert body["predictions"][0]["confidence"] >= 0.67
    trained = post(
        enrolled,
        f"{BASE}/register",
        key=enrolled.enroll_a,
        userid="Kit",
        files={"image": ("kit.jpg", photo("obama/obama3.jpg"), "image/jpeg")},
    )
    assert trained.status_code == 200 and trained.json()["message"] == "face added"
    removed = post(enrolled, f"{BASE}/delete", key=enrolled.enroll_a, userid="Kit")
    assert removed.status_code == 200 and removed.json()["success"] is True
    assert "Kit" not in client(enrolled, enrolled.identify_a).get_registered_faces()


def test_match_and_delete_as_raw_posts(enrolled: Tenants) -> None:
    same = post(
        enrolled,
        f"{BASE}/match",
        key=enrolled.identify_a,
        files={
            "image1": ("a.jpg", photo("obama/obama1.jpg"), "image/jpeg"),
            "image2": ("b.jpg", photo("obama/obama2.jpg"), "image/jpeg"),
        },
    ).json()
    different = post(
        enrolled,
        f"{BASE}/match/",  # DeepStack answers with and without the trailing slash
        key=enrolled.identify_a,
        files={
            "image1": ("a.jpg", photo("obama/obama1.jpg"), "image/jpeg"),
            "image2": ("b.jpg", photo("biden/biden.jpg"), "image/jpeg"),
        },
    ).json()
    assert same["success"] and different["success"]
    assert same["similarity"] >= 0.67 > different["similarity"]
    ds = client(enrolled, enrolled.enroll_a)
    assert ds.register("temp", photo("biden/biden2.jpg")) == "face added"
    assert post(enrolled, f"{BASE}/delete", key=enrolled.enroll_a, userid="temp").json() == {
        "success": True,
        "duration": pytest.approx(0, abs=60),
    }
    assert "temp" not in ds.get_registered_faces()


def test_identities_are_ordinary_and_audited(enrolled: Tenants) -> None:
    ds = client(enrolled, enrolled.enroll_a)
    ds.recognize(photo("obama/obama3.jpg"))
    assert ds.register("audited", photo("biden/biden2.jpg")) == "face added"
    post(enrolled, f"{BASE}/delete", key=enrolled.enroll_a, userid="audited")
    with enrolled.admin() as admin:
        names = {
            i["external_id"]
            for i in admin.get(f"/v1/collections/{enrolled.collection_a}/identities").json()[
                "items"
            ]
        }
        assert {"obama", "biden"} <= names
        actions = {
            e["action"]
            for e in admin.get(
                "/v1/audit-events", params={"collection_id": enrolled.collection_a, "limit": 500}
            ).json()["items"]
        }
        assert {"identity.create", "face.enroll", "identify", "identity.delete"} <= actions


def test_tenancy_holds(enrolled: Tenants) -> None:
    other = client(enrolled, enrolled.enroll_b)
    assert other.get_registered_faces() == []
    [prediction] = other.recognize(photo("obama/obama3.jpg"))
    assert prediction["userid"] == "unknown"
    # B deleting "obama" removes nothing of A's.
    assert (
        post(enrolled, f"{BASE}/delete", key=enrolled.enroll_b, userid="obama").status_code == 200
    )
    assert "obama" in client(enrolled, enrolled.identify_a).get_registered_faces()


@pytest.mark.parametrize(
    ("path", "key", "fields", "files", "status", "error"),
    [
        ("", None, {}, "image", 401, "Incorrect api key"),
        ("/recognize", "fm_000000000000_" + "A" * 43, {}, "image", 401, "Incorrect api key"),
        ("/list", "", {}, None, 401, "Incorrect api key"),
        ("/recognize", "identify", {}, None, 400, "No valid image file found"),
        ("/recognize", "identify", {"min_confidence": "abc"}, "image", 400,
         "Invalid value for min_confidence"),
        ("/recognize", "identify", {"min_confidence": "1.5"}, "image", 400,
         "min_confidence cannot be greater than 1"),
        ("", "identify", {"min_confidence": "nan"}, "image", 400,
         "Invalid value for min_confidence"),
        ("/register", "enroll", {"userid": "x"}, None, 400, "No valid image file found"),
        ("/register", "enroll", {}, "image", 400, "userid not specified"),
        ("/register", "enroll", {"userid": "dog"}, "dog", 400, "no face detected"),
        ("/register", "enroll", {"userid": "junk"}, "junk", 400, "invalid image"),
        ("/recognize", "identify", {}, "junk", 400, "invalid image"),
        ("/delete", "enroll", {}, None, 400, "userid not specified"),
        ("/match", "identify", {}, "image", 400, "expected two image files, only one found"),
        ("/match", "identify", {}, "three", 400, "only two images allowed"),
        ("/match", "identify", {}, "dogs", 400, "no face found"),
    ],
)  # fmt: skip
def test_errors_in_deepstack_words(
    enrolled: Tenants,
    path: str,
    key: str | None,
    fields: dict[str, str],
    files: str | None,
    status: int,
    error: str,
) -> None:
    keys = {"identify": enrolled.identify_a, "enroll": enrolled.enroll_a}
    uploads = {
        None: None,
        "image": {"image": ("a.jpg", photo("obama/obama1.jpg"), "image/jpeg")},
        "dog": {"image": ("d.jpg", photo("nonface/dlib__dog.jpg"), "image/jpeg")},
        "junk": {"image": ("j.jpg", b"\xff\xd8 not a jpeg", "image/jpeg")},
        "three": [("image", ("a.jpg", b"1", "image/jpeg"))] * 3,
        "dogs": {
            "image1": ("d.jpg", photo("nonface/dlib__dog.jpg"), "image/jpeg"),
            "image2": ("e.jpg", photo("obama/obama1.jpg"), "image/jpeg"),
        },
    }[files]
    response = post(
        enrolled, f"{BASE}{path}", key=keys.get(key or "", key), files=uploads, **fields
    )
    assert response.status_code == status, response.text
    assert response.json() == {"success": False, "error": error, "duration": 0.0}


def test_roles_and_unscoped_keys(enrolled: Tenants) -> None:
    weak = post(
        enrolled,
        f"{BASE}/register",
        key=enrolled.identify_a,
        userid="x",
        files={"image": ("a.jpg", photo("obama/obama1.jpg"), "image/jpeg")},
    )
    assert weak.status_code == 403 and weak.json()["success"] is False
    unscoped = post(enrolled, f"{BASE}/list", key=ADMIN_KEY)
    assert unscoped.status_code == 403
    assert "not scoped to a collection" in unscoped.json()["error"]
    with pytest.raises(DeepstackException):
        client(enrolled, "fm_000000000000_" + "B" * 43).detect(photo("obama/obama1.jpg"))


def test_the_client_library_sees_the_same_errors(enrolled: Tenants) -> None:
    with pytest.raises(DeepstackException, match="400"):
        client(enrolled, enrolled.enroll_a).register("dog", photo("nonface/dlib__dog.jpg"))


if os.environ.get("FACEMATCH_COMPAT_TRANSCRIPT"):  # pragma: no cover - for the closing note

    def test_print_a_session(enrolled: Tenants) -> None:
        ds = client(enrolled, enrolled.identify_a)
        print(ds.get_registered_faces(), ds.recognize(photo("obama/obama3.jpg")))

"""Enroll is resumable: every face reports the SHA-256 of its photo, and a photo the identity
already holds is refused as `duplicate_image` before any analysis runs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.helpers import ADMIN, add_identity, enroll, photo

OBAMA = "obama/obama1.jpg"


def _faces_url(cid: object, iid: object) -> str:
    return f"/v1/collections/{cid}/identities/{iid}/faces"


def test_enroll_answer_reports_the_sha256_of_each_photo(
    client: TestClient, collection: dict
) -> None:
    identity = add_identity(client, collection["id"])
    result = enroll(client, collection["id"], identity["id"], OBAMA, "obama/obama2.jpg")
    assert [f["content_sha256"] for f in result["faces"]] == [
        hashlib.sha256(photo(OBAMA)).hexdigest(),
        hashlib.sha256(photo("obama/obama2.jpg")).hexdigest(),
    ]


def test_face_list_reports_the_sha256_of_each_photo(client: TestClient, collection: dict) -> None:
    identity = add_identity(client, collection["id"])
    enroll(client, collection["id"], identity["id"], OBAMA)
    listed = client.get(_faces_url(collection["id"], identity["id"]), headers=ADMIN).json()
    assert [f["content_sha256"] for f in listed["items"]] == [
        hashlib.sha256(photo(OBAMA)).hexdigest()
    ]


def test_an_enrolled_photo_is_refused_before_analysis(
    client: TestClient, collection: dict, start_app: Callable[..., TestClient]
) -> None:
    identity = add_identity(client, collection["id"])
    enroll(client, collection["id"], identity["id"], OBAMA)
    url = _faces_url(collection["id"], identity["id"])
    # On an app whose every analysis times out, only a check that needs no analysis can answer.
    with start_app(inference_timeout_s=0.001) as hurried:
        fresh = hurried.post(
            url, files={"image": ("o.jpg", photo("obama/obama2.jpg"), "image/jpeg")}, headers=ADMIN
        )
        again = hurried.post(
            url, files={"image": ("o.jpg", photo(OBAMA), "image/jpeg")}, headers=ADMIN
        )
    assert fresh.json()["code"] == "inference_timeout"
    assert again.status_code == 422 and again.json()["code"] == "duplicate_image"


def test_a_photo_sent_twice_in_one_request_is_enrolled_once(
    client: TestClient, collection: dict
) -> None:
    identity = add_identity(client, collection["id"])
    result = enroll(client, collection["id"], identity["id"], OBAMA, OBAMA)
    assert len(result["faces"]) == 1
    assert [(r["index"], r["code"]) for r in result["rejected"]] == [(1, "duplicate_image")]

"""Enrolls racing each other and racing deletes, against a live server on SQLite and PostgreSQL
(issue 11, two low findings):

- many concurrent enrolls of one photo into one identity used to store the photo several times
  (each request checked the identity's photos before the others had committed); now exactly one
  face is stored and every other request gets the answer a sequential re-enroll gets, 422
  `duplicate_image`;
- deleting an identity or its collection while an enroll of it is under way used to answer 409
  `conflict` (the foreign key refused the insert); the enroll now answers 404 `not_found`, the
  answer it would get had the delete come first.

Every client call has a timeout of seconds, so a regression fails instead of hanging.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.db.fresh import fresh_database
from tests.helpers import ADMIN_KEY, photo, unique
from tests.live_server import LiveServer, sqlite_server

# Two inference workers: concurrent enrolls finish their analysis at nearly the same moment,
# which is when they used to check for duplicates and then both insert.
RACE_ENV = {"inference_workers": "2", "inference_threads": "1", "db_connect_timeout_s": "5"}
SENDERS = 12  # concurrent enrolls of one photo per round
ROUNDS = 4


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, models_dir: Path
) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp(f"races-{request.param}")
    if request.param == "sqlite":
        server = sqlite_server(tmp, models_dir, ADMIN_KEY, **RACE_ENV)
        server.start()
        try:
            yield server
        finally:
            server.stop()
        return
    pg = request.getfixturevalue("postgres_url")
    with fresh_database("postgres", tmp_dir=tmp, postgres_url=pg) as url:
        server = sqlite_server(tmp, models_dir, ADMIN_KEY, database_url=url, **RACE_ENV)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def admin(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, headers={"X-API-Key": ADMIN_KEY}, timeout=60) as client:
        yield client


def _together(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run every call at once (released by one barrier); their answers in call order."""
    barrier = threading.Barrier(len(calls))
    answers: list[httpx.Response | BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            answers[i] = calls[i]()
        except BaseException as exc:  # a transport error is reported, not lost in a thread
            answers[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for answer in answers:
        if not isinstance(answer, httpx.Response):
            raise AssertionError(f"a request failed without an answer: {answer!r}")
    return [a for a in answers if isinstance(a, httpx.Response)]


def _enroll(url: str, path: str, data: bytes) -> Callable[[], httpx.Response]:
    def call() -> httpx.Response:
        return httpx.post(
            f"{url}{path}",
            headers={"X-API-Key": ADMIN_KEY},
            files={"image": ("p.jpg", data, "image/jpeg")},
            timeout=60,
        )

    return call


def _delete(url: str, path: str) -> Callable[[], httpx.Response]:
    def call() -> httpx.Response:
        return httpx.delete(f"{url}{path}", headers={"X-API-Key": ADMIN_KEY}, timeout=60)

    return call


# --- one photo, many concurrent enrolls ---------------------------------------------------------


def test_concurrent_enrolls_of_one_photo_store_it_once(
    live: LiveServer, admin: httpx.Client
) -> None:
    data = photo("obama/obama1.jpg")
    collection = admin.post("/v1/collections", json={"name": unique("dup")}).json()["id"]
    for _ in range(ROUNDS):
        identity = admin.post(f"/v1/collections/{collection}/identities", json={}).json()["id"]
        faces = f"/v1/collections/{collection}/identities/{identity}/faces"
        answers = _together([_enroll(live.url, faces, data) for _ in range(SENDERS)])
        statuses = sorted(a.status_code for a in answers)
        # The answer a sequential re-enroll of the photo gets: 422 duplicate_image.
        assert statuses == [201] + [422] * (SENDERS - 1), [a.text[:200] for a in answers]
        for answer in answers:
            if answer.status_code == 422:
                assert answer.json()["code"] == "duplicate_image", answer.text
        stored = admin.get(faces).json()
        assert stored["total"] == 1, stored
        # And a sequential re-enroll still answers the same.
        again = _enroll(live.url, faces, data)()
        assert again.status_code == 422 and again.json()["code"] == "duplicate_image"


# --- deletes racing enrolls ---------------------------------------------------------------------


def test_identity_deleted_mid_enroll_answers_404_never_409_or_500(
    live: LiveServer, admin: httpx.Client
) -> None:
    data = photo("obama/obama1.jpg")
    collection = admin.post("/v1/collections", json={"name": unique("gone")}).json()["id"]
    enrolled = 0
    for _ in range(ROUNDS * 3):
        identity = admin.post(f"/v1/collections/{collection}/identities", json={}).json()["id"]
        path = f"/v1/collections/{collection}/identities/{identity}"
        calls = [_enroll(live.url, f"{path}/faces", data) for _ in range(3)]
        calls.append(_delete(live.url, path))
        *enrolls, deleted = _together(calls)
        assert deleted.status_code == 204, deleted.text
        for answer in enrolls:
            assert answer.status_code in (201, 404, 422), answer.text
            if answer.status_code == 404:
                assert answer.json()["code"] == "not_found", answer.text
            if answer.status_code == 422:  # another enroll of the round stored it first
                assert answer.json()["code"] == "duplicate_image", answer.text
            enrolled += answer.status_code == 201
        assert admin.get(path).status_code == 404
    # Nothing of a deleted identity is left to match.
    listing = admin.get(f"/v1/collections/{collection}").json()
    assert listing["face_count"] == 0, listing


def test_collection_deleted_mid_enroll_answers_404_never_409_or_500(
    live: LiveServer, admin: httpx.Client
) -> None:
    data = photo("obama/obama1.jpg")
    for _ in range(ROUNDS * 2):
        collection = admin.post("/v1/collections", json={"name": unique("drop")}).json()["id"]
        identity = admin.post(f"/v1/collections/{collection}/identities", json={}).json()["id"]
        faces = f"/v1/collections/{collection}/identities/{identity}/faces"
        calls = [_enroll(live.url, faces, data) for _ in range(3)]
        calls.append(_delete(live.url, f"/v1/collections/{collection}"))
        *enrolls, deleted = _together(calls)
        assert deleted.status_code == 204, deleted.text
        for answer in enrolls:
            assert answer.status_code in (201, 404, 422), answer.text
            if answer.status_code == 404:
                assert answer.json()["code"] == "not_found", answer.text
        assert admin.get(f"/v1/collections/{collection}").status_code == 404

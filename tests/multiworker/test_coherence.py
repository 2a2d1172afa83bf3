"""Read-your-writes across workers: each worker holds its own index, PostgreSQL is shared, and an
acknowledged write on one worker is visible to the next search on the other."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import add_identity, create_collection, enroll, identify, unique

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _candidates(client: httpx.Client, cid: str, name: str) -> list[str]:
    faces = identify(client, cid, name, faces="largest")["faces"]
    return [c["identity_id"] for c in faces[0]["candidates"]] if faces else []


def test_enroll_on_one_worker_is_identified_on_the_other(workers) -> None:
    a, b = workers
    cid = create_collection(a, unique("mw"))
    obama = add_identity(a, cid, external_id="obama")["id"]
    biden = add_identity(a, cid, external_id="biden")["id"]
    enroll(a, cid, obama, "obama/obama.jpg", "obama/obama1.jpg")
    enroll(a, cid, biden, "biden/biden.jpg")
    assert _candidates(b, cid, "obama/obama2.jpg")[0] == obama
    assert _candidates(b, cid, "biden/biden2.jpg")[0] == biden


def test_delete_on_one_worker_is_gone_on_the_other(workers) -> None:
    a, b = workers
    cid = create_collection(a, unique("mw"))
    obama = add_identity(a, cid, external_id="obama")["id"]
    biden = add_identity(a, cid, external_id="biden")["id"]
    enroll(a, cid, obama, "obama/obama.jpg")
    enroll(a, cid, biden, "biden/biden.jpg")
    assert _candidates(a, cid, "obama/obama2.jpg")[0] == obama  # a's index holds obama now
    response = b.delete(f"/v1/collections/{cid}/identities/{obama}")
    assert response.status_code == 204, response.text
    assert obama not in _candidates(a, cid, "obama/obama2.jpg")


def test_face_deleted_on_one_worker_is_not_returned_by_the_other(workers) -> None:
    a, b = workers
    cid = create_collection(b, unique("mw"))
    obama = add_identity(b, cid, external_id="obama")["id"]
    face_ids = [f["id"] for f in enroll(b, cid, obama, "obama/obama.jpg")["faces"]]
    assert _candidates(a, cid, "obama/obama2.jpg") == [obama]
    response = b.delete(f"/v1/collections/{cid}/identities/{obama}/faces/{face_ids[0]}")
    assert response.status_code == 204, response.text
    assert _candidates(a, cid, "obama/obama2.jpg") == []

"""An unmodified boto3 client against a live facematch, on real photos.

Every response of every call here is also checked against botocore's own service model (see
`support.check_against_model`), so a member botocore's parser would drop or mis-type fails the
test that made the call.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.rekognition.support import Served, client, create_key, photo

OBAMA = "obama/obama.jpg"
OBAMA_2 = "obama/obama2.jpg"
OBAMA_3 = "obama/obama3.jpg"
BIDEN = "biden/biden.jpg"
BIDEN_2 = "biden/biden2.jpg"
BOTH = "multiface/face_recognition__obama_and_biden.jpg"
DOG = "nonface/dlib__dog.jpg"


def image(relative: str) -> dict[str, bytes]:
    return {"Bytes": photo(relative)}


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def admin(server: Served) -> Any:
    return client(server, create_key(server, role="admin"))


def test_full_life_cycle(admin: Any) -> None:
    rek = admin
    created = rek.create_collection(CollectionId="life-cycle")
    assert created["StatusCode"] == 200
    assert created["CollectionArn"].endswith(":collection/life-cycle")
    assert created["CollectionArn"].startswith("arn:aws:rekognition:eu-central-1:")

    obama = rek.index_faces(
        CollectionId="life-cycle", Image=image(OBAMA), ExternalImageId="obama.jpg"
    )
    assert len(obama["FaceRecords"]) == 1
    face = obama["FaceRecords"][0]["Face"]
    assert face["ExternalImageId"] == "obama.jpg"
    box = face["BoundingBox"]
    assert 0 < box["Left"] < 1 and 0 < box["Top"] < 1 and 0 < box["Width"] <= 1
    detail = obama["FaceRecords"][0]["FaceDetail"]
    assert [lm["Type"] for lm in detail["Landmarks"]] == [
        "eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight",
    ]  # fmt: skip
    assert detail["Landmarks"][0]["X"] < detail["Landmarks"][1]["X"]
    obama_id = face["FaceId"]
    biden = rek.index_faces(CollectionId="life-cycle", Image=image(BIDEN), ExternalImageId="biden")
    biden_id = biden["FaceRecords"][0]["Face"]["FaceId"]
    # Both faces of the group photo, the largest only: the other is EXCEEDS_MAX_FACES.
    both = rek.index_faces(
        CollectionId="life-cycle", Image=image(BOTH), MaxFaces=1, QualityFilter="NONE"
    )
    assert len(both["FaceRecords"]) == 1
    assert both["UnindexedFaces"][0]["Reasons"] == ["EXCEEDS_MAX_FACES"]

    described = rek.describe_collection(CollectionId="life-cycle")
    assert described["FaceCount"] == 3 and described["UserCount"] == 0
    assert described["FaceModelVersion"] == created["FaceModelVersion"]

    # Search by face: the same person above Rekognition's default 80, the other person not.
    found = rek.search_faces(CollectionId="life-cycle", FaceId=obama_id)
    assert found["SearchedFaceId"] == obama_id
    assert all(m["Face"]["FaceId"] != obama_id for m in found["FaceMatches"])
    assert biden_id not in [m["Face"]["FaceId"] for m in found["FaceMatches"]]

    by_image = rek.search_faces_by_image(CollectionId="life-cycle", Image=image(OBAMA_2))
    assert by_image["FaceMatches"], by_image
    best = by_image["FaceMatches"][0]
    assert best["Face"]["FaceId"] == obama_id and best["Similarity"] >= 80
    assert 0 < by_image["SearchedFaceBoundingBox"]["Width"] <= 1
    assert biden_id not in [m["Face"]["FaceId"] for m in by_image["FaceMatches"]]
    low = rek.search_faces_by_image(
        CollectionId="life-cycle", Image=image(OBAMA_2), FaceMatchThreshold=0
    )
    assert biden_id in [m["Face"]["FaceId"] for m in low["FaceMatches"]]

    # Users: identities. Associate, search, disassociate, delete.
    rek.create_user(CollectionId="life-cycle", UserId="barack")
    associated = rek.associate_faces(CollectionId="life-cycle", UserId="barack", FaceIds=[obama_id])
    assert associated["AssociatedFaces"] == [{"FaceId": obama_id}]
    refused = rek.associate_faces(CollectionId="life-cycle", UserId="barack", FaceIds=[biden_id])
    (why,) = refused["UnsuccessfulFaceAssociations"]
    assert why["FaceId"] == biden_id and why["Reasons"] == ["LOW_MATCH_CONFIDENCE"]
    assert rek.list_users(CollectionId="life-cycle")["Users"] == [
        {"UserId": "barack", "UserStatus": "ACTIVE"}
    ]
    listed = rek.list_faces(CollectionId="life-cycle", UserId="barack")["Faces"]
    assert [f["FaceId"] for f in listed] == [obama_id] and listed[0]["UserId"] == "barack"
    users = rek.search_users_by_image(CollectionId="life-cycle", Image=image(OBAMA_3))
    assert users["UserMatches"][0]["User"]["UserId"] == "barack"
    assert users["UserMatches"][0]["Similarity"] >= 80
    assert "FaceDetail" in users["SearchedFace"]
    group = rek.search_users_by_image(CollectionId="life-cycle", Image=image(BOTH))
    assert group["UnsearchedFaces"][0]["Reasons"] == ["FACE_NOT_LARGEST"]
    by_face = rek.search_users(CollectionId="life-cycle", FaceId=biden_id)
    assert by_face["SearchedFace"] == {"FaceId": biden_id}
    assert "barack" not in [m["User"]["UserId"] for m in by_face["UserMatches"]]
    # A face of a user cannot be deleted before it is disassociated (as on AWS).
    blocked = rek.delete_faces(CollectionId="life-cycle", FaceIds=[obama_id])
    assert blocked["UnsuccessfulFaceDeletions"][0]["Reasons"] == ["ASSOCIATED_TO_AN_EXISTING_USER"]
    gone = rek.disassociate_faces(CollectionId="life-cycle", UserId="barack", FaceIds=[obama_id])
    assert gone["DisassociatedFaces"] == [{"FaceId": obama_id}]
    rek.associate_faces(CollectionId="life-cycle", UserId="barack", FaceIds=[obama_id])
    rek.delete_user(CollectionId="life-cycle", UserId="barack")
    # Deleting a user keeps its faces, unassociated.
    faces = rek.list_faces(CollectionId="life-cycle")["Faces"]
    assert obama_id in [f["FaceId"] for f in faces]
    assert all("UserId" not in f for f in faces)

    unknown = "66616365-6d61-8000-8000-3fffffffffff"
    deleted = rek.delete_faces(CollectionId="life-cycle", FaceIds=[biden_id, unknown])
    assert deleted["DeletedFaces"] == [biden_id]
    assert deleted["UnsuccessfulFaceDeletions"] == [
        {"FaceId": unknown, "Reasons": ["FACE_NOT_FOUND"]}
    ]
    assert rek.describe_collection(CollectionId="life-cycle")["FaceCount"] == 2
    assert rek.delete_collection(CollectionId="life-cycle")["StatusCode"] == 200
    with pytest.raises(ClientError) as missing:
        rek.describe_collection(CollectionId="life-cycle")
    assert code_of(missing) == "ResourceNotFoundException"


def test_compare_and_detect_faces(admin: Any) -> None:
    compared = admin.compare_faces(SourceImage=image(OBAMA_2), TargetImage=image(BOTH))
    # Obama matches; Biden and the girl at the edge of the photo do not.
    assert len(compared["FaceMatches"]) == 1 and len(compared["UnmatchedFaces"]) == 2
    assert compared["FaceMatches"][0]["Similarity"] >= 80
    assert compared["SourceImageFace"]["Confidence"] > 90
    # obama.jpg also holds a tiny blurred "face" in a corner, which the quality filter drops.
    strangers = admin.compare_faces(
        SourceImage=image(BIDEN_2), TargetImage=image(OBAMA), QualityFilter="AUTO"
    )
    assert strangers["FaceMatches"] == [] and len(strangers["UnmatchedFaces"]) == 1
    detected = admin.detect_faces(Image=image(BOTH), Attributes=["ALL"])
    assert len(detected["FaceDetails"]) == 3
    for detail in detected["FaceDetails"]:
        assert all(0 <= lm["X"] <= 1 and 0 <= lm["Y"] <= 1 for lm in detail["Landmarks"])
        assert set(detail["Pose"]) == {"Roll", "Yaw"}
    assert admin.detect_faces(Image=image(DOG))["FaceDetails"] == []


def test_paging_with_next_token(admin: Any) -> None:
    for name in ("page-a", "page-b", "page-c"):
        admin.create_collection(CollectionId=name)
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = admin.list_collections(MaxResults=1, **token)
        assert len(page["CollectionIds"]) <= 1
        seen += page["CollectionIds"]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert {"page-a", "page-b", "page-c"} <= set(seen) and len(seen) == len(set(seen))

    for user in ("u1", "u2", "u3"):
        admin.create_user(CollectionId="page-a", UserId=user)
    paginator = admin.get_paginator("list_users")
    pages = list(paginator.paginate(CollectionId="page-a", PaginationConfig={"PageSize": 2}))
    assert [[u["UserId"] for u in p["Users"]] for p in pages] == [["u1", "u2"], ["u3"]]

    for relative in (OBAMA, BIDEN, OBAMA_2):
        admin.index_faces(CollectionId="page-b", Image=image(relative))
    faces = admin.get_paginator("list_faces").paginate(
        CollectionId="page-b", PaginationConfig={"PageSize": 1}
    )
    ids = [f["FaceId"] for page in faces for f in page["Faces"]]
    assert len(ids) == 3 == len(set(ids))
    with pytest.raises(ClientError) as bad:
        admin.list_faces(CollectionId="page-b", NextToken="not-a-token")
    assert code_of(bad) == "InvalidPaginationTokenException"


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda r: r.describe_collection(CollectionId="no-such"), "ResourceNotFoundException"),
        (lambda r: r.create_collection(CollectionId="errors"), "ResourceAlreadyExistsException"),
        (lambda r: r.create_collection(CollectionId="bad name!"), "ValidationException"),
        (lambda r: r.create_user(CollectionId="errors", UserId="dup"), "ConflictException"),
        (
            lambda r: r.detect_faces(Image={"Bytes": b"not an image at all"}),
            "InvalidImageFormatException",
        ),
        (
            lambda r: r.index_faces(
                CollectionId="errors", Image={"S3Object": {"Bucket": "photos", "Name": "k.jpg"}}
            ),
            "InvalidS3ObjectException",
        ),
        (
            lambda r: r.search_faces_by_image(CollectionId="errors", Image=image(DOG)),
            "InvalidParameterException",
        ),
        (
            lambda r: r.search_faces(
                CollectionId="errors", FaceId="66616365-6d61-8000-8000-000000abcdef"
            ),
            "ResourceNotFoundException",
        ),
        (lambda r: r.search_users(CollectionId="errors"), "InvalidParameterException"),
        (
            lambda r: r.delete_user(CollectionId="errors", UserId="nobody"),
            "ResourceNotFoundException",
        ),
    ],
)
def test_errors_surface_as_client_errors(admin: Any, call: Any, code: str) -> None:
    try:
        admin.create_collection(CollectionId="errors")
        admin.create_user(CollectionId="errors", UserId="dup")
    except ClientError:
        pass  # made by an earlier case
    with pytest.raises(ClientError) as raised:
        call(admin)
    assert code_of(raised) == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.response["ResponseMetadata"]["RequestId"]


def test_image_too_large(admin: Any) -> None:
    from tests.attack.corpus import png_bomb

    with pytest.raises(ClientError) as raised:
        admin.detect_faces(Image={"Bytes": png_bomb()})
    assert code_of(raised) == "ImageTooLargeException"


def test_roles_and_tenancy(server: Served, admin: Any) -> None:
    admin.create_collection(CollectionId="tenant-a")
    admin.create_collection(CollectionId="tenant-b")
    collection_a = _collection_id(server, "tenant-a")
    reader = client(server, create_key(server, role="identify", collection_id=collection_a))
    assert reader.list_collections()["CollectionIds"] == ["tenant-a"]
    assert reader.describe_collection(CollectionId="tenant-a")["FaceCount"] == 0
    with pytest.raises(ClientError) as other:
        reader.describe_collection(CollectionId="tenant-b")
    assert code_of(other) == "ResourceNotFoundException"  # as if it did not exist
    with pytest.raises(ClientError) as write:
        reader.index_faces(CollectionId="tenant-a", Image=image(OBAMA))
    assert code_of(write) == "AccessDeniedException"
    scoped_admin = client(server, create_key(server, role="admin", collection_id=collection_a))
    with pytest.raises(ClientError) as create:
        scoped_admin.create_collection(CollectionId="tenant-c")
    assert code_of(create) == "AccessDeniedException"


def _collection_id(server: Served, name: str) -> str:
    listed = httpx.get(
        f"{server.url}/v1/collections", headers={"X-API-Key": server.admin_key}, timeout=30
    ).json()
    return next(c["id"] for c in listed["items"] if c["name"] == name)


def test_writes_and_searches_are_audited_under_the_sigv4_key(server: Served) -> None:
    key = create_key(server, role="admin")
    rek = client(server, key)
    rek.create_collection(CollectionId="audited")
    rek.index_faces(CollectionId="audited", Image=image(OBAMA))
    rek.search_faces_by_image(CollectionId="audited", Image=image(OBAMA_2))
    events = httpx.get(
        f"{server.url}/v1/audit-events",
        params={"key_id": key["id"], "limit": 50},
        headers={"X-API-Key": server.admin_key},
        timeout=30,
    )
    assert events.status_code == 200, events.text
    actions = {e["action"] for e in events.json()["items"]}
    assert {"collection.create", "face.enroll", "identify"} <= actions

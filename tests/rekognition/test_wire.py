"""What reaches the door without a valid signature, or with a hostile body, gets Rekognition's own
4xx answers (never a 5xx, never facematch's RFC 9457 problems)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from unittest import mock

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.attack.corpus import corpus
from tests.rekognition.support import REGION, Served, client, create_key, photo


@pytest.fixture(scope="module")
def key(server: Served) -> dict[str, Any]:
    return create_key(server, role="admin")


def _code(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]


def test_wrong_secret_is_an_invalid_signature(server: Served, key: dict[str, Any]) -> None:
    secret = key["secret_access_key"]
    # Change the last character to one it is not (a fixed "A" was no change 1 run in 64).
    forged = client(server, key, secret=secret[:-1] + ("B" if secret.endswith("A") else "A"))
    assert _code(forged.list_collections) == ("InvalidSignatureException", 400)


def test_unknown_access_key_is_unrecognized(server: Served, key: dict[str, Any]) -> None:
    stranger = client(server, {**key, "access_key_id": "FMAKAAAAAAAAAAAAAAAA"})
    assert _code(stranger.list_collections) == ("UnrecognizedClientException", 400)


def test_revoked_key_is_unrecognized(server: Served) -> None:
    revoked = create_key(server, role="identify")
    rek = client(server, revoked)
    rek.list_collections()
    response = httpx.delete(
        f"{server.url}/v1/keys/{revoked['id']}",
        headers={"X-API-Key": server.admin_key},
        timeout=30,
    )
    assert response.status_code == 204
    assert _code(rek.list_collections) == ("UnrecognizedClientException", 400)


@pytest.mark.parametrize("skew", [dt.timedelta(minutes=-16), dt.timedelta(minutes=16)])
def test_request_outside_the_15_minute_window_is_rejected(
    server: Served, key: dict[str, Any], skew: dt.timedelta
) -> None:
    rek = client(server, key)
    stale = dt.datetime.now(dt.UTC) + skew
    # A client whose clock is off: botocore signs with the time it reads here.
    with mock.patch("botocore.auth.get_current_datetime", return_value=stale.replace(tzinfo=None)):
        code, status = _code(rek.list_collections)
    assert (code, status) == ("InvalidSignatureException", 400)
    # 14 minutes off is still inside AWS's window.
    near = dt.datetime.now(dt.UTC) + skew * 14 / 16
    with mock.patch("botocore.auth.get_current_datetime", return_value=near.replace(tzinfo=None)):
        assert "CollectionIds" in rek.list_collections()


def test_a_body_changed_after_signing_is_rejected(server: Served, key: dict[str, Any]) -> None:
    rek = client(server, key)

    def tamper(request: Any, **_: Any) -> None:
        request.body = request.body.replace(b"tampered-a", b"tampered-b")

    rek.meta.events.register_last("before-send.rekognition", tamper)
    assert _code(lambda: rek.create_collection(CollectionId="tampered-a")) == (
        "InvalidSignatureException",
        400,
    )


def _signed(
    server: Served, key: dict[str, Any], body: bytes, *, target: str, content_type: str
) -> httpx.Response:
    """A hand-made request signed with botocore's own signer (for bodies boto3 cannot send)."""
    request = AWSRequest(
        method="POST",
        url=f"{server.url}/",
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": content_type},
    )
    credentials = Credentials(key["access_key_id"], key["secret_access_key"])
    SigV4Auth(credentials, "rekognition", REGION).add_auth(request)
    return httpx.post(
        f"{server.url}/", content=body, headers=dict(request.headers.items()), timeout=60
    )


JSON = "application/x-amz-json-1.1"
HOSTILE_BODIES = [
    ("not JSON", b"{nope", "RekognitionService.ListCollections", "SerializationException"),
    ("a JSON list", b"[1, 2]", "RekognitionService.ListCollections", "ValidationException"),
    ("wrong type", b'{"MaxResults": "ten"}', "RekognitionService.ListCollections",
     "ValidationException"),
    ("missing member", b"{}", "RekognitionService.DescribeCollection", "ValidationException"),
    ("bad pattern", b'{"CollectionId": "a b"}', "RekognitionService.DescribeCollection",
     "ValidationException"),
    ("bad enum", b'{"Image": {"Bytes": "AA=="}, "Attributes": ["EVERYTHING"]}',
     "RekognitionService.DetectFaces", "ValidationException"),
    ("bad base64", b'{"Image": {"Bytes": "***"}}', "RekognitionService.DetectFaces",
     "ValidationException"),
    ("huge integer", b'{"MaxResults": 99999999999999999999999}',
     "RekognitionService.ListCollections", "ValidationException"),
    ("deep nesting", b'{"Image": ' * 2000 + b"{}" + b"}" * 2000, "RekognitionService.DetectFaces",
     "SerializationException"),
    ("unknown operation", b"{}", "RekognitionService.DetectLabels", "UnknownOperationException"),
    ("another service", b"{}", "DynamoDB_20120810.ListTables", "UnknownOperationException"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("why", "body", "target", "code"), HOSTILE_BODIES, ids=[h[0] for h in HOSTILE_BODIES]
)
def test_hostile_bodies_get_rekognition_errors(
    server: Served, key: dict[str, Any], why: str, body: bytes, target: str, code: str
) -> None:
    response = _signed(server, key, body, target=target, content_type=JSON)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == JSON
    assert response.headers["x-amzn-RequestId"]
    assert response.json()["__type"] == code, response.text


def test_unsigned_requests_are_refused(server: Served) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer nothing"},
        {"Authorization": "AWS4-HMAC-SHA256 Credential=FMAK/20260101/x/s3/aws4_request, "
         "SignedHeaders=host, Signature=" + "0" * 64, "X-Amz-Date": "20260101T000000Z"},
    ):  # fmt: skip
        response = httpx.post(
            f"{server.url}/",
            content=b"{}",
            headers={"X-Amz-Target": "RekognitionService.ListCollections", **headers},
            timeout=30,
        )
        assert response.status_code == 400, response.text
        assert response.json()["__type"] in {
            "MissingAuthenticationTokenException",
            "IncompleteSignatureException",
            "InvalidSignatureException",
        }


def test_oversized_body_is_a_rekognition_error(server: Served, key: dict[str, Any]) -> None:
    body = json.dumps({"Image": {"Bytes": "A" * (11 * 1024 * 1024)}}).encode()
    response = _signed(
        server, key, body, target="RekognitionService.DetectFaces", content_type=JSON
    )
    assert response.status_code == 400
    assert response.json()["__type"] == "ImageTooLargeException"


def _corpus_images() -> list[tuple[str, bytes]]:
    """Every image of the hostile corpus (the /v1 attack suite's), by kind."""
    return [
        (item.kind, data)
        for item in corpus()
        for _, (_, data, _) in item.files
        if data and len(data) <= 5 * 1024 * 1024
    ]


def test_hostile_corpus_images_get_4xx_or_an_answer_never_5xx(
    server: Served, key: dict[str, Any]
) -> None:
    rek = client(server, key)
    rek.create_collection(CollectionId="hostile")
    outcomes: dict[str, str] = {}
    for kind, data in _corpus_images():
        for call in (
            lambda d=data: rek.detect_faces(Image={"Bytes": d}),
            lambda d=data: rek.index_faces(CollectionId="hostile", Image={"Bytes": d}),
        ):
            try:
                call()
                outcomes[kind] = "ok"
            except ClientError as exc:
                status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
                assert status == 400, (kind, exc.response)
                outcomes[kind] = exc.response["Error"]["Code"]
    assert len(outcomes) >= 15
    assert outcomes.get("png_bomb") == "ImageTooLargeException"
    assert outcomes.get("truncated_jpeg") == "InvalidImageFormatException"
    # The service is still healthy and answering afterwards.
    assert rek.detect_faces(Image={"Bytes": photo("obama/obama1.jpg")})["FaceDetails"]

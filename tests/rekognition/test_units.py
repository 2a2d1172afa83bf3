"""The door's parts without a server: the committed model subset, FaceIds, SigV4, secrets."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from pydantic import SecretStr

from app.api.rekognition import model, sigv4, wire
from app.api.rekognition.errors import RekognitionError
from app.db.template_codec import generate_key
from app.services.errors import Conflict
from app.services.keys import SigV4Secrets
from app.settings import Settings
from scripts.export_rekognition_model import subset


def test_committed_model_subset_is_botocores() -> None:
    committed = json.loads(model.MODEL_FILE.read_text())
    fresh = subset()
    # The provenance line names the botocore version; the model itself must be identical.
    committed.pop("source")
    fresh.pop("source")
    assert committed == fresh, "run scripts/export_rekognition_model.py"
    assert set(committed["operations"]) == set(model.OPERATIONS)


def test_validation_messages_read_like_aws() -> None:
    with pytest.raises(model.ValidationFailure) as raised:
        model.parse_request("DescribeCollection", {"CollectionId": "a b"})
    assert str(raised.value) == (
        "1 validation error detected: Value 'a b' at 'collectionId' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.\\-]+"
    )
    with pytest.raises(model.ValidationFailure, match="must not be null"):
        model.parse_request("IndexFaces", {"CollectionId": "c"})
    parsed = model.parse_request("DetectFaces", {"Image": {"Bytes": "aGk="}, "Unknown": 1})
    assert parsed == {"Image": {"Bytes": b"hi"}}


def test_responses_refuse_members_the_model_lacks() -> None:
    with pytest.raises(AssertionError, match="not members"):
        model.render_response("DeleteUser", {"Surprise": 1})
    assert model.render_response("ListUsers", {"Users": [], "NextToken": None}) == {"Users": []}


@pytest.mark.parametrize("pk", [1, 42, 2**40 + 7, 2**62 - 1])
def test_face_ids_round_trip(pk: int) -> None:
    text = wire.face_id(pk)
    assert str(uuid.UUID(text)) == text
    assert wire.face_pk(text) == pk


def test_foreign_uuids_name_no_face() -> None:
    assert wire.face_pk(str(uuid.uuid4())) is None
    assert wire.face_pk("66616365-6d61-8000-8000-000000000000") is None


def test_bad_pagination_tokens() -> None:
    assert wire.token_offset(wire.next_token(7, 10)) == 7
    assert wire.next_token(10, 10) is None
    for token in ("junk", "eyJvIjogLTF9", "eyJ4IjogMX0="):
        with pytest.raises(RekognitionError):
            wire.token_offset(token)


def _botocore_signed(secret: str, when: datetime, body: bytes) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8000/",
        data=body,
        headers={"X-Amz-Target": "RekognitionService.ListCollections"},
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        SigV4Auth(Credentials("FMAKTEST", secret), "rekognition", "us-east-1").add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:8000"
    return headers


def _check(secret: str, headers: dict[str, str], body: bytes, now: datetime) -> None:
    signed = sigv4.parse(headers, now=now)
    canonical = sigv4.canonical_request(
        method="POST", path="/", query="", headers=headers, signed=signed, body=body
    )
    sigv4.verify(secret, signed, canonical)


def test_sigv4_agrees_with_botocores_signer() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    headers = _botocore_signed("s3cret", now, b"{}")
    _check("s3cret", headers, b"{}", now)
    with pytest.raises(sigv4.SignatureError) as wrong:
        _check("other", headers, b"{}", now)
    assert wrong.value.code == "InvalidSignatureException"
    with pytest.raises(sigv4.SignatureError, match="Signature expired"):
        _check("s3cret", headers, b"{}", now + timedelta(minutes=16))
    with pytest.raises(sigv4.SignatureError):
        _check("s3cret", headers, b'{"x": 1}', now)


def test_secrets_are_sealed_with_the_at_rest_key_else_derived_from_the_admin_key() -> None:
    sealed = SigV4Secrets.from_settings(
        Settings(template_key=SecretStr(generate_key()), admin_api_key=None)
    )
    secret, box = sealed.new_secret("FMAKONE")
    assert box is not None and secret.encode() not in box
    assert sealed.recover("FMAKONE", box) == secret
    assert sealed.recover("FMAKTWO", box) is None  # bound to its access key id

    derived = SigV4Secrets.from_settings(
        Settings(admin_api_key=SecretStr("admin-" * 6), template_key=None)
    )
    secret, box = derived.new_secret("FMAKONE")
    assert box is None and derived.recover("FMAKONE", None) == secret
    rotated = SigV4Secrets.from_settings(
        Settings(admin_api_key=SecretStr("other-" * 6), template_key=None)
    )
    assert rotated.recover("FMAKONE", None) != secret

    with pytest.raises(Conflict):
        SigV4Secrets.from_settings(Settings(admin_api_key=None, template_key=None)).new_secret(
            "FMAKONE"
        )


def test_rekognition_default_thresholds_are_at_least_as_strict_as_the_default_point(
    models_dir: Path,
) -> None:
    from app.api.rekognition.operations import (
        DEFAULT_ASSOCIATE_THRESHOLD,
        DEFAULT_MATCH_THRESHOLD,
    )
    from app.services.scores import far_at_score
    from app.vision.pipeline import VisionPipeline

    pipeline = VisionPipeline.load(models_dir, threads=1)
    for threshold in (DEFAULT_MATCH_THRESHOLD, DEFAULT_ASSOCIATE_THRESHOLD):
        far = far_at_score(threshold / 100, pipeline=pipeline)
        assert far <= pipeline.calibration.default_far, (threshold, far)

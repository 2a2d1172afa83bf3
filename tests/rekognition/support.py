"""Helpers for the Rekognition door's tests: a live server, SigV4 keys, and a check of every raw
response against botocore's own service model (independent of the door's committed subset)."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.session import get_session

from tests.live_server import LiveServer, sqlite_server

PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"
REGION = "eu-central-1"
# One attempt: a test must see the first answer, and ThrottlingException must not be retried.
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})


def photo(relative: str) -> bytes:
    return (PHOTOS / relative).read_bytes()


@dataclass(frozen=True)
class Served:
    url: str
    admin_key: str
    server: LiveServer


@contextmanager
def served(tmp: Path, models_dir: Path, **settings: str) -> Iterator[Served]:
    """facematch in a uvicorn subprocess on a free port (the tests' shared SQLite builder)."""
    admin_key = secrets.token_urlsafe(24)
    server = sqlite_server(tmp, models_dir, admin_key, inference_workers="2", **settings)
    server.start()
    try:
        yield Served(server.url, admin_key, server)
    finally:
        server.stop()


def create_key(
    served: Served, *, role: str = "admin", collection_id: str | None = None
) -> dict[str, Any]:
    response = httpx.post(
        f"{served.url}/v1/keys",
        headers={"X-API-Key": served.admin_key},
        json={"collection_id": collection_id, "role": role, "kind": "sigv4"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def client(served: Served, key: dict[str, Any], *, secret: str | None = None) -> Any:
    """An unmodified boto3 client whose every response is checked against botocore's model."""
    rekognition = boto3.client(
        "rekognition",
        endpoint_url=served.url,
        aws_access_key_id=key["access_key_id"],
        aws_secret_access_key=secret if secret is not None else key["secret_access_key"],
        region_name=REGION,
        config=NO_RETRY,
    )
    rekognition.meta.events.register("after-call.rekognition", check_against_model)
    return rekognition


# --- every response, checked against botocore's model ------------------------------------------

_MODEL = get_session().get_service_model("rekognition")
_ERROR_CODES = {shape.name for shape in _MODEL.error_shapes}


def check_against_model(http_response: Any, model: Any, **_: Any) -> None:
    """The raw JSON of a successful answer must be exactly what the operation's output shape
    declares: no member botocore's parser would drop, none of the wrong type or enum value."""
    assert http_response.headers.get("x-amzn-RequestId"), "no x-amzn-RequestId header"
    assert http_response.headers["content-type"] == "application/x-amz-json-1.1"
    body = json.loads(http_response.content or b"{}")
    if http_response.status_code >= 300:
        assert set(body) == {"__type", "message"}, body
        assert body["__type"] in _ERROR_CODES | AUTH_ERRORS, body
        return
    problems = list(_mismatches(body, model.output_shape, model.name))
    assert not problems, problems


# Errors AWS's front end answers before any service model is involved.
AUTH_ERRORS = {
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
    "ValidationException",
    "UnknownOperationException",
    "SerializationException",
}


def _mismatches(value: Any, shape: Shape, where: str) -> Iterator[str]:
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            yield f"{where}: expected a structure, got {type(value).__name__}"
            return
        for name, item in value.items():
            if name not in shape.members:
                yield f"{where}.{name}: not a member of {shape.name}"
            else:
                yield from _mismatches(item, shape.members[name], f"{where}.{name}")
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            yield f"{where}: expected a list"
            return
        for i, item in enumerate(value):
            yield from _mismatches(item, shape.member, f"{where}[{i}]")
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict):
            yield f"{where}: expected a map"
            return
        for k, item in value.items():
            yield from _mismatches(item, shape.value, f"{where}.{k}")
    elif kind == "string":
        if not isinstance(value, str):
            yield f"{where}: expected a string, got {value!r}"
        elif shape.enum and value not in shape.enum:
            yield f"{where}: {value!r} is not one of {shape.enum}"
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            yield f"{where}: expected an integer, got {value!r}"
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            yield f"{where}: expected a number, got {value!r}"
        elif (low := shape.metadata.get("min")) is not None and value < low:
            yield f"{where}: {value} < min {low}"
        elif (high := shape.metadata.get("max")) is not None and value > high:
            yield f"{where}: {value} > max {high}"
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield f"{where}: expected a boolean"
    elif kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            yield f"{where}: expected epoch seconds, got {value!r}"
    elif kind == "blob":
        try:
            base64.b64decode(value, validate=True)
        except Exception:
            yield f"{where}: not base64"
    else:
        yield f"{where}: unexpected shape type {kind}"

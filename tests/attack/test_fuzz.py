"""Property-based fuzzing of the served OpenAPI with schemathesis: no 5xx, responses match it.

Every operation gets a bounded number of generated requests (valid and invalid, with the admin
key) against the real app with real models, so the run fits in CI in a couple of minutes. Each
response goes through schemathesis' default checks (not a server error, a documented status code
and content type and headers, a body matching the documented schema, malformed data rejected,
missing authentication refused); "schema-valid data is accepted" too, wherever the request holds
a real photo (see PHOTO_EXCLUDED).

(schemathesis' own pytest parametrisation does not run under pytest 9, so each operation is a
plain parametrised test driving the operation's Hypothesis strategy itself.)
"""

from __future__ import annotations

import base64
import io
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis.transport.serialization import Binary

from app.main import create_app
from app.vision.pipeline import VisionPipeline
from tests.attack.service import attack_settings
from tests.helpers import ADMIN_KEY, photo

EXAMPLES_PER_OPERATION = 50
# "Schema-valid data must be accepted" cannot hold for random photo bytes (bytes that fit
# `format: binary` are not a photo, and 422 invalid_image is the right answer), so it is off
# for generated photos. Half the valid requests of the single-photo operations carry a real
# photo instead, and those keep the check, so their other fields (top_k, threshold, faces, ...)
# are held to it too. Enroll keeps random photos only: a real photo enrolled once is rightly a
# duplicate_image the next time.
PHOTO_EXCLUDED = [schemathesis.checks.positive_data_acceptance]
# CompreFace answers a request without `x-api-key` with its own 400 `{"code": 20}` (what its
# clients expect; tests/compat/test_compreface.py checks it), not the 401/403 schemathesis'
# missing-authentication check wants, so that one check is off for the CompreFace door.
OWN_MISSING_KEY_ANSWER = ("/api/v1/",)
KEEP_SEEDED = {
    "/v1/collections/{collection_id}",
    "/v1/collections/{collection_id}/identities/{identity_id}/faces/{face_id}",
}


def _photo_fields(operation: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
    """The operation's photo fields, and whether one of them is repeatable."""
    form = operation.get("requestBody", {}).get("content", {}).get("multipart/form-data", {})
    fields = form.get("schema", {}).get("properties", {})
    return tuple(fields), any(f.get("type") == "array" for f in fields.values())


def _operations() -> list[tuple[str, str, tuple[str, ...], bool]]:
    # Reading the schema needs no lifespan (no models, no database): only the routes.
    app = create_app(attack_settings(Path(tempfile.gettempdir())))
    return [
        (method.upper(), path, *_photo_fields(operation))
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
    ]


def _key_headers() -> dict[tuple[str, str], str]:
    """The header each operation's own security scheme names (`X-API-Key` for /v1, `x-api-key`
    for the CompreFace door). schemathesis' missing-authentication check removes exactly that
    name before it re-sends a request, so the key must travel under it: sent as `X-API-Key` to a
    door whose scheme says `x-api-key`, the key survived the removal (HTTP header names are
    case-insensitive) and the check reported a keyless 200 that never happened."""
    schema = create_app(attack_settings(Path(tempfile.gettempdir()))).openapi()
    schemes = schema.get("components", {}).get("securitySchemes", {})
    headers = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = [name for rule in operation.get("security", []) for name in rule]
            header = next(
                (
                    schemes[name]["name"]
                    for name in names
                    if schemes.get(name, {}).get("in") == "header"
                ),
                "X-API-Key",
            )
            headers[(method.upper(), path)] = header
    return headers


def _small_face_photo() -> bytes:
    # A real face, shrunk so that the photo-carrying examples stay cheap to analyse.
    image = Image.open(io.BytesIO(photo("obama/obama1.jpg")))
    image.thumbnail((400, 400))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def _with_real_photo(case: schemathesis.Case, fields: tuple[str, ...], data: bytes) -> bool:
    """Put `data` in every photo field of a valid generated request; False when not possible."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return False
    if not isinstance(case.body, dict) or not set(fields) <= set(case.body):
        return False
    as_json = case.media_type == "application/json"
    for field in fields:
        case.body[field] = base64.b64encode(data).decode() if as_json else Binary(data)
    return True


OPERATIONS = _operations()
KEY_HEADERS = _key_headers()


@pytest.fixture(scope="module")
def fuzz_app(pipeline: VisionPipeline, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(attack_settings(tmp_path_factory.mktemp("fuzz")), pipeline=pipeline)


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app: FastAPI) -> Iterator[schemathesis.BaseSchema]:
    # schemathesis starts the app's lifespan itself, once, on its own event loop.
    yield schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    schemathesis.python.asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def real_ids(fuzz_schema: schemathesis.BaseSchema, fuzz_app: FastAPI) -> dict[str, str]:
    """A collection, identity and face that exist, so generated requests also reach past the
    404 of a random id into validation, the database and the pipeline."""
    with schemathesis.python.asgi.get_client(fuzz_app) as client:
        client.headers["X-API-Key"] = ADMIN_KEY
        collection = client.post("/v1/collections", json={"name": "fuzz"}).json()["id"]
        identity = client.post(f"/v1/collections/{collection}/identities", json={}).json()["id"]
        enrolled = client.post(
            f"/v1/collections/{collection}/identities/{identity}/faces",
            files={"image": ("o.jpg", photo("obama/obama1.jpg"), "image/jpeg")},
        )
        assert enrolled.status_code == 201, enrolled.text
    return {
        "collection_id": collection,
        "identity_id": identity,
        "face_id": str(enrolled.json()["faces"][0]["id"]),
    }


@pytest.mark.parametrize(
    ("method", "path", "photo_fields", "repeatable"),
    OPERATIONS,
    ids=[f"{m} {p}" for m, p, _, _ in OPERATIONS],
)
def test_generated_requests_get_no_5xx_and_match_the_schema(
    fuzz_schema: schemathesis.BaseSchema,
    real_ids: dict[str, str],
    method: str,
    path: str,
    photo_fields: tuple[str, ...],
    repeatable: bool,
    record_property: Callable[[str, object], None],
) -> None:
    operation = fuzz_schema[path][method]
    # Deleting the seeded collection would leave every later request a 404, and deleting the
    # seeded face would make verifying the seeded identity a (rightful) no_enrolled_faces: these
    # two get random ids only.
    substitute = not (method == "DELETE" and path in KEEP_SEEDED)
    real_photo = _small_face_photo() if photo_fields and not repeatable else b""
    key_header = KEY_HEADERS[(method, path)]
    sent = with_real_photo = 0

    @given(case=operation.as_strategy(), use_real_ids=st.booleans(), use_photo=st.booleans())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: schemathesis.Case, use_real_ids: bool, use_photo: bool) -> None:
        nonlocal sent, with_real_photo
        sent += 1
        if use_real_ids and substitute and case.path_parameters:
            for name in case.path_parameters:
                if name in real_ids:
                    case.path_parameters[name] = real_ids[name]
        excluded = PHOTO_EXCLUDED if photo_fields else []
        if real_photo and use_photo and _with_real_photo(case, photo_fields, real_photo):
            with_real_photo += 1
            excluded = []
        if path.startswith(OWN_MISSING_KEY_ANSWER):
            excluded = [*excluded, schemathesis.checks.ignored_auth]
        case.call_and_validate(headers={key_header: ADMIN_KEY}, excluded_checks=excluded)

    check()
    record_property("generated_requests", sent)
    record_property("requests_with_a_real_photo", with_real_photo)
    assert sent > 0
    assert with_real_photo > 0 or not real_photo


def test_schema_documents_success_and_auth_failure_for_every_operation() -> None:
    app = create_app(attack_settings(Path(tempfile.gettempdir())))
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert any(s.startswith("2") for s in statuses), f"{method} {path}"
            if path.startswith("/v1"):
                assert "401" in statuses, f"{method} {path} does not document 401"

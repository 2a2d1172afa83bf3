"""A Python client generated from the served OpenAPI document (openapi-python-client) drives the
real service: create collection → create identity → enroll → identify → verify."""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.helpers import PHOTOS
from tests.live_server import ServedApi

PACKAGE = "facematch_generated_client"


@pytest.fixture(scope="module")
def generation(served_api: ServedApi, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Generate the client from what the running app serves; returns the generator's output."""
    root = tmp_path_factory.mktemp("client")
    spec = root / "openapi.json"
    spec.write_bytes(httpx.get(f"{served_api.base_url}/openapi.json", timeout=10).content)
    config = root / "config.yaml"
    # No post hooks: formatting the generated code is not what this test checks.
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    generator = Path(sys.executable).parent / "openapi-python-client"
    result = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(root / PACKAGE),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return {"root": root, "result": result}


@pytest.fixture(scope="module")
def client_package(generation: dict[str, Any]) -> ModuleType:
    assert generation["result"].returncode == 0, generation["result"].stderr
    sys.path.insert(0, str(generation["root"]))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(generation["root"]))


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def _photo(person: str, name: str) -> Any:
    file_cls = _module("types").File
    path = PHOTOS / person / name
    payload = io.BytesIO(path.read_bytes())
    return file_cls(payload=payload, file_name=path.name, mime_type="image/jpeg")


@pytest.fixture(scope="module")
def client(client_package: ModuleType, served_api: ServedApi) -> Any:
    return client_package.AuthenticatedClient(
        base_url=served_api.base_url,
        token=served_api.api_key,
        prefix="",
        auth_header_name="X-API-Key",
        timeout=httpx.Timeout(120.0),
    )


@pytest.fixture(scope="module")
def gallery(client: Any) -> dict[str, Any]:
    """obama (three photos) and biden (one) enrolled through the generated client."""
    models = _module("models")
    collection = _module("api.collections.collections_create").sync(
        client=client, body=models.CollectionCreate(name=f"client-{uuid.uuid4().hex[:8]}")
    )
    assert isinstance(collection, models.CollectionOut), collection
    identities = {}
    for person, photos in {
        "obama": ["obama.jpg", "obama1.jpg", "obama2.jpg"],
        "biden": ["biden.jpg"],
    }.items():
        identity = _module("api.identities.identities_create").sync(
            collection.id,
            client=client,
            body=models.IdentityCreate(external_id=person, display_name=person.title()),
        )
        assert isinstance(identity, models.IdentityOut), identity
        enrolled = _module("api.faces.faces_enroll").sync(
            collection.id,
            identity.id,
            client=client,
            body=models.FacesEnrollFilesBody(image=[_photo(person, p) for p in photos]),
        )
        assert isinstance(enrolled, models.EnrollOut), enrolled
        identities[person] = (identity, enrolled)
    return {"collection": collection, "identities": identities}


def test_generation_succeeds_without_warnings(generation: dict[str, Any]) -> None:
    result = generation["result"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr


def test_operations_are_grouped_by_tag_with_readable_names(client_package: ModuleType) -> None:
    for module in (
        "api.collections.collections_create",
        "api.faces.faces_enroll",
        "api.matching.matching_identify",
        "api.matching.matching_verify",
    ):
        assert hasattr(_module(module), "sync"), module


def test_enrolling_through_the_client_stores_every_photo(gallery: dict[str, Any]) -> None:
    obama, obama_enrolled = gallery["identities"]["obama"]
    assert len(obama_enrolled.faces) == 3 and obama_enrolled.rejected == []
    assert all(face.identity_id == obama.id for face in obama_enrolled.faces)


def test_identify_finds_the_enrolled_person_as_the_match(client: Any, gallery: dict) -> None:
    models = _module("models")
    answer = _module("api.matching.matching_identify").sync(
        gallery["collection"].id,
        client=client,
        body=models.MatchingIdentifyFilesBody(image=_photo("obama", "obama3.jpg")),
    )
    assert isinstance(answer, models.IdentifyOut), answer
    face = answer.faces[0]
    assert face.candidates[0].external_id == "obama"
    assert face.match is not None and face.match.external_id == "obama"


def test_verify_matches_two_photos_of_the_same_person(client: Any) -> None:
    models = _module("models")
    answer = _module("api.matching.matching_verify").sync(
        client=client,
        body=models.MatchingVerifyFilesBody(
            image_a=_photo("obama", "obama.jpg"), image_b=_photo("obama", "obama3.jpg")
        ),
    )
    assert isinstance(answer, models.VerifyOut), answer
    assert answer.match is True and answer.similarity >= answer.threshold


def test_verify_rejects_two_different_people(client: Any) -> None:
    models = _module("models")
    answer = _module("api.matching.matching_verify").sync(
        client=client,
        body=models.MatchingVerifyFilesBody(
            image_a=_photo("obama", "obama.jpg"), image_b=_photo("biden", "biden2.jpg")
        ),
    )
    assert isinstance(answer, models.VerifyOut), answer
    assert answer.match is False and answer.similarity < answer.threshold


def test_verify_against_an_enrolled_identity(client: Any, gallery: dict[str, Any]) -> None:
    models = _module("models")
    biden, _ = gallery["identities"]["biden"]
    answer = _module("api.matching.matching_verify_identity").sync(
        gallery["collection"].id,
        biden.id,
        client=client,
        body=models.MatchingVerifyIdentityFilesBody(image=_photo("biden", "biden2.jpg")),
    )
    assert isinstance(answer, models.VerifyOut), answer
    assert answer.match is True


def test_errors_come_back_as_typed_problems(client: Any) -> None:
    models = _module("models")
    answer = _module("api.collections.collections_get").sync(uuid.uuid4(), client=client)
    assert isinstance(answer, models.Problem)
    assert answer.code == "not_found"

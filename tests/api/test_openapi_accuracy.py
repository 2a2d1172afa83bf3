"""The OpenAPI document says what the service really accepts and answers, with examples, so a
request the schema allows is never refused for a rule the schema hides."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.helpers import ADMIN

FACES = "/v1/collections/{collection_id}/identities/{identity_id}/faces"


def _spec(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    # The document needs no lifespan: no models, no database.
    app = create_app(Settings(_env_file=None, data_dir=tmp_path, **settings), json_logs=False)  # type: ignore[call-arg]
    return app.openapi()


@pytest.fixture
def spec(tmp_path: Path) -> dict[str, Any]:
    return _spec(tmp_path)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(p, m, op) for p, ops in spec["paths"].items() for m, op in ops.items()]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _has_example(spec: dict[str, Any], media: dict[str, Any]) -> bool:
    schema = _resolve(spec, media.get("schema", {}))
    return any(key in thing for thing in (media, schema) for key in ("example", "examples"))


def test_text_fields_document_that_control_characters_are_refused(
    spec: dict[str, Any],
) -> None:
    name = spec["components"]["schemas"]["CollectionCreate"]["properties"]["name"]
    pattern = re.compile(name["pattern"])
    assert pattern.fullmatch("Staff — Zürich 🙂") and not pattern.fullmatch("tab\there")


def test_limit_maximum_is_the_configured_page_size_cap(tmp_path: Path) -> None:
    spec = _spec(tmp_path, page_size_max=7)
    limits = [
        branch.get("maximum")
        for _, _, op in _operations(spec)
        for parameter in op.get("parameters", [])
        if parameter["name"] == "limit"
        for branch in parameter["schema"].get("anyOf", [parameter["schema"]])
        if branch.get("type") == "integer"
    ]
    assert len(limits) >= 5 and set(limits) == {7}


def test_detect_max_faces_maximum_is_the_configured_faces_per_photo(tmp_path: Path) -> None:
    spec = _spec(tmp_path, max_faces_per_image=5)
    parameters = spec["paths"]["/v1/detect"]["post"]["parameters"]
    schema = next(p for p in parameters if p["name"] == "max_faces")["schema"]
    assert [b.get("maximum") for b in schema["anyOf"] if b.get("type") == "integer"] == [5]


def test_a_limit_above_the_cap_is_refused_and_the_cap_itself_accepted(
    start_app: Callable[..., TestClient],
) -> None:
    with start_app(page_size_max=7) as small:
        at_cap = small.get("/v1/collections", params={"limit": 7}, headers=ADMIN)
        above = small.get("/v1/collections", params={"limit": 8}, headers=ADMIN)
    assert at_cap.status_code == 200 and above.status_code == 422


def test_the_default_page_never_exceeds_a_small_cap(start_app: Callable[..., TestClient]) -> None:
    with start_app(page_size_max=3) as small:
        page = small.get("/v1/collections", headers=ADMIN)
        events = small.get("/v1/audit-events", headers=ADMIN)
    assert page.status_code == 200 and page.json()["limit"] == 3
    assert events.status_code == 200


def test_the_repeatable_image_field_needs_at_least_one_photo(spec: dict[str, Any]) -> None:
    content = spec["paths"][FACES]["post"]["requestBody"]["content"]
    files = content["multipart/form-data"]["schema"]["properties"]["image"]
    arrays = [b for b in content["application/json"]["schema"]["properties"]["image"]["oneOf"]]
    assert files["minItems"] == 1
    assert [b["minItems"] for b in arrays if b.get("type") == "array"] == [1]


def test_readyz_documents_only_what_it_can_answer(spec: dict[str, Any]) -> None:
    assert set(spec["paths"]["/readyz"]["get"]["responses"]) == {"200", "503"}


def test_every_success_response_with_a_body_has_an_example(spec: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path} {status}"
        for path, method, op in _operations(spec)
        for status, response in op["responses"].items()
        if status.startswith("2")
        for media in response.get("content", {}).values()
        if not _has_example(spec, media)
    ]
    assert missing == []


def test_every_request_body_has_an_example(spec: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path}"
        for path, method, op in _operations(spec)
        if "requestBody" in op
        and not any(_has_example(spec, m) for m in op["requestBody"]["content"].values())
    ]
    assert missing == []


def test_audit_actions_are_an_enum(spec: dict[str, Any]) -> None:
    parameters = spec["paths"]["/v1/audit-events"]["get"]["parameters"]
    action = next(p for p in parameters if p["name"] == "action")["schema"]
    enums = [b["enum"] for b in action.get("anyOf", [action]) if "enum" in b]
    assert enums and "identity.delete" in enums[0]

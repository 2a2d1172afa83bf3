"""The committed openapi.json is what the app serves, and its shape generates good clients."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.helpers import REPO

OPERATION_ID = re.compile(r"[a-z]+(-[a-z]+)+")


@pytest.fixture(scope="module")
def served_spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # /openapi.json needs no lifespan: no models, no database.
    settings = Settings(data_dir=tmp_path_factory.mktemp("openapi"))
    client = TestClient(create_app(settings, json_logs=False))
    return client.get("/openapi.json").json()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def test_committed_openapi_json_equals_what_the_app_serves(served_spec: dict[str, Any]) -> None:
    committed = json.loads((REPO / "openapi.json").read_text(encoding="utf-8"))
    assert committed == served_spec, "stale openapi.json: run python scripts/export_openapi.py"


def test_operation_ids_are_unique_and_read_tag_dash_action(served_spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in _operations(served_spec)]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not OPERATION_ID.fullmatch(i)] == []


def test_every_operation_is_tagged_with_a_declared_tag(served_spec: dict[str, Any]) -> None:
    declared = {tag["name"] for tag in served_spec.get("tags", [])} | {"operations"}
    for path, method, op in _operations(served_spec):
        assert op.get("tags") and set(op["tags"]) <= declared, f"{method} {path}"


def test_every_error_response_uses_the_problem_schema(served_spec: dict[str, Any]) -> None:
    """facematch's own API answers problems; a protocol door (`x-protocol`: DeepStack,
    CompreFace) answers in that protocol's error format, which it documents as a schema."""
    for path, method, op in _operations(served_spec):
        for status, response in op["responses"].items():
            if status[0] in "45":
                content = response.get("content", {})
                if "x-protocol" in op:
                    schema = content.get("application/json", {}).get("schema", {})
                    assert schema.get("$ref", "").startswith("#/components/schemas/"), (
                        f"{method} {path} {status}"
                    )
                    assert schema["$ref"] != "#/components/schemas/Problem"
                    continue
                schema = content.get("application/problem+json", {}).get("schema", {})
                assert schema.get("$ref") == "#/components/schemas/Problem", (
                    f"{method} {path} {status}"
                )


def test_every_v1_operation_requires_the_api_key(served_spec: dict[str, Any]) -> None:
    for path, method, op in _operations(served_spec):
        # DeepStack's door shares the /v1 prefix but reads its key from the form (`x-protocol`).
        if path.startswith("/v1/") and "x-protocol" not in op:
            assert {"APIKeyHeader": []} in op.get("security", []), f"{method} {path}"

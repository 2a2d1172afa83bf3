"""docs/compat.md documents every operation of the protocol doors (the `x-protocol` operations of
the committed OpenAPI document), as docs/api.md does for `/v1`."""

from __future__ import annotations

import json

from tests.helpers import REPO


def test_every_door_operation_is_in_docs_compat_md() -> None:
    spec = json.loads((REPO / "openapi.json").read_text(encoding="utf-8"))
    doc = (REPO / "docs" / "compat.md").read_text(encoding="utf-8")
    door_operations = [
        f"`{method.upper()} {path}`"
        for path, operations in spec["paths"].items()
        for method, op in operations.items()
        if "x-protocol" in op
    ]
    assert len(door_operations) == 6 + 14
    assert [op for op in door_operations if op not in doc] == []

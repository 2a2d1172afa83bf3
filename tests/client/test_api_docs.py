"""docs/api.md documents every endpoint of the committed OpenAPI document with a real example."""

from __future__ import annotations

import json
import re

from tests.helpers import REPO


def _endpoint_rows() -> dict[tuple[str, str], str]:
    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    rows = re.findall(
        r"^\| (GET|POST|PATCH|PUT|DELETE) \| `([^`]+)` \| `[^`]*` \| (.*) \|$", text, re.M
    )
    return {(method, path): example for method, path, example in rows}


def test_every_endpoint_has_an_example_in_docs_api_md() -> None:
    spec = json.loads((REPO / "openapi.json").read_text(encoding="utf-8"))
    rows = _endpoint_rows()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if "x-protocol" in op:
                continue  # the protocol doors are documented in docs/compat.md (tests/compat)
            example = rows.get((method.upper(), path), "")
            assert example.startswith("["), f"{method.upper()} {path} has no example in docs/api.md"


def test_every_example_link_points_at_a_section() -> None:
    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    headings = {
        "-".join(re.sub(r"[()`,:/'.]", "", h.lower()).split())
        for h in re.findall(r"^### (.+)$", text, re.M)
    }
    for example in _endpoint_rows().values():
        anchor = re.search(r"\(#([^)]+)\)", example)
        assert anchor and anchor.group(1) in headings, example

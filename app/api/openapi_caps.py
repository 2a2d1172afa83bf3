"""Limits from settings, written into an app's OpenAPI document.

Routers are built at import, before any settings exist, so a cap that settings choose (page size,
faces per photo) cannot be a `le=` on the parameter. The route enforces the setting; this writes
the same number as the parameter's `maximum`, so the document never allows what the app refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.settings import Settings


def query_caps(settings: Settings) -> dict[str, int]:
    """Query parameter name → the largest value this app accepts for it."""
    return {"limit": settings.page_size_max, "max_faces": settings.max_faces_per_image}


def document_caps(spec: dict[str, Any], caps: Mapping[str, int]) -> None:
    """Set `maximum` of every integer query parameter named in `caps`, in place."""
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                cap = caps.get(parameter.get("name", ""))
                if parameter.get("in") != "query" or cap is None:
                    continue
                schema = parameter.get("schema", {})
                for branch in schema.get("anyOf", [schema]):
                    if branch.get("type") == "integer":
                        branch["maximum"] = cap

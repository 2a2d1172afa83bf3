"""`limit`/`offset` query parameters, capped by settings.

Routers are built before any settings exist, so the cap cannot be a `le=` on the parameter;
`document_page_cap` writes it into the OpenAPI document of each app instead, and the dependency
enforces the same number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query

from app.api.deps import SettingsDep
from app.api.errors import RequestProblem

DEFAULT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int


def capped_limit(limit: int | None, *, default: int, cap: int) -> int:
    """The page size to use: the default (never above the cap) or the caller's, refused above it."""
    if limit is None:
        return min(default, cap)
    if limit > cap:
        raise RequestProblem(f"limit: at most {cap} items per page")
    return limit


def _page(
    settings: SettingsDep,
    limit: Annotated[
        int | None,
        Query(ge=1, description=f"Items per page; default {DEFAULT_LIMIT}, at most the cap shown."),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=2**62, description="Items to skip.")] = 0,
) -> PageParams:
    return PageParams(
        capped_limit(limit, default=DEFAULT_LIMIT, cap=settings.page_size_max), offset
    )


PageDep = Annotated[PageParams, Depends(_page)]


def document_page_cap(spec: dict[str, Any], cap: int) -> None:
    """Set `maximum` of every `limit` query parameter in `spec` to this app's page size cap."""
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "query" or parameter.get("name") != "limit":
                    continue
                schema = parameter.get("schema", {})
                for branch in schema.get("anyOf", [schema]):
                    if branch.get("type") == "integer":
                        branch["maximum"] = cap

"""`limit`/`offset` query parameters, capped by settings (`app.api.openapi_caps` documents the
cap in each app's OpenAPI document)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

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

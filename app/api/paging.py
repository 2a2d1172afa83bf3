"""`limit`/`offset` query parameters, capped by settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from app.api.deps import SettingsDep
from app.api.errors import RequestProblem


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int


def _page(
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Items per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=2**62, description="Items to skip.")] = 0,
) -> PageParams:
    if limit > settings.page_size_max:
        raise RequestProblem(f"limit: at most {settings.page_size_max} items per page")
    return PageParams(limit, offset)


PageDep = Annotated[PageParams, Depends(_page)]

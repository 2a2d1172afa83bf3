"""Access is declared, not remembered: every route states who may call it (`app.api.access`), and
the declaration is the one mechanism other doors reuse with their own credential readers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, Form
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from app.api.access import Context, access, routes_without_access
from app.main import create_app
from app.services.errors import Unauthorized
from app.settings import Settings
from tests.helpers import ADMIN, ADMIN_KEY


def test_every_route_declares_who_may_call_it(tmp_path: Path) -> None:
    app = create_app(Settings(_env_file=None, data_dir=tmp_path), json_logs=False)  # type: ignore[call-arg]
    paths = {c.path for c in iter_route_contexts(app.routes)}
    assert "/v1/collections/{collection_id}/identify" in paths  # the walk sees included routers
    assert routes_without_access(app.routes) == []


def test_the_walk_catches_a_route_without_access(tmp_path: Path) -> None:
    app = create_app(Settings(_env_file=None, data_dir=tmp_path), json_logs=False)  # type: ignore[call-arg]
    forgot = APIRouter()

    @forgot.get("/v1/collections/{collection_id}/leak")
    def leak(collection_id: uuid.UUID) -> None:
        del collection_id

    @forgot.post("/v1/write")
    def write() -> None:
        pass

    app.include_router(forgot)
    assert routes_without_access(app.routes) == [
        "GET /v1/collections/{collection_id}/leak",
        "POST /v1/write",
    ]


# -- the mechanism as a door uses it: its own credential reader, router-level declaration --------


def form_api_key(api_key: Annotated[str | None, Form()] = None) -> str:
    if not api_key:
        raise Unauthorized("send the key in the form field api_key")
    return api_key


@pytest.fixture
def door_client(start_app: Callable[..., TestClient]) -> TestClient:
    client = start_app()
    door = APIRouter(
        prefix="/test-door",
        dependencies=[Depends(access("enroll", credentials=form_api_key))],
    )

    @door.post("/whoami")
    def whoami(
        ctx: Annotated[Context, Depends(access("enroll", credentials=form_api_key))],
    ) -> dict[str, str]:
        return {"caller": ctx.caller.name, "role": ctx.caller.role}

    client.app.include_router(door)  # type: ignore[attr-defined]
    return client


def test_a_door_reads_the_same_keys_from_its_own_field(door_client: TestClient) -> None:
    with door_client as client:
        assert routes_without_access(client.app.routes) == []  # type: ignore[attr-defined]
        created = client.post(
            "/v1/keys", headers=ADMIN, json={"collection_id": None, "role": "identify"}
        )
        identify_key = created.json()["key"]

        ok = client.post("/test-door/whoami", data={"api_key": ADMIN_KEY})
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"caller": "admin", "role": "admin"}

        weak = client.post("/test-door/whoami", data={"api_key": identify_key})
        assert weak.status_code == 403
        assert weak.json()["code"] == "forbidden"

        missing = client.post("/test-door/whoami", data={"other": "x"})
        assert missing.status_code == 401
        assert missing.json()["detail"] == "send the key in the form field api_key"

        bad = client.post("/test-door/whoami", data={"api_key": "fm_nope_nope"})
        assert bad.status_code == 401


def test_one_rate_limit_token_per_request_however_many_declarations(
    start_app: Callable[..., TestClient],
) -> None:
    # Router and signature declare access twice; the caller is admitted (and charged) once.
    client = start_app(rate_limit_per_minute=0.5, rate_limit_burst=2)
    door = APIRouter(dependencies=[Depends(access("identify"))])

    @door.get("/test-twice")
    def twice(ctx: Annotated[Context, Depends(access("enroll"))]) -> str:
        return ctx.caller.name

    client.app.include_router(door)  # type: ignore[attr-defined]
    with client:
        answers = [client.get("/test-twice", headers=ADMIN).status_code for _ in range(3)]
    assert answers == [200, 200, 429]

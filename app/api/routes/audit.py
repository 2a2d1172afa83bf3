"""/v1/audit-events: who did what to which ids, and when (admin keys only; no biometric data)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.api.access import Admin
from app.api.errors import problem_responses
from app.api.paging import capped_limit
from app.api.schemas import NO_CONTROL_CHARS, example_of
from app.services import audit as service

router = APIRouter(prefix="/v1/audit-events", tags=["audit"])

DEFAULT_LIMIT = 100


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every timestamp leaves as UTC with an offset.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class AuditEventOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "example": {
                "id": 42,
                "created_at": "2026-11-29T19:30:00Z",
                "key_id": "0b6f0f7e-8a43-4c1e-9a57-3b0f0c1c9e21",
                "action": "identity.delete",
                "collection_id": "4b1c5e2a-0d7e-4f7c-9d7a-2b9f4f4b8a10",
                "target_type": "identity",
                "target_id": "9e2d4c1a-5b6f-4a3e-8c7d-1f0e2d3c4b5a",
                "details": {"face_ids": [17, 18]},
            }
        },
    )

    id: int
    created_at: Annotated[datetime, AfterValidator(_as_utc)]
    key_id: str | None = Field(description='The API key id that acted, or "admin".')
    action: str = Field(description=f"One of: {', '.join(service.ACTIONS)}.")
    collection_id: uuid.UUID | None
    target_type: str | None
    target_id: str | None
    details: dict[str, Any] | None = Field(description="Ids and counts only; never biometric.")


def _audit_page_example(schema: dict[str, Any]) -> None:
    schema["examples"] = [{"items": [example_of(AuditEventOut)], "next_before_id": 42}]


class AuditPage(BaseModel):
    model_config = ConfigDict(json_schema_extra=_audit_page_example)

    items: list[AuditEventOut]
    next_before_id: int | None = Field(
        description="Pass as `before_id` for the next (older) page; null on the last page."
    )


@router.get("", name="list", responses=problem_responses("forbidden"))
def list_audit_events(
    ctx: Admin,
    limit: Annotated[
        int | None,
        Query(
            ge=1, description=f"Events per page; default {DEFAULT_LIMIT}, at most the cap shown."
        ),
    ] = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Only events older than this id.")
    ] = None,
    collection_id: uuid.UUID | None = None,
    key_id: Annotated[
        str | None, Query(max_length=64, pattern=NO_CONTROL_CHARS, description="Who acted.")
    ] = None,
    # An enum in the schema, so clients see the actions and a made-up one is a validation error.
    action: Annotated[service.Action | None, Query(description="What was done.")] = None,
    target_id: Annotated[
        str | None, Query(max_length=64, pattern=NO_CONTROL_CHARS, description="To which id.")
    ] = None,
    since: Annotated[datetime | None, Query(description="From this time on (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
) -> AuditPage:
    """The audit trail, newest first. An admin key scoped to a collection sees that collection's
    events only. Page backwards with `before_id`."""
    # `Admin` has checked the role and that `collection_id`, if given, is in the key's scope.
    caller = ctx.caller
    limit = capped_limit(limit, default=DEFAULT_LIMIT, cap=ctx.settings.page_size_max)
    events = service.list_events(
        ctx.session,
        limit=limit,
        before_id=before_id,
        collection_id=collection_id,
        collection_ids=None if caller.collection_id is None else [caller.collection_id],
        actor=key_id,
        action=action,
        target_id=target_id,
        since=since,
        until=until,
    )
    return AuditPage(
        items=[AuditEventOut.model_validate(e) for e in events],
        next_before_id=events[-1].id if len(events) == limit else None,
    )

"""/v1/audit-events: who did what to which ids, and when (admin keys only; no biometric data)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.access import Admin
from app.api.errors import problem_responses
from app.api.paging import capped_limit
from app.api.schemas import NO_CONTROL_CHARS, AuditEventOut, AuditPage
from app.services import audit as service

router = APIRouter(prefix="/v1/audit-events", tags=["audit"])

DEFAULT_LIMIT = 100


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

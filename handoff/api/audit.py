"""The audit log: every human action with actor and time, as the caller may see it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlmodel import col

from handoff.api.deps import ActorDep, SessionsDep
from handoff.api.errors import paged
from handoff.api.schemas import AuditOut, Limit, Offset
from handoff.api.visibility import page_count, visible_audit
from handoff.models import AuditEntry

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("", responses=paged(401, 422))
async def audit_log(
    actor: ActorDep,
    sessions: SessionsDep,
    response: Response,
    conversation_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    since: Annotated[datetime | None, Query(description="entries at or after this time")] = None,
    until: Annotated[datetime | None, Query(description="entries before this time")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[AuditOut]:
    """Every human action with actor and time, newest first. An admin sees all; a lead the actions on
    conversations they can see and their own; a rep their own."""
    query = visible_audit(actor.viewer)
    if conversation_id is not None:
        query = query.where(col(AuditEntry.conversation_id) == conversation_id)
    if actor_id is not None:
        query = query.where(col(AuditEntry.actor_id) == actor_id)
    if action is not None:
        query = query.where(col(AuditEntry.action) == action)
    if since is not None:
        query = query.where(col(AuditEntry.created_at) >= since)
    if until is not None:
        query = query.where(col(AuditEntry.created_at) < until)
    async with sessions() as session:
        total = (await session.execute(page_count(query))).scalar_one()
        rows = (
            await session.execute(query.order_by(col(AuditEntry.id).desc()).limit(limit).offset(offset))
        ).scalars()
        entries = [AuditOut.model_validate(a, from_attributes=True) for a in rows]
    response.headers["X-Total-Count"] = str(total)
    return entries

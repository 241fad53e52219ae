"""The append-only context log: its table and its writer.

Every agent decision, handoff, assignment, rep action and send failure of a conversation is a
`ContextEvent` row: inserted, never updated or deleted. The rep workspace reads it as the
conversation's history; `handoff.notify` fans committed rows out to live subscribers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from orchestrator.core.enums import EventType
from orchestrator.core.tables import json_col, ts


class ContextEvent(SQLModel, table=True):
    """Append-only: rows are inserted, never updated or deleted."""

    __table_args__ = {"sqlite_autoincrement": True}  # ids never given again (migration 0014)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    type: EventType = Field(sa_type=sa.String(32), index=True)
    source: str = Field(max_length=64)
    description: str
    details: dict[str, Any] | None = json_col()
    created_at: datetime = ts(index=True)


async def log_event(
    session: AsyncSession,
    *,
    conversation_id: int,
    type: EventType,
    source: str,
    description: str,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> ContextEvent:
    event = ContextEvent(
        conversation_id=conversation_id,
        type=type,
        source=source,
        description=description,
        details=details,
        created_at=at,
    )
    # No flush: the row goes out with the transaction's next flush, batched with the others (one
    # INSERT for the events of a step); its id is known after that flush or the commit.
    session.add(event)
    return event

"""The append-only context log: its table and its writer.

Every agent decision, handoff, assignment, rep action and send failure of a conversation is a
`ContextEvent` row: inserted, never updated or deleted. The rep workspace reads it as the
conversation's history; `handoff.notify` fans committed rows out to live subscribers.

Rows are written by the session's flush (`log_event`), or by a statement of the caller's that
inserts the pending ones itself (the assignment claim on PostgreSQL: `pending_events`, then
`inserted`, so the flush does not write them again and they are published all the same).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlmodel import Field, SQLModel

from orchestrator.core.db import built
from orchestrator.core.enums import EventType
from orchestrator.core.tables import json_col, ts


class ContextEvent(SQLModel, table=True):
    """Append-only: rows are inserted, never updated or deleted."""

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
    event = built(
        ContextEvent,
        {
            "id": None,
            "conversation_id": conversation_id,
            "type": type,
            "source": source,
            "description": description,
            "details": details,
            "created_at": at,
        },
    )
    # No flush: the row goes out with the transaction's next flush, batched with the others (one
    # INSERT for the events of a step); its id is known after that flush or the commit.
    session.add(event)
    return event


# The (id, type) of the context events a statement inserted outside the flush in the session's
# transaction: `handoff.notify` publishes them after the commit with the rows its flush wrote.
INSERTED = "contextlog.inserted"


def pending_events(session: AsyncSession) -> list[ContextEvent]:
    """The context events added to the session and not flushed yet, in the order its flush would
    insert them (the order they were added)."""
    pending = [obj for obj in session.new if isinstance(obj, ContextEvent)]
    return sorted(pending, key=lambda obj: instance_state(obj).insert_order or 0)


def inserted(
    session: AsyncSession,
    events: Sequence[ContextEvent],
    ids: Sequence[int],
    *,
    rows: Sequence[tuple[int, EventType]] = (),
) -> None:
    """A statement of the session's transaction inserted `events` (pending in the session, as
    `pending_events` gave them) as rows `ids`, and `rows` besides (inserted without an object):
    the events become persistent objects of the session, so its flush does not write them again,
    and all are recorded for publication after the commit. Not inside a savepoint, whose rollback
    would not take the objects back."""
    if session.in_nested_transaction():
        raise RuntimeError("context events inserted by a statement inside a savepoint")
    refs: list[tuple[int, str]] = session.info.setdefault(INSERTED, [])
    for event, event_id in zip(events, ids, strict=True):
        session.expunge(event)
        event.id = event_id
        make_transient_to_detached(event)
        session.add(event)
        refs.append((event_id, str(event.type)))
    refs += [(event_id, str(type)) for event_id, type in rows]

"""Queries and small writes of the human side. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handoff.enums import Presence
from handoff.models import ContextEvent, EventType, Rep, RepQueue
from orchestrator.config import AppConfig


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
    session.add(event)
    await session.flush()
    return event


async def seed_reps(
    session: AsyncSession, *, config: AppConfig, at: datetime, presence: Presence = Presence.ONLINE
) -> int:
    """Create the configured reps that do not exist yet (demo and first start). Returns how many."""
    created = 0
    for rc in config.reps:
        if await session.get(Rep, rc.id) is not None:
            continue
        session.add(
            Rep(
                id=rc.id,
                name=rc.name,
                role=rc.role,
                capacity=rc.capacity,
                token_hash=hash_token(rc.token) if rc.token else None,
                presence=presence,
                last_seen_at=at,
                created_at=at,
            )
        )
        for slug in rc.queues:
            session.add(RepQueue(rep_id=rc.id, queue=slug))
        created += 1
    await session.flush()
    return created

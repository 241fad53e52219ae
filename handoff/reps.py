"""Queries and small writes of the human side. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import Rep, RepQueue
from orchestrator.core.config import AppConfig
from orchestrator.core.enums import Presence


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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

"""Queries and small writes of the human side. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.models import AuditEntry, Rep, RepQueue
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


async def queues_of(session: AsyncSession, *, rep_id: str) -> list[str]:
    """The slugs of the queues `rep_id` is a member of, sorted."""
    return (await memberships(session, rep_ids=[rep_id])).get(rep_id, [])


async def memberships(session: AsyncSession, *, rep_ids: Collection[str]) -> dict[str, list[str]]:
    """Each rep's queues (sorted), for any number of reps in one query."""
    if not rep_ids:
        return {}
    rows = await session.execute(
        select(col(RepQueue.rep_id), col(RepQueue.queue))
        .where(col(RepQueue.rep_id).in_(sorted(set(rep_ids))))
        .order_by(col(RepQueue.rep_id), col(RepQueue.queue))
    )
    out: dict[str, list[str]] = {}
    for rep_id, queue in rows:
        out.setdefault(str(rep_id), []).append(str(queue))
    return out


def audit(
    session: AsyncSession,
    *,
    actor_id: str,
    action: str,
    at: datetime,
    conversation_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record one human action in the audit log (in the caller's transaction)."""
    session.add(
        AuditEntry(
            actor_id=actor_id, action=action, conversation_id=conversation_id, details=details, created_at=at
        )
    )

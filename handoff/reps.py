"""Queries and small writes of the human side. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.models import AuditEntry, Rep, RepQueue
from orchestrator.core.config import AppConfig
from orchestrator.core.db import rows_affected
from orchestrator.core.enums import Presence

log = structlog.get_logger(__name__)
_SEEDING_LOCK = text("SELECT pg_advisory_xact_lock(727276)")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def seed_reps(
    session: AsyncSession, *, config: AppConfig, at: datetime, presence: Presence = Presence.OFFLINE
) -> int:
    """Create the configured reps that do not exist yet (demo and first start), with `presence`
    (offline in a deployment: a rep is present once they sign in), and retire the API
    tokens the configuration gave to reps it no longer lists (the demo accounts, once a deployment
    has its own configuration). Returns how many reps were created. Processes that start together
    on a new PostgreSQL database seed one at a time (a lock held to the caller's commit), so the
    later ones find the reps created and none fails on a duplicate; on SQLite the writing
    transaction itself is exclusive."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_SEEDING_LOCK)
    created = 0
    for rc in config.reps:
        if await session.get(Rep, rc.id) is not None:
            continue  # the team in force is the database's (`configured_rep_differences`)
        token_hash = hash_token(rc.token) if rc.token else None
        session.add(
            Rep(
                id=rc.id,
                name=rc.name,
                role=rc.role,
                capacity=rc.capacity,
                token_hash=token_hash,
                config_token_hash=token_hash,
                presence=presence,
                last_seen_at=at,
                created_at=at,
            )
        )
        for slug in rc.queues:
            session.add(RepQueue(rep_id=rc.id, queue=slug))
        created += 1
    await session.flush()
    await _retire_config_tokens(
        session, given={rc.id: hash_token(rc.token) if rc.token else None for rc in config.reps}, at=at
    )
    for rep_id, differences in (await configured_rep_differences(session, config=config)).items():
        # A rep the file lists is created from it once; after that an admin edits them in the
        # workspace (or the API), and an edit of the file does not reach them: said at each start.
        log.warning("configured_rep_differs", rep=rep_id, differences=differences)
    return created


async def configured_rep_differences(session: AsyncSession, *, config: AppConfig) -> dict[str, list[str]]:
    """The reps the configuration lists whose name, role, capacity or queues in the database (what
    routing uses) differ from the file's, each difference as "capacity: the file says 9, in force 5"."""
    listed = {rc.id: rc for rc in config.reps}
    if not listed:
        return {}
    reps = (await session.execute(select(Rep).where(col(Rep.id).in_(listed)))).scalars().all()
    queues: dict[str, set[str]] = {}
    for rep_id, queue in await session.execute(
        select(col(RepQueue.rep_id), col(RepQueue.queue)).where(col(RepQueue.rep_id).in_(listed))
    ):
        queues.setdefault(rep_id, set()).add(queue)
    out: dict[str, list[str]] = {}
    for rep in reps:
        rc = listed[rep.id]
        pairs = [
            ("name", rc.name, rep.name),
            ("role", str(rc.role), str(rep.role)),
            ("capacity", rc.capacity, rep.capacity),
            ("queues", ", ".join(sorted(rc.queues)), ", ".join(sorted(queues.get(rep.id, set())))),
        ]
        found = [
            f"{key}: the file says {file!r}, in force {now!r}" for key, file, now in pairs if file != now
        ]
        if found:
            out[rep.id] = found
    return out


async def _retire_config_tokens(session: AsyncSession, *, given: dict[str, str | None], at: datetime) -> None:
    """A token the configuration gave stops working once the configuration no longer gives it: its
    rep no longer listed, or listed without that token (the demo accounts' `token: demo-…` removed
    for a deployment, on a database a trial run started). A token an admin has issued since is the
    admin's decision, and stays."""
    reps = await session.execute(select(Rep).where(col(Rep.config_token_hash).is_not(None)).with_for_update())
    for rep in reps.scalars():
        wanted = given.get(rep.id)
        if wanted == rep.config_token_hash:
            continue
        if rep.token_hash == rep.config_token_hash:
            # The configuration's token, replaced by the one it gives now, or retired.
            rep.token_hash = wanted  # without a token nor heartbeats the rep goes offline as any rep
            action = "rep_token_replaced" if wanted else "rep_token_retired"
            audit(session, actor_id="config", action=action, at=at, details={"rep_id": rep.id})
        rep.config_token_hash = wanted if rep.token_hash == wanted else None
        session.add(rep)
    await session.flush()


async def keep_demo_reps_present(session: AsyncSession, *, at: datetime) -> int:
    """A heartbeat for every rep the configuration gave a token who is not offline: in a trial run
    (`make run`) the demo team stays present though nobody has their page open."""
    result = await session.execute(
        update(Rep)
        .where(col(Rep.config_token_hash).is_not(None), col(Rep.presence) != Presence.OFFLINE)
        .values(last_seen_at=at)
        .execution_options(synchronize_session=False)
    )
    return rows_affected(result)


async def staffed_queues(session: AsyncSession) -> set[str]:
    """The queues that at least one rep who can sign in (a password or an API token) is a member
    of: a conversation routed to any other waits until someone is added."""
    rows = await session.execute(
        select(col(RepQueue.queue))
        .join(Rep, col(Rep.id) == col(RepQueue.rep_id))
        .where(or_(col(Rep.password_hash).is_not(None), col(Rep.token_hash).is_not(None)))
        .distinct()
    )
    return {str(q) for q in rows.scalars()}


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

"""Retention: what the service keeps, and for how long.

Nothing here touches what a conversation needs: messages, the context log and assignments stay. What
goes, each after its own configurable period:
- raw webhook bodies (`WebhookDelivery`, up to 4 MB each): kept for diagnosis, not read by the service;
- inbox items (`InboxItem`) once applied, after the same period: each holds its message or status
  as delivered (the message itself is stored apart); their keys dedupe Meta's retries, which stop
  after 7 days, and a retry after that is stored once anyway (messages dedupe on their own ids);
- delivery statuses (`MessageStatusEvent`): already applied to their message;
- durable timers that fired or were cancelled;
- audit entries (kept longest);
- media files' bytes, only if `retention_media_days` is set (by default they are kept as long as the
  messages): the media row stays, marked `expired`, so the transcript says what was there; a rep's
  file not yet sent is never pruned;
- LangGraph checkpoints: only each conversation's latest is read when its next turn starts, so older
  ones (and their pending writes) are deleted whatever their age.
The background loop calls `prune` every `retention_interval_s`; each step is its own short
transaction, so pruning never holds the writer for long.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from handoff.models import AuditEntry, Timer
from orchestrator.core import heartbeat
from orchestrator.core.db import rows_affected
from orchestrator.core.enums import MediaStatus, SendStatus
from orchestrator.core.settings import Settings
from orchestrator.core.tables import (
    InboxItem,
    Media,
    MediaContent,
    Message,
    MessageStatusEvent,
    WebhookDelivery,
)

log = structlog.get_logger(__name__)

# SQLite saver: every checkpoint of a thread but its newest (checkpoint ids sort by time, uuid6).
_SQLITE_OLD_CHECKPOINTS = """
DELETE FROM {table} WHERE EXISTS (
    SELECT 1 FROM checkpoints newer
    WHERE newer.thread_id = {table}.thread_id
      AND newer.checkpoint_ns = {table}.checkpoint_ns
      AND newer.checkpoint_id > {table}.checkpoint_id
)
"""


@dataclass
class Pruned:
    deliveries: int = 0
    inbox: int = 0
    statuses: int = 0
    timers: int = 0
    audit: int = 0
    media: int = 0
    checkpoints: int = 0
    processes: int = 0


# Media pruned per transaction (each file can be megabytes: short transactions keep the writer free).
MEDIA_BATCH = 200


async def prune(
    sessions: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    at: datetime,
    checkpointer: object = None,
) -> Pruned:
    """Delete what is past its retention period; returns how many rows of each kind went."""
    pruned = Pruned()
    async with sessions() as session, session.begin():
        cutoff = at - timedelta(days=settings.retention_deliveries_days)
        result = await session.execute(
            delete(WebhookDelivery).where(col(WebhookDelivery.received_at) < cutoff)
        )
        pruned.deliveries = rows_affected(result)
        result = await session.execute(
            delete(InboxItem).where(
                col(InboxItem.applied_at).is_not(None), col(InboxItem.applied_at) < cutoff
            )
        )
        pruned.inbox = rows_affected(result)
    async with sessions() as session, session.begin():
        cutoff = at - timedelta(days=settings.retention_statuses_days)
        result = await session.execute(
            delete(MessageStatusEvent).where(col(MessageStatusEvent.created_at) < cutoff)
        )
        pruned.statuses = rows_affected(result)
    async with sessions() as session, session.begin():
        cutoff = at - timedelta(days=settings.retention_timers_days)
        result = await session.execute(
            delete(Timer).where(
                or_(col(Timer.fired_at) < cutoff, col(Timer.cancelled_at) < cutoff),
            )
        )
        pruned.timers = rows_affected(result)
    async with sessions() as session, session.begin():
        cutoff = at - timedelta(days=settings.retention_audit_days)
        result = await session.execute(delete(AuditEntry).where(col(AuditEntry.created_at) < cutoff))
        pruned.audit = rows_affected(result)
    async with sessions() as session, session.begin():
        pruned.processes = await heartbeat.forget_silent(session, at=at)
    if settings.retention_media_days is not None:
        pruned.media = await prune_media(
            sessions,
            before=at - timedelta(days=settings.retention_media_days),
            days=settings.retention_media_days,
        )
    if checkpointer is not None:
        pruned.checkpoints = await prune_checkpoints(checkpointer)
    if any(asdict(pruned).values()):
        log.info("retention_pruned", **asdict(pruned))
    return pruned


async def prune_media(sessions: async_sessionmaker[AsyncSession], *, before: datetime, days: float) -> int:
    """Remove the bytes of media stored before `before`, in batches; their rows are marked `expired`.
    A file whose message is still to be sent (a rep's upload, pending or being sent) is kept."""
    unsent = exists().where(
        col(Message.id) == col(Media.message_id),
        col(Message.status).in_([SendStatus.PENDING, SendStatus.SENDING]),
    )
    due = (
        select(col(Media.id))
        .where(col(Media.status) == MediaStatus.STORED, col(Media.stored_at) < before, ~unsent)
        .order_by(col(Media.id))
        .limit(MEDIA_BATCH)
    )
    reason = f"removed {days:g} days after it was stored (media retention)"
    total = 0
    while True:
        async with sessions() as session, session.begin():
            ids = list((await session.execute(due)).scalars())
            if not ids:
                return total
            await session.execute(delete(MediaContent).where(col(MediaContent.media_id).in_(ids)))
            await session.execute(
                update(Media)
                .where(col(Media.id).in_(ids))
                .values(status=MediaStatus.EXPIRED, error=reason)
                .execution_options(synchronize_session=False)
            )
        total += len(ids)


async def prune_checkpoints(checkpointer: object) -> int:
    """Keep each conversation's latest checkpoint only (the graph's saver, SQLite or PostgreSQL).
    Returns the checkpoints deleted."""
    from orchestrator.runtime.checkpoints import SessionSaver, StagedSaver

    if isinstance(checkpointer, StagedSaver):
        checkpointer = checkpointer.inner
    if isinstance(checkpointer, SessionSaver):
        async with checkpointer.engine.begin() as conn:  # the app's own connection: one writer
            await conn.exec_driver_sql(_SQLITE_OLD_CHECKPOINTS.format(table="writes"))
            result = await conn.exec_driver_sql(_SQLITE_OLD_CHECKPOINTS.format(table="checkpoints"))
            return rows_affected(result)

    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    if isinstance(checkpointer, AsyncPostgresSaver):
        async with checkpointer._cursor() as cur:
            await cur.execute(
                "SELECT thread_id, count(*) - 1 AS old FROM checkpoints "
                "WHERE checkpoint_ns = '' GROUP BY thread_id HAVING count(*) > 1"
            )
            rows = await cur.fetchall()
        if rows:
            await checkpointer.aprune([row["thread_id"] for row in rows], strategy="keep_latest")
        return sum(int(row["old"]) for row in rows)
    return 0

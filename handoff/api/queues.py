"""The queue dashboard: per queue the caller belongs to (an admin: every queue), its numbers, and
for one queue the conversations waiting in it and its members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlmodel import col

from handoff import metrics
from handoff.api.deps import ActorDep, ClockDep, ConfigDep, SessionsDep
from handoff.api.errors import errors
from handoff.api.schemas import QueueDetail, Since
from handoff.api.visibility import queue_members, summary, visible_queue_slugs, with_contact
from handoff.errors import NotFound
from handoff.metrics import QueueMetrics
from orchestrator.core.enums import Owner
from orchestrator.core.tables import Conversation

router = APIRouter(prefix="/api/queues", tags=["queues"])


@router.get("", responses=errors(401, 422))
async def queue_dashboard(
    actor: ActorDep, sessions: SessionsDep, config: ConfigDep, clock: ClockDep, since: Since = None
) -> list[QueueMetrics]:
    """Per queue the caller belongs to (an admin: every queue): depth, longest wait, reps online and
    available, and the outcomes (first response, handle time, transfers, SLA breaches)."""
    visible = set(visible_queue_slugs(config, actor.viewer))
    async with sessions() as session:
        queues = await metrics.queue_metrics(session, config=config, at=clock.now(), since=since)
    return [q for q in queues if q.queue in visible]


@router.get("/{slug}", responses=errors(401, 404, 422))
async def queue_detail(
    slug: Annotated[str, Path(max_length=64)],
    actor: ActorDep,
    sessions: SessionsDep,
    config: ConfigDep,
    clock: ClockDep,
    since: Since = None,
) -> QueueDetail:
    """One queue's numbers, the conversations waiting in it, and its members."""
    if slug not in visible_queue_slugs(config, actor.viewer):
        raise NotFound("queue not found")
    now = clock.now()
    async with sessions() as session:
        queues = await metrics.queue_metrics(session, config=config, at=now, since=since)
        waiting = (
            await session.execute(
                with_contact()
                .where(col(Conversation.queue) == slug, col(Conversation.owner) == Owner.QUEUED)
                .order_by(
                    col(Conversation.priority).desc(), col(Conversation.waiting_since), col(Conversation.id)
                )
                .limit(100)
            )
        ).all()
        reps = await queue_members(session, queue=slug)
    stats = next(q for q in queues if q.queue == slug)
    return QueueDetail(
        **stats.model_dump(), waiting=[summary(c, k, int(n), now) for c, k, n in waiting], reps=reps
    )

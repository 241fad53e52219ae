"""What the workspace pages and its newer endpoints share with the rep API: the parts of the running
service they use (read from `app.state`, like the API's own dependencies), and the API's own read
paths, so a page shows exactly what the API answers the same caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.api.conversations import TRANSCRIPT_PAGE, list_conversations, read_conversation
from handoff.api.deps import Actor
from handoff.api.queues import queue_dashboard, queue_detail
from handoff.api.schemas import ConversationDetail, ConversationSummary, QueueDetail
from handoff.api.visibility import summary, visible_conversation
from handoff.metrics import QueueMetrics
from handoff.notify import NotificationHub
from orchestrator.channels.whatsapp.client import GraphClient
from orchestrator.core.clock import Clock
from orchestrator.core.config import AppConfig
from orchestrator.core.enums import HandoffReason, Owner
from orchestrator.core.settings import Settings


@dataclass(frozen=True)
class WorkspaceService:
    """The parts of the running service the workspace uses."""

    settings: Settings
    config: AppConfig
    clock: Clock
    sessions: async_sessionmaker[AsyncSession]
    client: GraphClient
    notifier: NotificationHub | None


def workspace_service(request: Request) -> WorkspaceService:
    state = request.app.state
    return WorkspaceService(
        settings=state.settings,
        config=state.config,
        clock=state.clock,
        sessions=state.sessions,
        client=state.whatsapp,
        notifier=state.notifier,
    )


WorkspaceServiceDep = Annotated[WorkspaceService, Depends(workspace_service)]


async def conversations(
    service: WorkspaceService,
    actor: Actor,
    *,
    owner: Owner | None = None,
    queue: str | None = None,
    assignee_id: str | None = None,
    reason: HandoffReason | None = None,
    failed_sends: bool | None = None,
    limit: int = 200,
) -> list[ConversationSummary]:
    return await list_conversations(
        actor,
        service.sessions,
        service.clock,
        Response(),
        owner=owner,
        queue=queue,
        assignee_id=assignee_id,
        reason=reason,
        failed_sends=failed_sends,
        limit=limit,
        offset=0,
    )


async def conversation_summary(
    service: WorkspaceService, actor: Actor, conversation_id: int
) -> ConversationSummary:
    """One conversation's summary as the caller sees it (404 when they may not)."""
    async with service.sessions() as session:
        conversation, contact, failed = await visible_conversation(session, actor.viewer, conversation_id)
    return summary(conversation, contact, failed, service.clock.now())


async def conversation_detail(
    service: WorkspaceService,
    actor: Actor,
    conversation_id: int,
    *,
    before: int | None = None,
    limit: int = TRANSCRIPT_PAGE,
) -> ConversationDetail:
    """The API's reading of the conversation: a page of its transcript (the latest, or the one
    before the message `before`)."""
    return await read_conversation(
        conversation_id, actor, service.sessions, service.clock, limit=limit, before=before
    )


# The dashboard's outcomes (SLA breaches among them) are the last day's, not all time's.
DASHBOARD_PERIOD = timedelta(hours=24)


async def queue_numbers(service: WorkspaceService, actor: Actor) -> list[QueueMetrics]:
    since = service.clock.now() - DASHBOARD_PERIOD
    return await queue_dashboard(actor, service.sessions, service.config, service.clock, since=since)


async def queue_waiting(service: WorkspaceService, actor: Actor, slug: str) -> QueueDetail:
    since = service.clock.now() - DASHBOARD_PERIOD
    return await queue_detail(slug, actor, service.sessions, service.config, service.clock, since=since)

"""The one place the rep workspace's newer modules (notes, claim, the browser pages) reach into the
rep API, its authentication, the users and the assignment engine. Everything they need from those
modules is named here, so moving those modules means changing the imports of this file only.

It also gives them the running service without importing the composition root: `WorkspaceService`
is the part of it they use, read from the app's state like the API's own dependency does.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol, cast

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.assignment import assign_to_rep, open_assignment
from handoff.auth import Actor, ActorDep, require_role
from handoff.flows_rep import NotOwner, supervises
from handoff.metrics import QueueMetrics
from handoff.notify import NotificationHub
from handoff.routes import (
    ConversationDetail,
    ConversationSummary,
    QueueDetail,
    _summary,
    authorize,
    domain_errors,
    errors,
    list_conversations,
    queue_dashboard,
    queue_detail,
    read_conversation,
    visible_conversation,
)
from handoff.users import (
    Viewer,
    can_see,
    queues_of,
    rep_by_api_token,
    verify_password,
    viewer_of,
    visibility_clause,
)
from orchestrator.channels.whatsapp.client import GraphClient
from orchestrator.core.clock import Clock
from orchestrator.core.config import AppConfig
from orchestrator.core.enums import HandoffReason, Owner
from orchestrator.core.settings import Settings
from orchestrator.outbox import send_pending

__all__ = [
    "Actor",
    "ActorDep",
    "ConversationDetail",
    "ConversationSummary",
    "NotOwner",
    "QueueDetail",
    "QueueMetrics",
    "Viewer",
    "WorkspaceService",
    "WorkspaceServiceDep",
    "assign_to_rep",
    "authorize",
    "can_see",
    "conversation_detail",
    "conversation_summary",
    "conversations",
    "domain_errors",
    "errors",
    "open_assignment",
    "queue_numbers",
    "queue_waiting",
    "queues_of",
    "rep_by_api_token",
    "require_role",
    "send_after_commit",
    "supervises",
    "verify_password",
    "viewer_of",
    "visibility_clause",
    "visible_conversation",
]


class WorkspaceService(Protocol):
    """What the workspace uses of the running service."""

    settings: Settings
    config: AppConfig
    clock: Clock
    sessions: async_sessionmaker[AsyncSession]
    client: GraphClient
    notifier: NotificationHub | None


def workspace_service(request: Request) -> WorkspaceService:
    return cast(WorkspaceService, request.app.state.service)


WorkspaceServiceDep = Annotated[WorkspaceService, Depends(workspace_service)]


async def send_after_commit(service: WorkspaceService, conversation_id: int) -> None:
    """Send what a committed transaction queued for the customer (a failure is stored on the message)."""
    await send_pending(
        service.sessions, client=service.client, conversation_id=conversation_id, clock=service.clock
    )


# The API's own read paths, so a page shows exactly what the API would answer the same caller.
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
        cast(Any, service),
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
    return _summary(conversation, contact, failed, service.clock.now())


async def conversation_detail(
    service: WorkspaceService, actor: Actor, conversation_id: int
) -> ConversationDetail:
    return await read_conversation(conversation_id, actor, cast(Any, service))


async def queue_numbers(service: WorkspaceService, actor: Actor) -> list[QueueMetrics]:
    return await queue_dashboard(actor, cast(Any, service), since=None)


async def queue_waiting(service: WorkspaceService, actor: Actor, slug: str) -> QueueDetail:
    return await queue_detail(slug, actor, cast(Any, service), since=None)

"""Conversations: list and read what the caller may see; reply, transfer, reassign, resolve and
hand back to the bot.

Authorisation, in this order, for every conversation endpoint:
  1. authenticated (401 otherwise);
  2. the conversation is visible to the caller: enforced in the query itself (404 otherwise, so
     nothing tells an outsider that it exists);
  3. the caller's role and ownership allow the action (`policy.can`; 403 otherwise): only the
     current owner writes to the customer; the owner or a supervisor of the queue (a lead who is a
     member of it, or an admin) transfers, resolves or hands back; only a supervisor reassigns;
  4. the conversation's state allows it (409 otherwise: it is with the bot, or closed, or the
     24-hour customer-service window is closed for a free-form message).
Every write opens its own transaction (the caller owns it; the flows never commit) and sends the
replies it queued after the commit, so a failed send is stored on the message and shown here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from handoff import flows_rep, handback, history
from handoff.api.deps import Actor, ActorDep, ClockDep, ConfigDep, ResumerDep, Sender, SenderDep, SessionsDep
from handoff.api.errors import errors, paged
from handoff.api.media import message_out, raw_of
from handoff.api.schemas import (
    ActionOut,
    AssignmentOut,
    AuditOut,
    ButtonsReply,
    ConversationDetail,
    ConversationId,
    ConversationSummary,
    EventOut,
    HandBackIn,
    Limit,
    ListReply,
    MessageOut,
    Offset,
    ReassignIn,
    ReplyIn,
    SendFailure,
    TemplateReply,
    TextReply,
    TransferIn,
)
from handoff.api.visibility import (
    failed_count,
    page_count,
    summary,
    summary_of,
    visible,
    visible_conversation,
    window_open,
    with_contact,
)
from handoff.errors import Conflict, Invalid
from handoff.models import Assignment, AuditEntry, RepQueue
from handoff.policy import require
from handoff.templates_catalogue import CheckedTemplate, check_template_reply
from orchestrator.channels.whatsapp.inbound import quoted_message_id
from orchestrator.channels.whatsapp.outbound import (
    ListRow,
    ListSection,
    list_message,
    render_as_text,
    reply_buttons,
    template_message,
)
from orchestrator.core import window
from orchestrator.core.clock import Clock
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.enums import Action, Direction, EventType, HandoffReason, Owner, SendStatus
from orchestrator.core.tables import Conversation, Media, Message
from orchestrator.outbox import recipient_of

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


@router.get("", responses=paged(401, 422))
async def list_conversations(
    actor: ActorDep,
    sessions: SessionsDep,
    clock: ClockDep,
    response: Response,
    owner: Owner | None = None,
    queue: Annotated[str | None, Query(max_length=64)] = None,
    assignee_id: Annotated[str | None, Query(max_length=64)] = None,
    reason: HandoffReason | None = None,
    failed_sends: Annotated[
        bool | None, Query(description="only those with (or without) a failed send")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[ConversationSummary]:
    """What the caller may see, most recently active first."""
    query = visible(with_contact(), actor.viewer)
    if owner is not None:
        query = query.where(col(Conversation.owner) == owner)
    if queue is not None:
        query = query.where(col(Conversation.queue) == queue)
    if assignee_id is not None:
        query = query.where(col(Conversation.assignee_id) == assignee_id)
    if reason is not None:
        query = query.where(col(Conversation.handoff_reason) == reason)
    if failed_sends is not None:
        failed = failed_count()
        query = query.where(failed > 0 if failed_sends else failed == 0)
    async with sessions() as session:
        total = (await session.execute(page_count(query))).scalar_one()
        rows = (
            await session.execute(
                query.order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
                .limit(limit)
                .offset(offset)
            )
        ).all()
    response.headers["X-Total-Count"] = str(total)
    now = clock.now()
    return [summary(c, k, int(n), now) for c, k, n in rows]


# The transcript is paged, so reading a conversation costs the same at its 10th message as at its
# 1,000th: a page of messages, the context log over the time it covers (at most this many events),
# the latest failed sends.
TRANSCRIPT_PAGE = 50
EVENTS_PER_PAGE = 500
SEND_FAILURES_SHOWN = 20
Before = Annotated[
    int | None,
    Query(ge=1, description="a message id (`earlier_cursor` of a page): the messages before it"),
]


@router.get("/{conversation_id}", responses=errors(401, 404, 422))
async def read_conversation(
    conversation_id: ConversationId,
    actor: ActorDep,
    sessions: SessionsDep,
    clock: ClockDep,
    limit: Limit = TRANSCRIPT_PAGE,
    before: Before = None,
) -> ConversationDetail:
    """A page of the transcript (the latest `limit` messages; `before` = `earlier_cursor` for the
    page before), the context log over the time it covers, the handoff context, assignment history
    (with the routing explanation and the candidates considered), the latest send failures and the
    audit trail. A fixed number of statements, however long the conversation."""
    now = clock.now()
    async with sessions() as session:
        conversation, contact, failed = await visible_conversation(session, actor.viewer, conversation_id)

        async def rows(query: Any) -> list[Any]:
            return list((await session.execute(query)).scalars())

        of_conversation = col(Message.conversation_id) == conversation_id
        newest_first = select(Message).where(of_conversation).order_by(col(Message.id).desc())
        if before is not None:
            newest_first = newest_first.where(col(Message.id) < before)
        page: list[Message] = await rows(newest_first.limit(limit + 1))
        earlier = len(page) > limit
        messages = list(reversed(page[:limit]))
        media = {
            m.message_id: m
            for m in await rows(select(Media).where(col(Media.message_id).in_([m.id for m in messages])))
        }
        # What the page's replies quote and its reactions are on (one statement, only when some do).
        quoting = {m.id: wamid for m in messages if (wamid := quoted_message_id(raw_of(m)))}
        quoted = (
            {
                q.wa_message_id: q
                for q in await rows(
                    select(Message).where(
                        of_conversation, col(Message.wa_message_id).in_(set(quoting.values()))
                    )
                )
            }
            if quoting
            else {}
        )
        events_query = select(ContextEvent).where(col(ContextEvent.conversation_id) == conversation_id)
        if earlier and messages:  # from this page's first message on (earlier ones go with earlier pages)
            events_query = events_query.where(col(ContextEvent.created_at) >= messages[0].created_at)
        if before is not None:  # up to where the next page starts
            starts = select(col(Message.created_at)).where(col(Message.id) == before).scalar_subquery()
            events_query = events_query.where(col(ContextEvent.created_at) < starts)
        events: list[ContextEvent] = list(
            reversed(await rows(events_query.order_by(col(ContextEvent.id).desc()).limit(EVENTS_PER_PAGE)))
        )
        handoff: ContextEvent | None = (
            await session.execute(
                select(ContextEvent)
                .where(
                    col(ContextEvent.conversation_id) == conversation_id,
                    col(ContextEvent.type) == EventType.HANDOFF,
                )
                .order_by(col(ContextEvent.id).desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        failures: list[Message] = await rows(
            select(Message)
            .where(
                of_conversation,
                col(Message.direction) == Direction.OUTBOUND,
                col(Message.status) == SendStatus.FAILED,
            )
            .order_by(col(Message.id).desc())
            .limit(SEND_FAILURES_SHOWN)
        )
        assignments = await rows(
            select(Assignment)
            .where(col(Assignment.conversation_id) == conversation_id)
            .order_by(col(Assignment.id))
        )
        audit = await rows(
            select(AuditEntry)
            .where(col(AuditEntry.conversation_id) == conversation_id)
            .order_by(col(AuditEntry.id))
        )
        previous = await history.earlier_conversations(
            session, viewer=actor.viewer, conversation=conversation
        )
    return ConversationDetail(
        **summary(conversation, contact, failed, now).model_dump(),
        window_closes_at=window.closes_at(conversation),
        handoff_context=handoff.details if handoff is not None else None,
        messages=[
            message_out(
                m,
                media.get(m.id) if m.id is not None else None,
                replying_to=quoted.get(quoting[m.id]) if m.id in quoting else None,
            )
            for m in messages
        ],
        earlier_cursor=messages[0].id if earlier and messages else None,
        events=[EventOut.model_validate(e, from_attributes=True) for e in events],
        assignments=[AssignmentOut.model_validate(a, from_attributes=True) for a in assignments],
        send_failures=[
            SendFailure(message_id=m.id, text=m.text, error=m.error, at=m.updated_at)
            for m in reversed(failures)
            if m.id is not None
        ],
        audit=[AuditOut.model_validate(a, from_attributes=True) for a in audit],
        earlier_conversations=previous,
    )


def _payload_of(
    body: TextReply | ButtonsReply | ListReply | TemplateReply, to: str, template: CheckedTemplate | None
) -> dict[str, Any] | None:
    """The Graph API body for a rich reply (None for plain text, which `rep_reply` builds)."""
    if isinstance(body, ButtonsReply):
        return reply_buttons(
            to, body.text, [(b.id, b.title) for b in body.buttons], header=body.header, footer=body.footer
        )
    if isinstance(body, ListReply):
        sections = [
            ListSection(
                title=s.title,
                rows=[ListRow(id=r.id, title=r.title, description=r.description) for r in s.rows],
            )
            for s in body.sections
        ]
        return list_message(to, body.text, body.button, sections, header=body.header, footer=body.footer)
    if isinstance(body, TemplateReply) and template is not None:
        return template_message(to, body.name, body.language, template.components)
    return None


@router.post("/{conversation_id}/messages", status_code=202, responses=errors(400, 401, 403, 404, 409, 422))
async def reply(
    conversation_id: ConversationId,
    body: ReplyIn,
    actor: ActorDep,
    sessions: SessionsDep,
    clock: ClockDep,
    sender: SenderDep,
    config: ConfigDep,
) -> MessageOut:
    """Write to the customer as the conversation's owner: text, reply buttons or a list inside the
    24-hour customer-service window, an approved template from the catalogue (`GET /api/templates`)
    at any time. Answered at once (202) with the message `pending`: it is sent after the commit in
    the background, with the Graph client's retries and rate-limit back-off, and its outcome reaches
    the rep live (`message_sent`, or `send_failed` with the message marked `failed` and Meta's
    reason)."""
    now = clock.now()
    async with sessions() as session, session.begin():
        conversation, contact, _ = await visible_conversation(session, actor.viewer, conversation_id)
        require(actor.viewer, Action.REPLY, conversation)
        template = (
            check_template_reply(config, name=body.name, language=body.language, parameters=body.parameters)
            if isinstance(body, TemplateReply)
            else None
        )
        if not isinstance(body, TemplateReply) and not window_open(conversation, now):
            closed = window.closes_at(conversation)
            raise Conflict(
                "the 24-hour customer-service window is closed"
                + (f" (since {closed.isoformat()})" if closed else "")
                + "; send an approved template instead"
            )
        payload = _payload_of(body, recipient_of(contact), template)
        text = body.text if isinstance(body, TextReply) else "(rich message)"
        message = await flows_rep.rep_reply(
            session, conversation_id=conversation_id, rep=actor.rep, text=text, at=now
        )
        if payload is not None:
            # `rep_reply` queues a text; a rich reply replaces the pending row's content before the
            # commit, keeping its ownership check, audit entry and first-response bookkeeping.
            message.payload, message.kind, message.text = (
                payload,
                str(payload["type"]),
                template.preview if template is not None else render_as_text(payload),
            )
            session.add(message)
    sender.after_commit(conversation_id)
    return MessageOut.model_validate(message, from_attributes=True)


@asynccontextmanager
async def _acting_on(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    sender: Sender,
    actor: Actor,
    conversation_id: int,
    action: Action,
) -> AsyncIterator[tuple[AsyncSession, Conversation, datetime]]:
    """A transaction on a conversation the actor may see and act on; the replies it queued are sent
    after the commit."""
    async with sessions() as session, session.begin():
        conversation, _, _ = await visible_conversation(session, actor.viewer, conversation_id)
        require(actor.viewer, action, conversation)
        yield session, conversation, clock.now()
    sender.after_commit(conversation_id)


async def _action_out(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    conversation_id: int,
    assignment: Assignment | None = None,
    briefing: str | None = None,
) -> ActionOut:
    async with sessions() as session:
        conversation = await summary_of(session, conversation_id=conversation_id, now=clock.now())
    return ActionOut(
        conversation=conversation,
        assignment=AssignmentOut.model_validate(assignment, from_attributes=True) if assignment else None,
        briefing=briefing,
    )


@router.post("/{conversation_id}/transfer", responses=errors(400, 401, 403, 404, 409, 422))
async def transfer(
    conversation_id: ConversationId,
    body: TransferIn,
    actor: ActorDep,
    sessions: SessionsDep,
    config: ConfigDep,
    clock: ClockDep,
    sender: SenderDep,
) -> ActionOut:
    """Move the conversation to another queue with a note (the owner, a lead or an admin); the
    assignment engine assigns it there, never straight back to the sender."""
    if body.queue not in {q.slug for q in config.queues}:
        raise Invalid(f"unknown queue {body.queue!r}", location="body.queue")
    async with _acting_on(sessions, clock, sender, actor, conversation_id, Action.TRANSFER) as (
        session,
        _,
        now,
    ):
        assignment = await flows_rep.transfer(
            session,
            config=config,
            conversation_id=conversation_id,
            actor=actor.rep,
            to_queue=body.queue,
            note=body.note,
            at=now,
        )
    return await _action_out(sessions, clock, conversation_id, assignment)


@router.post("/{conversation_id}/reassign", responses=errors(400, 401, 403, 404, 409, 422))
async def reassign(
    conversation_id: ConversationId,
    body: ReassignIn,
    actor: ActorDep,
    sessions: SessionsDep,
    config: ConfigDep,
    clock: ClockDep,
    sender: SenderDep,
) -> ActionOut:
    """Give the conversation to a named member of its queue, or to the next in turn (a lead or an
    admin). The named rep must be online or away/busy with capacity."""
    acting = _acting_on(sessions, clock, sender, actor, conversation_id, Action.REASSIGN)
    async with acting as (session, conversation, now):
        if body.rep_id is not None and (
            conversation.queue is None
            or await session.get(RepQueue, (body.rep_id, conversation.queue)) is None
        ):
            raise Invalid(f"{body.rep_id!r} is not a member of {conversation.queue}", location="body.rep_id")
        assignment = await flows_rep.reassign(
            session,
            config=config,
            conversation_id=conversation_id,
            actor=actor.rep,
            to_rep_id=body.rep_id,
            at=now,
        )
    return await _action_out(sessions, clock, conversation_id, assignment)


@router.post("/{conversation_id}/resolve", responses=errors(401, 403, 404, 409, 422))
async def resolve(
    conversation_id: ConversationId,
    actor: ActorDep,
    sessions: SessionsDep,
    config: ConfigDep,
    clock: ClockDep,
    sender: SenderDep,
) -> ActionOut:
    """Close the conversation (the owner, a lead or an admin); the rep's capacity is freed at once."""
    async with _acting_on(sessions, clock, sender, actor, conversation_id, Action.RESOLVE) as (
        session,
        _,
        now,
    ):
        await flows_rep.resolve(
            session, conversation_id=conversation_id, actor=actor.rep, at=now, config=config
        )
    return await _action_out(sessions, clock, conversation_id)


@router.post("/{conversation_id}/hand-back", responses=errors(400, 401, 403, 404, 409, 422))
async def hand_back_to_bot(
    conversation_id: ConversationId,
    body: HandBackIn,
    actor: ActorDep,
    sessions: SessionsDep,
    clock: ClockDep,
    sender: SenderDep,
    bot: ResumerDep,
    config: ConfigDep,
) -> ActionOut:
    """Give the conversation back to the bot, which resumes with a briefing of what the human did."""
    async with sessions() as session:
        conversation, _, _ = await visible_conversation(session, actor.viewer, conversation_id)
        require(actor.viewer, Action.HAND_BACK, conversation)  # before the model is paid to brief
        lines = await handback.rep_lines_of(session, conversation_id=conversation_id)
    # The model writes the briefing outside any transaction (it may take seconds).
    briefing = await bot.brief(rep_lines=lines, note=body.note) or handback.offline_briefing(body.note, lines)
    acting = _acting_on(sessions, clock, sender, actor, conversation_id, Action.HAND_BACK)
    async with acting as (session, _, now):
        await handback.hand_back(
            session,
            config=config,
            conversation_id=conversation_id,
            actor=actor.rep,
            note=body.note,
            briefing=briefing,
            at=now,
        )
    return await _action_out(sessions, clock, conversation_id, briefing=briefing)

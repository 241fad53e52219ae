"""The rep workspace API: sign-in, conversations (list, read, reply, transfer, reassign, resolve, hand
back), presence and heartbeat, queue dashboard, rep metrics, audit log, the live event stream, and
the admin's configuration and user management.

Authorisation, in this order, for every conversation endpoint:
  1. authenticated (401 otherwise);
  2. the conversation is visible to the caller: enforced in the query itself (404 otherwise, so
     nothing tells an outsider that it exists);
  3. the caller's role and ownership allow the action (403 otherwise): only the current owner writes
     to the customer; the owner, a lead or an admin transfers, resolves or hands back; only a lead or
     an admin reassigns to a named rep;
  4. the conversation's state allows it (409 otherwise: it is with the bot, or closed, or the
     24-hour customer-service window is closed for a free-form message).
Every write opens its own transaction (the caller owns it; the flows never commit) and sends the
replies it queued after the commit, so a failed send is stored on the message and shown here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Discriminator, Field, Tag
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff import flows_rep, metrics
from handoff.api.errors import errors
from handoff.auth import Actor, ActorDep, AdminDep
from handoff.errors import Conflict, Invalid, NotFound, Unauthenticated
from handoff.metrics import QueueMetrics, RepMetrics
from handoff.models import Assignment, AuditEntry, Rep, RepQueue
from handoff.policy import Viewer, require, visibility_clause
from handoff.reps import audit, queues_of
from handoff.users import (
    create_user,
    disable_login,
    hash_password,
    issue_access_token,
    rotate_api_token,
    set_queues,
    verify_password,
)
from orchestrator.channels.whatsapp.outbound import (
    ListRow,
    ListSection,
    list_message,
    render_as_text,
    reply_buttons,
    template_body,
    template_message,
)
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.enums import (
    Action,
    Direction,
    EventType,
    HandoffReason,
    Owner,
    Presence,
    Role,
    SendStatus,
)
from orchestrator.core.tables import Contact, Conversation, Message
from orchestrator.outbox import recipient_of, send_pending
from orchestrator.runtime.container import Service
from orchestrator.runtime.deps import ServiceDep
from orchestrator.runtime.handback import hand_back

CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)
STREAM_PING_S = 15.0


router = APIRouter(prefix="/api")
auth_router = APIRouter(prefix="/api/auth", tags=["auth"])


# -- schemas ---------------------------------------------------------------------------------------
class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds")


class RepOut(BaseModel):
    id: str
    name: str
    role: Role
    presence: Presence
    capacity: int
    open_count: int
    auto_assign: bool
    last_seen_at: datetime | None
    queues: list[str]
    has_password: bool
    has_api_token: bool


class ConversationSummary(BaseModel):
    id: int
    owner: Owner
    queue: str | None
    assignee_id: str | None
    handoff_reason: HandoffReason | None
    contact_name: str | None
    contact_wa_id: str | None
    waiting_since: datetime | None
    handed_off_at: datetime | None
    last_inbound_at: datetime | None
    window_open: bool = Field(description="inside the 24-hour customer-service window: free-form allowed")
    failed_sends: int = Field(description="outbound messages that failed (shown in the transcript)")
    updated_at: datetime


class MessageOut(BaseModel):
    id: int
    direction: Direction
    kind: str
    text: str | None
    sender_type: str
    sender_id: str | None
    status: str
    error: dict[str, Any] | None
    created_at: datetime


class EventOut(BaseModel):
    id: int
    type: str
    source: str
    description: str
    details: dict[str, Any] | None
    created_at: datetime


class AssignmentOut(BaseModel):
    id: int
    queue: str
    rep_id: str | None
    status: str
    reason: str
    routing: dict[str, Any] | None = Field(description="the routing decision: rule, precedence step")
    candidates: list[dict[str, Any]] | None = Field(description="reps considered, and why each was skipped")
    queued_at: datetime
    assigned_at: datetime | None
    first_response_at: datetime | None
    ended_at: datetime | None


class AuditOut(BaseModel):
    id: int
    actor_id: str
    action: str
    conversation_id: int | None
    details: dict[str, Any] | None
    created_at: datetime


class SendFailure(BaseModel):
    message_id: int
    text: str | None
    error: dict[str, Any] | None
    at: datetime


class ConversationDetail(ConversationSummary):
    window_closes_at: datetime | None
    handoff_context: dict[str, Any] | None
    messages: list[MessageOut]
    events: list[EventOut]
    assignments: list[AssignmentOut]
    send_failures: list[SendFailure]
    audit: list[AuditOut]


class TextReply(BaseModel):
    type: Literal["text"] = "text"
    text: str = Field(min_length=1, max_length=4096)


class ButtonIn(BaseModel):
    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=20)


class ButtonsReply(BaseModel):
    type: Literal["buttons"]
    text: str = Field(min_length=1, max_length=1024)
    buttons: list[ButtonIn] = Field(min_length=1, max_length=3)
    header: str | None = Field(default=None, max_length=60)
    footer: str | None = Field(default=None, max_length=60)


class RowIn(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=24)
    description: str | None = Field(default=None, max_length=72)


class SectionIn(BaseModel):
    title: str | None = Field(default=None, max_length=24)
    rows: list[RowIn] = Field(min_length=1, max_length=10)


class ListReply(BaseModel):
    type: Literal["list"]
    text: str = Field(min_length=1, max_length=4096)
    button: str = Field(min_length=1, max_length=20, description="label of the button that opens the list")
    sections: list[SectionIn] = Field(min_length=1, max_length=10)
    header: str | None = Field(default=None, max_length=60)
    footer: str | None = Field(default=None, max_length=60)


class TemplateReply(BaseModel):
    type: Literal["template"]
    name: str = Field(min_length=1, max_length=512, description="an approved template's name")
    language: str = Field(min_length=2, max_length=16, description="e.g. en, en_US, pt_BR")
    parameters: list[str] = Field(default_factory=list, max_length=20, description="body {{1}}, {{2}}...")


def _reply_kind(value: Any) -> str:
    kind = value.get("type", "text") if isinstance(value, dict) else getattr(value, "type", "text")
    return str(kind)


ReplyIn = Annotated[
    Annotated[TextReply, Tag("text")]
    | Annotated[ButtonsReply, Tag("buttons")]
    | Annotated[ListReply, Tag("list")]
    | Annotated[TemplateReply, Tag("template")],
    Discriminator(_reply_kind),
]


class PresenceIn(BaseModel):
    presence: Presence


class TransferIn(BaseModel):
    queue: str = Field(min_length=1, max_length=64, description="slug of the destination queue")
    note: str | None = Field(default=None, max_length=2000, description="for the next rep")


class ReassignIn(BaseModel):
    rep_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="a member of the queue; null: the next in turn"
    )


class HandBackIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000, description="what the bot should know")


class ActionOut(BaseModel):
    conversation: ConversationSummary
    assignment: AssignmentOut | None = None
    briefing: str | None = None


class QueueDetail(QueueMetrics):
    waiting: list[ConversationSummary] = Field(description="oldest first (higher priority first)")
    reps: list[RepOut]


class AutoAssignIn(BaseModel):
    enabled: bool


class RepCreate(BaseModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)
    name: str = Field(min_length=1, max_length=200)
    role: Role = Role.REP
    queues: list[str] = Field(default_factory=list, max_length=50)
    capacity: int = Field(default=5, ge=0, le=1000)
    password: str | None = Field(default=None, min_length=8, max_length=256)


class RepUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    queues: list[str] | None = Field(default=None, max_length=50)
    capacity: int | None = Field(default=None, ge=0, le=1000)
    auto_assign: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)


class ApiTokenOut(BaseModel):
    rep_id: str
    token: str = Field(description="shown once; only its hash is stored")


class StreamReady(BaseModel):
    rep_id: str
    resumed_after: int | None


# -- helpers ---------------------------------------------------------------------------------------
def _window_open(conversation: Conversation, now: datetime) -> bool:
    last = conversation.last_inbound_at
    return last is not None and now - last < CUSTOMER_SERVICE_WINDOW


def _failed_count() -> Any:
    return (
        select(func.count(col(Message.id)))
        .where(
            col(Message.conversation_id) == col(Conversation.id),
            col(Message.direction) == Direction.OUTBOUND,
            col(Message.status) == SendStatus.FAILED,
        )
        .correlate(Conversation)
        .scalar_subquery()
    )


def _with_contact() -> Any:
    """Conversations with their contact and their count of failed sends (one row each)."""
    return select(Conversation, Contact, _failed_count()).join(
        Contact, col(Contact.id) == col(Conversation.contact_id)
    )


def _summary(conversation: Conversation, contact: Contact, failed: int, now: datetime) -> ConversationSummary:
    assert conversation.id is not None
    return ConversationSummary(
        id=conversation.id,
        owner=conversation.owner,
        queue=conversation.queue,
        assignee_id=conversation.assignee_id,
        handoff_reason=conversation.handoff_reason,
        contact_name=contact.name,
        contact_wa_id=contact.wa_id,
        waiting_since=conversation.waiting_since,
        handed_off_at=conversation.handed_off_at,
        last_inbound_at=conversation.last_inbound_at,
        window_open=_window_open(conversation, now),
        failed_sends=failed,
        updated_at=conversation.updated_at,
    )


def _visible(query: Any, viewer: Viewer) -> Any:
    clause = visibility_clause(viewer)
    return query if clause is None else query.where(clause)


async def visible_conversation(
    session: AsyncSession, viewer: Viewer, conversation_id: int
) -> tuple[Conversation, Contact, int]:
    """The conversation if `viewer` may see it (the visibility is part of the query), else 404."""
    query = _visible(_with_contact().where(col(Conversation.id) == conversation_id), viewer)
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound("conversation not found")
    return row[0], row[1], int(row[2])


async def _summary_of(service: Service, conversation_id: int) -> ConversationSummary:
    async with service.sessions() as session:
        row = (await session.execute(_with_contact().where(col(Conversation.id) == conversation_id))).one()
    return _summary(row[0], row[1], int(row[2]), service.clock.now())


def authorize(actor: Actor, conversation: Conversation, action: Action) -> None:
    """Steps 3 and 4 of the module docstring, for a conversation the actor can see."""
    require(actor.viewer, action, conversation)


async def _rep_out(session: AsyncSession, rep: Rep) -> RepOut:
    return RepOut(
        id=rep.id,
        name=rep.name,
        role=rep.role,
        presence=rep.presence,
        capacity=rep.capacity,
        open_count=rep.open_count,
        auto_assign=rep.auto_assign,
        last_seen_at=rep.last_seen_at,
        queues=await queues_of(session, rep_id=rep.id),
        has_password=rep.password_hash is not None,
        has_api_token=rep.token_hash is not None,
    )


async def _send_after_commit(service: Service, conversation_id: int) -> list[Message]:
    return await send_pending(
        service.sessions, client=service.client, conversation_id=conversation_id, clock=service.clock
    )


ConversationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
RepId = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


# -- auth ------------------------------------------------------------------------------------------
@auth_router.post("/token", responses=errors(401, 422))
async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], service: ServiceDep) -> TokenOut:
    """OAuth2 password flow: username (the rep id) and password for a signed access token."""
    async with service.sessions() as session:
        rep = await session.get(Rep, form.username)
    stored = rep.password_hash if rep is not None else None
    # scrypt is deliberately slow: off the event loop.
    if rep is None or not await asyncio.to_thread(verify_password, form.password, stored):
        raise Unauthenticated("incorrect username or password")
    ttl = timedelta(minutes=service.settings.jwt_ttl_minutes)
    token = issue_access_token(
        rep=rep, secret=service.settings.jwt_secret.get_secret_value(), at=service.clock.now(), ttl=ttl
    )
    return TokenOut(access_token=token, expires_in=int(ttl.total_seconds()))


# -- me ------------------------------------------------------------------------------------------
@router.get("/me", tags=["me"], responses=errors(401))
async def me(actor: ActorDep, service: ServiceDep) -> RepOut:
    async with service.sessions() as session:
        rep = await session.get(Rep, actor.id)
        assert rep is not None
        return await _rep_out(session, rep)


@router.post("/me/presence", tags=["me"], responses=errors(400, 401, 422))
async def update_presence(body: PresenceIn, actor: ActorDep, service: ServiceDep) -> RepOut:
    """Set presence; going online may assign waiting conversations at once."""
    now = service.clock.now()
    async with service.sessions() as session, session.begin():
        rep = await flows_rep.set_presence(
            session, config=service.config, rep_id=actor.id, presence=body.presence, at=now
        )
        out = await _rep_out(session, rep)
    return out


@router.post("/me/heartbeat", tags=["me"], responses=errors(401))
async def heartbeat(actor: ActorDep, service: ServiceDep) -> RepOut:
    """Keep the rep's presence alive (a rep silent past the configured TTL is treated as offline)."""
    async with service.sessions() as session, session.begin():
        rep = await flows_rep.heartbeat(
            session, config=service.config, rep_id=actor.id, at=service.clock.now()
        )
        out = await _rep_out(session, rep)
    return out


@router.post("/me/auto-assign", tags=["me"], responses=errors(400, 401, 422))
async def auto_assign(body: AutoAssignIn, actor: ActorDep, service: ServiceDep) -> RepOut:
    """Opt in to (or out of) automatic assignment; opting in while online takes waiting ones."""
    async with service.sessions() as session, session.begin():
        rep = await flows_rep.set_auto_assign(
            session, config=service.config, rep_id=actor.id, enabled=body.enabled, at=service.clock.now()
        )
        out = await _rep_out(session, rep)
    return out


# -- conversations -------------------------------------------------------------------------------
@router.get(
    "/conversations",
    tags=["conversations"],
    responses={
        200: {
            "headers": {
                "X-Total-Count": {"description": "matches before paging", "schema": {"type": "integer"}}
            }
        },
        **errors(401, 422),
    },
)
async def list_conversations(
    actor: ActorDep,
    service: ServiceDep,
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
    query = _visible(_with_contact(), actor.viewer)
    if owner is not None:
        query = query.where(col(Conversation.owner) == owner)
    if queue is not None:
        query = query.where(col(Conversation.queue) == queue)
    if assignee_id is not None:
        query = query.where(col(Conversation.assignee_id) == assignee_id)
    if reason is not None:
        query = query.where(col(Conversation.handoff_reason) == reason)
    if failed_sends is not None:
        failed = _failed_count()
        query = query.where(failed > 0 if failed_sends else failed == 0)
    async with service.sessions() as session:
        total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        rows = (
            await session.execute(
                query.order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
                .limit(limit)
                .offset(offset)
            )
        ).all()
    response.headers["X-Total-Count"] = str(total)
    now = service.clock.now()
    return [_summary(c, k, int(n), now) for c, k, n in rows]


@router.get("/conversations/{conversation_id}", tags=["conversations"], responses=errors(401, 404, 422))
async def read_conversation(
    conversation_id: ConversationId, actor: ActorDep, service: ServiceDep
) -> ConversationDetail:
    """Transcript, handoff context, context log, assignment history (with the routing explanation and
    the candidates considered), send failures and the audit trail."""
    now = service.clock.now()
    async with service.sessions() as session:
        conversation, contact, failed = await visible_conversation(session, actor.viewer, conversation_id)
        messages = list(
            (
                await session.execute(
                    select(Message)
                    .where(col(Message.conversation_id) == conversation_id)
                    .order_by(col(Message.id))
                )
            ).scalars()
        )
        events = list(
            (
                await session.execute(
                    select(ContextEvent)
                    .where(col(ContextEvent.conversation_id) == conversation_id)
                    .order_by(col(ContextEvent.id))
                )
            ).scalars()
        )
        assignments = (
            await session.execute(
                select(Assignment)
                .where(col(Assignment.conversation_id) == conversation_id)
                .order_by(col(Assignment.id))
            )
        ).scalars()
        audit = (
            await session.execute(
                select(AuditEntry)
                .where(col(AuditEntry.conversation_id) == conversation_id)
                .order_by(col(AuditEntry.id))
            )
        ).scalars()
    handoffs = [e for e in events if e.type == EventType.HANDOFF]
    last = conversation.last_inbound_at
    return ConversationDetail(
        **_summary(conversation, contact, failed, now).model_dump(),
        window_closes_at=last + CUSTOMER_SERVICE_WINDOW if last else None,
        handoff_context=handoffs[-1].details if handoffs else None,
        messages=[MessageOut.model_validate(m, from_attributes=True) for m in messages],
        events=[EventOut.model_validate(e, from_attributes=True) for e in events],
        assignments=[AssignmentOut.model_validate(a, from_attributes=True) for a in assignments],
        send_failures=[
            SendFailure(message_id=m.id, text=m.text, error=m.error, at=m.updated_at)
            for m in messages
            if m.id is not None and m.direction == Direction.OUTBOUND and m.status == SendStatus.FAILED
        ],
        audit=[AuditOut.model_validate(a, from_attributes=True) for a in audit],
    )


def _payload_of(body: TextReply | ButtonsReply | ListReply | TemplateReply, to: str) -> dict[str, Any] | None:
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
    if isinstance(body, TemplateReply):
        components = [template_body(*body.parameters)] if body.parameters else []
        return template_message(to, body.name, body.language, components)
    return None


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=201,
    tags=["conversations"],
    responses=errors(400, 401, 403, 404, 409, 422),
)
async def reply(
    conversation_id: ConversationId, body: ReplyIn, actor: ActorDep, service: ServiceDep
) -> MessageOut:
    """Write to the customer as the conversation's owner: text, reply buttons or a list inside the
    24-hour customer-service window, an approved template at any time. The message is sent after the
    commit; a failed send comes back (and stays on the conversation) with `status: failed`."""
    now = service.clock.now()
    async with service.sessions() as session, session.begin():
        conversation, contact, _ = await visible_conversation(session, actor.viewer, conversation_id)
        authorize(actor, conversation, Action.REPLY)
        if not isinstance(body, TemplateReply) and not _window_open(conversation, now):
            closed = (
                conversation.last_inbound_at + CUSTOMER_SERVICE_WINDOW
                if conversation.last_inbound_at
                else None
            )
            raise Conflict(
                "the 24-hour customer-service window is closed"
                + (f" (since {closed.isoformat()})" if closed else "")
                + "; send an approved template instead",
            )
        payload = _payload_of(body, recipient_of(contact))
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
                render_as_text(payload),
            )
            session.add(message)
    sent = await _send_after_commit(service, conversation_id)
    final = next((m for m in sent if m.id == message.id), message)
    return MessageOut.model_validate(final, from_attributes=True)


@asynccontextmanager
async def acting_on(
    service: Service, actor: Actor, conversation_id: int, action: Action
) -> AsyncIterator[tuple[AsyncSession, Conversation, datetime]]:
    """A transaction on a conversation the actor may see and act on; the flows' errors mapped to
    HTTP; the replies it queued sent after the commit."""
    now = service.clock.now()
    async with service.sessions() as session, session.begin():
        conversation, _, _ = await visible_conversation(session, actor.viewer, conversation_id)
        authorize(actor, conversation, action)
        yield session, conversation, now
    await _send_after_commit(service, conversation_id)


async def _action_out(
    service: Service, actor: Actor, conversation_id: int, assignment: Assignment | None = None
) -> ActionOut:
    return ActionOut(
        conversation=await _summary_of(service, conversation_id),
        assignment=AssignmentOut.model_validate(assignment, from_attributes=True) if assignment else None,
    )


@router.post(
    "/conversations/{conversation_id}/transfer",
    tags=["conversations"],
    responses=errors(400, 401, 403, 404, 409, 422),
)
async def transfer(
    conversation_id: ConversationId, body: TransferIn, actor: ActorDep, service: ServiceDep
) -> ActionOut:
    """Move the conversation to another queue with a note (the owner, a lead or an admin); the
    assignment engine assigns it there, never straight back to the sender."""
    if body.queue not in {q.slug for q in service.config.queues}:
        raise Invalid(f"unknown queue {body.queue!r}", location="body.queue")
    async with acting_on(service, actor, conversation_id, Action.TRANSFER) as (session, _, now):
        assignment = await flows_rep.transfer(
            session,
            config=service.config,
            conversation_id=conversation_id,
            actor=actor.rep,
            to_queue=body.queue,
            note=body.note,
            at=now,
        )
    return await _action_out(service, actor, conversation_id, assignment)


@router.post(
    "/conversations/{conversation_id}/reassign",
    tags=["conversations"],
    responses=errors(400, 401, 403, 404, 409, 422),
)
async def reassign(
    conversation_id: ConversationId, body: ReassignIn, actor: ActorDep, service: ServiceDep
) -> ActionOut:
    """Give the conversation to a named member of its queue, or to the next in turn (a lead or an
    admin). The named rep must be online or away/busy with capacity."""
    async with acting_on(service, actor, conversation_id, Action.REASSIGN) as (session, conversation, now):
        if body.rep_id is not None and (
            conversation.queue is None
            or await session.get(RepQueue, (body.rep_id, conversation.queue)) is None
        ):
            raise Invalid(f"{body.rep_id!r} is not a member of {conversation.queue}", location="body.rep_id")
        assignment = await flows_rep.reassign(
            session,
            config=service.config,
            conversation_id=conversation_id,
            actor=actor.rep,
            to_rep_id=body.rep_id,
            at=now,
        )
    return await _action_out(service, actor, conversation_id, assignment)


@router.post(
    "/conversations/{conversation_id}/resolve",
    tags=["conversations"],
    responses=errors(401, 403, 404, 409, 422),
)
async def resolve(conversation_id: ConversationId, actor: ActorDep, service: ServiceDep) -> ActionOut:
    """Close the conversation (the owner, a lead or an admin); the rep's capacity is freed at once."""
    async with acting_on(service, actor, conversation_id, Action.RESOLVE) as (session, _, now):
        await flows_rep.resolve(
            session, conversation_id=conversation_id, actor=actor.rep, at=now, config=service.config
        )
    return await _action_out(service, actor, conversation_id)


@router.post(
    "/conversations/{conversation_id}/hand-back",
    tags=["conversations"],
    responses=errors(400, 401, 403, 404, 409, 422),
)
async def hand_back_to_bot(
    conversation_id: ConversationId, body: HandBackIn, actor: ActorDep, service: ServiceDep
) -> ActionOut:
    """Give the conversation back to the bot, which resumes with a briefing of what the human did."""
    async with service.sessions() as session:
        conversation, _, _ = await visible_conversation(session, actor.viewer, conversation_id)
    authorize(actor, conversation, Action.HAND_BACK)
    briefing = await hand_back(service, conversation_id=conversation_id, actor=actor.rep, note=body.note)
    await _send_after_commit(service, conversation_id)
    return ActionOut(conversation=await _summary_of(service, conversation_id), briefing=briefing)


# -- queues, reps, metrics, audit ----------------------------------------------------------------
def _visible_queue_slugs(service: Service, viewer: Viewer) -> list[str]:
    slugs = [q.slug for q in service.config.queues]
    return slugs if viewer.role == Role.ADMIN else [s for s in slugs if s in viewer.queues]


Since = Annotated[datetime | None, Query(description="count assignments made since then (default: all)")]


@router.get("/queues", tags=["queues"], responses=errors(401, 422))
async def queue_dashboard(actor: ActorDep, service: ServiceDep, since: Since = None) -> list[QueueMetrics]:
    """Per queue the caller belongs to (an admin: every queue): depth, longest wait, reps online and
    available, and the outcomes (first response, handle time, transfers, SLA breaches)."""
    visible = set(_visible_queue_slugs(service, actor.viewer))
    async with service.sessions() as session:
        queues = await metrics.queue_metrics(
            session, config=service.config, at=service.clock.now(), since=since
        )
    return [q for q in queues if q.queue in visible]


@router.get("/queues/{slug}", tags=["queues"], responses=errors(401, 404, 422))
async def queue_detail(
    slug: Annotated[str, Path(max_length=64)], actor: ActorDep, service: ServiceDep, since: Since = None
) -> QueueDetail:
    """One queue's numbers, the conversations waiting in it, and its members."""
    if slug not in _visible_queue_slugs(service, actor.viewer):
        raise NotFound("queue not found")
    now = service.clock.now()
    async with service.sessions() as session:
        queues = await metrics.queue_metrics(session, config=service.config, at=now, since=since)
        waiting = (
            await session.execute(
                _with_contact()
                .where(col(Conversation.queue) == slug, col(Conversation.owner) == Owner.QUEUED)
                .order_by(
                    col(Conversation.priority).desc(), col(Conversation.waiting_since), col(Conversation.id)
                )
                .limit(100)
            )
        ).all()
        reps = (
            await session.execute(
                select(Rep)
                .join(RepQueue, col(RepQueue.rep_id) == col(Rep.id))
                .where(col(RepQueue.queue) == slug)
                .order_by(col(Rep.id))
            )
        ).scalars()
        rep_out = [await _rep_out(session, r) for r in reps]
    stats = next(q for q in queues if q.queue == slug)
    return QueueDetail(
        **stats.model_dump(), waiting=[_summary(c, k, int(n), now) for c, k, n in waiting], reps=rep_out
    )


def _visible_reps_clause(viewer: Viewer) -> ColumnElement[bool] | None:
    """An admin sees every user; a lead the members of their queues; a rep only themself."""
    if viewer.role == Role.ADMIN:
        return None
    if viewer.role == Role.LEAD:
        members = select(col(RepQueue.rep_id)).where(col(RepQueue.queue).in_(sorted(viewer.queues)))
        return or_(col(Rep.id) == viewer.id, col(Rep.id).in_(members))
    return col(Rep.id) == viewer.id


async def _visible_rep(session: AsyncSession, viewer: Viewer, rep_id: str) -> Rep:
    query = select(Rep).where(col(Rep.id) == rep_id)
    clause = _visible_reps_clause(viewer)
    if clause is not None:
        query = query.where(clause)
    rep: Rep | None = (await session.execute(query)).scalars().first()
    if rep is None:
        raise NotFound("rep not found")
    return rep


@router.get("/reps", tags=["reps"], responses=errors(401))
async def list_reps(actor: ActorDep, service: ServiceDep) -> list[RepOut]:
    query = select(Rep).order_by(col(Rep.id))
    clause = _visible_reps_clause(actor.viewer)
    if clause is not None:
        query = query.where(clause)
    async with service.sessions() as session:
        return [await _rep_out(session, r) for r in (await session.execute(query)).scalars()]


@router.get("/reps/{rep_id}/metrics", tags=["reps"], responses=errors(401, 404, 422))
async def rep_metrics(rep_id: RepId, actor: ActorDep, service: ServiceDep, since: Since = None) -> RepMetrics:
    """Workload and responsiveness of one rep (themself; a lead: their team; an admin: anyone)."""
    async with service.sessions() as session:
        rep = await _visible_rep(session, actor.viewer, rep_id)
        return await metrics.rep_metrics(session, rep_id=rep.id, at=service.clock.now(), since=since)


@router.get(
    "/audit",
    tags=["audit"],
    responses={
        200: {
            "headers": {
                "X-Total-Count": {"description": "matches before paging", "schema": {"type": "integer"}}
            }
        },
        **errors(401, 422),
    },
)
async def audit_log(
    actor: ActorDep,
    service: ServiceDep,
    response: Response,
    conversation_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[AuditOut]:
    """Every human action with actor and time, newest first. An admin sees all; a lead the actions on
    conversations they can see and their own; a rep their own."""
    query = select(AuditEntry)
    if actor.role == Role.REP:
        query = query.where(col(AuditEntry.actor_id) == actor.id)
    elif actor.role == Role.LEAD:
        seen = _visible(select(col(Conversation.id)), actor.viewer)
        query = query.where(
            or_(col(AuditEntry.actor_id) == actor.id, col(AuditEntry.conversation_id).in_(seen))
        )
    if conversation_id is not None:
        query = query.where(col(AuditEntry.conversation_id) == conversation_id)
    if actor_id is not None:
        query = query.where(col(AuditEntry.actor_id) == actor_id)
    if action is not None:
        query = query.where(col(AuditEntry.action) == action)
    async with service.sessions() as session:
        total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        rows = (
            await session.execute(query.order_by(col(AuditEntry.id).desc()).limit(limit).offset(offset))
        ).scalars()
        entries = [AuditOut.model_validate(a, from_attributes=True) for a in rows]
    response.headers["X-Total-Count"] = str(total)
    return entries


# -- live stream ---------------------------------------------------------------------------------
@router.get(
    "/stream",
    tags=["stream"],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events: `ready` once subscribed, then one event per context-log "
            "entry the caller may see (`id` is the entry id, `event` its type, `data` a JSON object "
            "with the entry and the conversation's owner, queue and assignee).",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **errors(401, 422),
    },
)
async def stream(
    request: Request,
    actor: ActorDep,
    service: ServiceDep,
    types: Annotated[list[EventType] | None, Query(description="only these event types")] = None,
    last_event_id: Annotated[
        int | None, Header(alias="Last-Event-ID", ge=0, description="resume after this event id")
    ] = None,
) -> StreamingResponse:
    """The caller's live notifications (assignment, new customer message, transfer, SLA warning...)."""
    hub = service.notifier
    assert hub is not None
    subscription = hub.subscribe(actor.viewer, types=frozenset(str(t) for t in types) if types else None)

    async def events() -> AsyncIterator[str]:
        try:
            ready = StreamReady(rep_id=actor.id, resumed_after=last_event_id)
            yield f"retry: 3000\nevent: ready\ndata: {ready.model_dump_json()}\n\n"
            # Ids are not in commit order on PostgreSQL (a transaction may commit after a later
            # id's), so live events are never filtered by "newer than the last one"; only the
            # ones the replay of a resumed stream already sent are skipped.
            replayed: set[int] = set()
            if last_event_id is not None:
                for item in await hub.missed(actor.viewer, after=last_event_id):
                    if subscription.wants(item):
                        replayed.add(item.id)
                        yield item.sse()
            while not subscription.lagged:
                try:
                    item = await asyncio.wait_for(subscription.queue.get(), timeout=STREAM_PING_S)
                except TimeoutError:
                    yield ": ping\n\n"
                    continue
                if item.id not in replayed:
                    yield item.sse()
            # Cut off for falling behind: the client reconnects with Last-Event-ID and catches up.
        finally:
            hub.unsubscribe(subscription)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# -- admin ---------------------------------------------------------------------------------------
admin_router = APIRouter(prefix="/api/admin", tags=["admin"], responses=errors(401, 403))


@admin_router.get("/config")
async def read_config(_admin: AdminDep, service: ServiceDep) -> dict[str, Any]:
    """The configuration in force (queues, routing, menu, hours, timers...), demo tokens withheld."""
    data = service.config.model_dump(mode="json")
    for rep in data.get("reps", []):
        if rep.get("token"):
            rep["token"] = "***"
    return data


@admin_router.post("/reps", status_code=201, responses=errors(400, 409, 422))
async def create_rep(body: RepCreate, admin: AdminDep, service: ServiceDep) -> RepOut:
    now = service.clock.now()
    password_hash = await asyncio.to_thread(hash_password, body.password) if body.password else None
    async with service.sessions() as session, session.begin():
        if await session.get(Rep, body.id) is not None:
            raise Conflict(f"a user with id {body.id!r} already exists")
        rep = await create_user(
            session,
            rep_id=body.id,
            name=body.name,
            role=body.role,
            queues=body.queues,
            known_queues={q.slug for q in service.config.queues},
            capacity=body.capacity,
            password=None,
            at=now,
        )
        rep.password_hash = password_hash
        session.add(rep)
        audit(
            session,
            actor_id=admin.id,
            action="user_created",
            at=now,
            details={"rep_id": rep.id, "role": str(rep.role), "queues": body.queues},
        )
        await session.flush()
        out = await _rep_out(session, rep)
    return out


@admin_router.patch("/reps/{rep_id}", responses=errors(400, 404, 422))
async def update_rep(rep_id: RepId, body: RepUpdate, admin: AdminDep, service: ServiceDep) -> RepOut:
    now = service.clock.now()
    password_hash = await asyncio.to_thread(hash_password, body.password) if body.password else None
    changes = body.model_dump(exclude_unset=True, exclude={"password"}, mode="json")
    async with service.sessions() as session, session.begin():
        rep = await session.get(Rep, rep_id, with_for_update=True)
        if rep is None:
            raise NotFound("rep not found")
        if body.queues is not None:
            await set_queues(
                session, rep_id=rep_id, queues=body.queues, known={q.slug for q in service.config.queues}
            )
        for name in ("name", "role", "capacity", "auto_assign"):
            value = getattr(body, name)
            if value is not None:
                setattr(rep, name, value)
        if password_hash is not None:
            rep.password_hash = password_hash
            changes["password"] = "changed"
        session.add(rep)
        audit(
            session, actor_id=admin.id, action="user_updated", at=now, details={"rep_id": rep_id, **changes}
        )
        await session.flush()
        out = await _rep_out(session, rep)
    return out


@admin_router.post("/reps/{rep_id}/api-token", status_code=201, responses=errors(404, 422))
async def issue_api_token(rep_id: RepId, admin: AdminDep, service: ServiceDep) -> ApiTokenOut:
    """A new API token for the rep (the previous one stops working). Shown once."""
    now = service.clock.now()
    async with service.sessions() as session, session.begin():
        rep = await session.get(Rep, rep_id, with_for_update=True)
        if rep is None:
            raise NotFound("rep not found")
        token = await rotate_api_token(session, rep=rep)
        audit(session, actor_id=admin.id, action="api_token_issued", at=now, details={"rep_id": rep_id})
    return ApiTokenOut(rep_id=rep_id, token=token)


@admin_router.post("/reps/{rep_id}/disable", responses=errors(404, 409, 422))
async def disable_rep(rep_id: RepId, admin: AdminDep, service: ServiceDep) -> RepOut:
    """No more sign-in for this user (API token and password cleared, access tokens revoked); they go
    offline, so their open conversations follow the offline policy."""
    if rep_id == admin.id:
        raise Conflict("an admin cannot disable themself")
    now = service.clock.now()
    async with service.sessions() as session, session.begin():
        rep = await session.get(Rep, rep_id, with_for_update=True)
        if rep is None:
            raise NotFound("rep not found")
        await disable_login(session, rep=rep)
        rep = await flows_rep.set_presence(
            session, config=service.config, rep_id=rep_id, presence=Presence.OFFLINE, at=now
        )
        audit(session, actor_id=admin.id, action="user_disabled", at=now, details={"rep_id": rep_id})
        out = await _rep_out(session, rep)
    return out

"""Rep workspace API: list and read conversations (transcript, handoff context, assignment history),
reply as the owner, set presence. Visibility is enforced in the queries themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, or_, select
from sqlmodel import col

from handoff.auth import RepDep, queues_of
from handoff.enums import Owner, Presence, Role
from handoff.flows_rep import NotOwner, rep_reply, set_presence
from handoff.models import Assignment, ContextEvent, EventType, Rep
from orchestrator.deps import ServiceDep, SessionDep
from orchestrator.models import Contact, Conversation, Message
from orchestrator.outbox import send_pending

router = APIRouter(prefix="/api", tags=["reps"])


class ConversationSummary(BaseModel):
    id: int
    owner: Owner
    queue: str | None
    assignee_id: str | None
    handoff_reason: str | None
    contact_name: str | None
    contact_wa_id: str | None
    waiting_since: datetime | None
    handed_off_at: datetime | None
    updated_at: datetime


class MessageOut(BaseModel):
    id: int
    direction: str
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
    routing: dict[str, Any] | None
    candidates: list[dict[str, Any]] | None
    queued_at: datetime
    assigned_at: datetime | None
    first_response_at: datetime | None
    ended_at: datetime | None


class ConversationDetail(ConversationSummary):
    handoff_context: dict[str, Any] | None
    messages: list[MessageOut]
    events: list[EventOut]
    assignments: list[AssignmentOut]


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=4096)


class PresenceIn(BaseModel):
    presence: Presence


class RepOut(BaseModel):
    id: str
    name: str
    role: Role
    presence: Presence
    capacity: int
    open_count: int
    queues: list[str]


async def _visibility(session: SessionDep, rep: Rep) -> ColumnElement[bool] | None:
    """The WHERE clause of what `rep` may see (None: everything)."""
    if rep.role == Role.ADMIN:
        return None
    queues = await queues_of(session, rep)
    if rep.role == Role.LEAD:
        return or_(col(Conversation.queue).in_(queues), col(Conversation.assignee_id) == rep.id)
    return or_(
        col(Conversation.assignee_id) == rep.id,
        (col(Conversation.owner) == Owner.QUEUED) & col(Conversation.queue).in_(queues),
    )


def _summary(conversation: Conversation, contact: Contact) -> dict[str, Any]:
    return {
        **conversation.model_dump(
            include=set(ConversationSummary.model_fields) - {"contact_name", "contact_wa_id"}
        ),
        "contact_name": contact.name,
        "contact_wa_id": contact.wa_id,
    }


async def visible_conversation(session: SessionDep, rep: Rep, conversation_id: int) -> Conversation:
    query = select(Conversation).where(col(Conversation.id) == conversation_id)
    clause = await _visibility(session, rep)
    if clause is not None:
        query = query.where(clause)
    conversation = (await session.execute(query)).scalars().first()
    if conversation is None:
        raise HTTPException(status_code=404, detail="conversation not found")
    return conversation


@router.get("/me")
async def me(rep: RepDep, session: SessionDep) -> RepOut:
    return RepOut(
        **rep.model_dump(include=set(RepOut.model_fields) - {"queues"}), queues=await queues_of(session, rep)
    )


@router.post("/me/presence")
async def update_presence(body: PresenceIn, rep: RepDep, service: ServiceDep) -> RepOut:
    async with service.sessions() as session, session.begin():
        updated = await set_presence(
            session, config=service.config, rep_id=rep.id, presence=body.presence, at=service.clock.now()
        )
        queues = await queues_of(session, updated)
    return RepOut(**updated.model_dump(include=set(RepOut.model_fields) - {"queues"}), queues=queues)


@router.get("/conversations")
async def list_conversations(
    rep: RepDep, session: SessionDep, owner: Owner | None = None, limit: int = 50, offset: int = 0
) -> list[ConversationSummary]:
    query = (
        select(Conversation, Contact)
        .join(Contact, col(Contact.id) == col(Conversation.contact_id))
        .order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
        .limit(max(1, min(limit, 200)))
        .offset(max(0, offset))
    )
    clause = await _visibility(session, rep)
    if clause is not None:
        query = query.where(clause)
    if owner is not None:
        query = query.where(col(Conversation.owner) == owner)
    rows = (await session.execute(query)).all()
    return [ConversationSummary(**_summary(c, k)) for c, k in rows]


@router.get("/conversations/{conversation_id}")
async def read_conversation(conversation_id: int, rep: RepDep, session: SessionDep) -> ConversationDetail:
    conversation = await visible_conversation(session, rep, conversation_id)
    contact = await session.get(Contact, conversation.contact_id)
    assert contact is not None
    messages = (
        await session.execute(
            select(Message).where(col(Message.conversation_id) == conversation_id).order_by(col(Message.id))
        )
    ).scalars()
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
    handoffs = [e for e in events if e.type == EventType.HANDOFF]
    return ConversationDetail(
        **_summary(conversation, contact),
        handoff_context=handoffs[-1].details if handoffs else None,
        messages=[MessageOut.model_validate(m, from_attributes=True) for m in messages],
        events=[EventOut.model_validate(e, from_attributes=True) for e in events],
        assignments=[AssignmentOut.model_validate(a, from_attributes=True) for a in assignments],
    )


@router.post("/conversations/{conversation_id}/messages", status_code=201)
async def reply(conversation_id: int, body: ReplyIn, rep: RepDep, service: ServiceDep) -> MessageOut:
    async with service.sessions() as session, session.begin():
        await visible_conversation(session, rep, conversation_id)
        try:
            message = await rep_reply(
                session, conversation_id=conversation_id, rep=rep, text=body.text, at=service.clock.now()
            )
        except NotOwner as exc:
            raise HTTPException(status_code=403, detail=str(exc)) from exc
    sent = await send_pending(
        service.sessions, client=service.client, conversation_id=conversation_id, clock=service.clock
    )
    final = next((m for m in sent if m.id == message.id), message)
    return MessageOut.model_validate(final, from_attributes=True)

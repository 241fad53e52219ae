"""What the caller may see, enforced in the queries themselves (404 otherwise, so nothing tells an
outsider that it exists), and the rows the API answers with, loaded in a fixed number of queries
whatever the number of reps or conversations (each rep's queues come in one query for all).

Conversations: `policy.visibility_clause`. Reps: an admin sees every user; a lead themself and the
members of their queues; a rep only themself. Queues: an admin every queue; others their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.api.schemas import ConversationSummary, RepOut
from handoff.errors import NotFound
from handoff.models import AuditEntry, Rep, RepQueue
from handoff.policy import Viewer, visibility_clause
from handoff.reps import memberships
from orchestrator.core import window
from orchestrator.core.config import AppConfig
from orchestrator.core.enums import Direction, Role, SendStatus
from orchestrator.core.tables import Contact, Conversation, Message

# -- conversations --------------------------------------------------------------------------------
window_open = window.is_open  # the 24-hour customer-service window (`orchestrator.core.window`)


def failed_count() -> Any:
    """Per conversation row: how many outbound messages failed (a correlated subquery)."""
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


def with_contact() -> Any:
    """Conversations with their contact and their count of failed sends (one row each)."""
    return select(Conversation, Contact, failed_count()).join(
        Contact, col(Contact.id) == col(Conversation.contact_id)
    )


def visible(query: Any, viewer: Viewer) -> Any:
    """`query` over `Conversation`, limited to what `viewer` may see."""
    clause = visibility_clause(viewer)
    return query if clause is None else query.where(clause)


def summary(conversation: Conversation, contact: Contact, failed: int, now: datetime) -> ConversationSummary:
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
        window_open=window_open(conversation, now),
        failed_sends=failed,
        updated_at=conversation.updated_at,
    )


async def visible_conversation(
    session: AsyncSession, viewer: Viewer, conversation_id: int
) -> tuple[Conversation, Contact, int]:
    """The conversation, its contact and failed sends if `viewer` may see it; `NotFound` otherwise."""
    query = visible(with_contact().where(col(Conversation.id) == conversation_id), viewer)
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound("conversation not found")
    return row[0], row[1], int(row[2])


async def summary_of(session: AsyncSession, *, conversation_id: int, now: datetime) -> ConversationSummary:
    row = (await session.execute(with_contact().where(col(Conversation.id) == conversation_id))).one()
    return summary(row[0], row[1], int(row[2]), now)


# -- reps -----------------------------------------------------------------------------------------
def visible_reps_clause(viewer: Viewer) -> ColumnElement[bool] | None:
    if viewer.role == Role.ADMIN:
        return None
    if viewer.role == Role.LEAD:
        members = select(col(RepQueue.rep_id)).where(col(RepQueue.queue).in_(sorted(viewer.queues)))
        return or_(col(Rep.id) == viewer.id, col(Rep.id).in_(members))
    return col(Rep.id) == viewer.id


def visible_reps(viewer: Viewer) -> Select[Rep]:
    query = select(Rep).order_by(col(Rep.id))
    clause = visible_reps_clause(viewer)
    return query if clause is None else query.where(clause)


async def visible_rep(session: AsyncSession, viewer: Viewer, rep_id: str) -> Rep:
    rep: Rep | None = (
        (await session.execute(visible_reps(viewer).where(col(Rep.id) == rep_id))).scalars().first()
    )
    if rep is None:
        raise NotFound("rep not found")
    return rep


def rep_out(rep: Rep, queues: list[str]) -> RepOut:
    return RepOut(
        id=rep.id,
        name=rep.name,
        role=rep.role,
        presence=rep.presence,
        capacity=rep.capacity,
        open_count=rep.open_count,
        auto_assign=rep.auto_assign,
        last_seen_at=rep.last_seen_at,
        queues=queues,
        has_password=rep.password_hash is not None,
        has_api_token=rep.token_hash is not None,
    )


async def reps_out(session: AsyncSession, reps: Iterable[Rep]) -> list[RepOut]:
    """The reps with their queues: one query for the memberships of all of them."""
    listed = list(reps)
    queues = await memberships(session, rep_ids=[r.id for r in listed])
    return [rep_out(r, queues.get(r.id, [])) for r in listed]


async def one_rep_out(session: AsyncSession, rep: Rep) -> RepOut:
    return (await reps_out(session, [rep]))[0]


async def queue_members(session: AsyncSession, *, queue: str) -> list[RepOut]:
    reps = await session.execute(
        select(Rep)
        .join(RepQueue, col(RepQueue.rep_id) == col(Rep.id))
        .where(col(RepQueue.queue) == queue)
        .order_by(col(Rep.id))
    )
    return await reps_out(session, reps.scalars())


# -- queues and the audit log ---------------------------------------------------------------------
def visible_queue_slugs(config: AppConfig, viewer: Viewer) -> list[str]:
    slugs = [q.slug for q in config.queues]
    return slugs if viewer.role == Role.ADMIN else [s for s in slugs if s in viewer.queues]


def visible_audit(viewer: Viewer) -> Select[AuditEntry]:
    """An admin sees every entry; a lead their own, the actions on conversations they can see, and
    their team's history: the presence and auto-assignment of the members of their queues, and
    what was done to them (an admin's change of their capacity, queues or role, their tokens); a
    rep their own."""
    query = select(AuditEntry)
    if viewer.role == Role.REP:
        return query.where(col(AuditEntry.actor_id) == viewer.id)
    if viewer.role == Role.LEAD:
        seen = visible(select(col(Conversation.id)), viewer)
        team = select(col(RepQueue.rep_id)).where(col(RepQueue.queue).in_(sorted(viewer.queues)))
        about = col(AuditEntry.details)["rep_id"].as_string()
        return query.where(
            or_(
                col(AuditEntry.actor_id) == viewer.id,
                col(AuditEntry.conversation_id).in_(seen),
                and_(
                    col(AuditEntry.conversation_id).is_(None),
                    or_(
                        and_(col(AuditEntry.action).in_(TEAM_ACTIONS), col(AuditEntry.actor_id).in_(team)),
                        about.in_(team),
                    ),
                ),
            )
        )
    return query


# What a team member does that is no conversation's, and that their lead sees.
TEAM_ACTIONS = ("presence", "auto_assign")


def page_count(query: Select[Any]) -> Select[int]:
    """How many rows `query` matches before paging."""
    return select(func.count()).select_from(query.subquery())

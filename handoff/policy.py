"""Who may do what with a conversation: the one authorization policy of the human side.

The routes, the flows (`flows_rep`, `handback`) and the live stream (`notify`) all ask `can`; the
same visibility rule is also written as a SQL clause (`visibility_clause`) so the API's queries
filter what a caller may see, and a test checks that the two agree on every combination.

Rules (DESIGN.md):
  - a *supervisor* of a queue is an admin (every queue) or a lead who is a member of that queue;
  - view: an admin everything; anyone what is assigned to them; a supervisor everything in their
    queues; a rep what is waiting in their queues;
  - reply: only the current owner (a human-owned conversation assigned to the actor);
  - transfer, resolve, hand back: the owner or a supervisor of the conversation's queue;
  - reassign: a supervisor of the conversation's queue.
Whether the conversation's state allows the action now (with a human, not the bot or closed) is a
separate question (`with_humans`): the API answers 403 for the first and 409 for the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.errors import Conflict, NotOwner
from handoff.models import Rep
from handoff.reps import queues_of
from orchestrator.core.enums import Action, Owner, Role
from orchestrator.core.tables import Conversation


@dataclass(frozen=True)
class Viewer:
    """Who is acting: enough to decide every rule without another query."""

    id: str
    role: Role
    queues: frozenset[str]


class ConversationState(Protocol):
    """What the policy reads of a conversation (a `Conversation` row, or a stream event)."""

    @property
    def owner(self) -> str: ...

    @property
    def queue(self) -> str | None: ...

    @property
    def assignee_id(self) -> str | None: ...


async def viewer_of(session: AsyncSession, *, rep: Rep) -> Viewer:
    return Viewer(id=rep.id, role=Role(rep.role), queues=frozenset(await queues_of(session, rep_id=rep.id)))


def supervises(actor: Viewer, queue: str | None) -> bool:
    """An admin supervises every queue; a lead the queues they are a member of."""
    if actor.role == Role.ADMIN:
        return True
    return actor.role == Role.LEAD and queue is not None and queue in actor.queues


def owns(actor: Viewer, conversation: ConversationState) -> bool:
    return conversation.owner == Owner.HUMAN and conversation.assignee_id == actor.id


def can(actor: Viewer, action: Action, conversation: ConversationState) -> bool:
    """Whether `actor` may do `action` to `conversation` (its state aside: see `with_humans`)."""
    if action == Action.VIEW:
        if supervises(actor, conversation.queue) or conversation.assignee_id == actor.id:
            return True
        return conversation.owner == Owner.QUEUED and conversation.queue in actor.queues
    if action == Action.REPLY:
        return owns(actor, conversation)
    if action == Action.REASSIGN:
        return supervises(actor, conversation.queue)
    return owns(actor, conversation) or supervises(actor, conversation.queue)


def with_humans(conversation: ConversationState) -> bool:
    """Handed off and not closed: the human side may act on it."""
    return conversation.owner in (Owner.QUEUED, Owner.HUMAN)


_REFUSALS = {
    Action.VIEW: "not visible to you",
    Action.REPLY: "only the rep who owns this conversation may write to it",
    Action.REASSIGN: "only a lead of this queue or an admin may reassign it",
}


def require(actor: Viewer, action: Action, conversation: ConversationState) -> None:
    """`can`, then `with_humans`, as exceptions: `NotOwner` (403) first, then `Conflict` (409)."""
    if not can(actor, action, conversation):
        default = f"only the owner, a lead of this queue or an admin may {action.replace('_', ' ')} it"
        raise NotOwner(_REFUSALS.get(action, default))
    if not with_humans(conversation):
        raise Conflict(f"the conversation is {conversation.owner}, not with a human")


def visibility_clause(viewer: Viewer) -> ColumnElement[bool] | None:
    """`can(viewer, VIEW, ...)` as a WHERE clause over `Conversation` (None: everything)."""
    if viewer.role == Role.ADMIN:
        return None
    mine = col(Conversation.assignee_id) == viewer.id
    in_queues = col(Conversation.queue).in_(sorted(viewer.queues))
    if viewer.role == Role.LEAD:
        return or_(mine, in_queues)
    return or_(mine, (col(Conversation.owner) == Owner.QUEUED) & in_queues)

"""Erasing a customer: the right to erasure of data-protection law (GDPR article 17, and its
equivalents), done by an admin on the customer's request.

Everything the service holds about the customer goes in one transaction: the contact, its
conversations with their messages, media (and their bytes), delivery statuses, the context log,
assignments, timers, notes and their mentions, read markers, and the raw webhook deliveries and
inbox items that carry the customer's number or WhatsApp user id (a raw delivery that also carried
other customers' messages goes with it: raw deliveries are a debugging aid, kept a week by default).
The bot's memory of the conversations (its graph checkpoints) is erased by the caller after the
commit (`BotMemory.forget`). The audit log records that a customer was erased and how much went,
never who it was.

A customer whose bot turn is running right now is not erased (`Conflict`): the turn would write on
after the erasure. It takes seconds; the caller tries again. A customer who writes again afterwards
is a new contact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.assignment import release_capacity
from handoff.errors import Conflict, NotFound
from handoff.models import Assignment, AuditEntry, ConversationRead, Mention, Note, Timer
from handoff.reps import audit
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.db import rows_affected
from orchestrator.core.enums import AssignmentStatus, EventType
from orchestrator.core.tables import (
    Contact,
    Conversation,
    InboxItem,
    Media,
    MediaContent,
    Message,
    MessageStatusEvent,
    WebhookDelivery,
)

# What a rep's audited action on a conversation keeps when its customer is erased: who, which queue,
# which record; never free text.
STAFF_KEYS = frozenset(
    {
        "rep_id",
        "from_rep_id",
        "to_rep_id",
        "actor",
        "actor_name",
        "author",
        "mentions",
        "queue",
        "from_queue",
        "to_queue",
        "assignment_id",
        "message_id",
        "note_id",
    }
)


class BotMemory(Protocol):
    """The bot's own memory of conversations (the composition root gives it)."""

    async def forget(self, conversation_ids: Sequence[int]) -> None:
        """Erase what the bot keeps of these conversations (its graph checkpoints)."""
        ...


@dataclass
class Erased:
    contact_id: int | None
    conversation_ids: list[int] = field(default_factory=list)
    messages: int = 0
    media: int = 0
    statuses: int = 0
    events: int = 0
    notes: int = 0
    raw_deliveries: int = 0
    inbox_items: int = 0

    def counts(self) -> dict[str, Any]:
        counts = asdict(self)
        counts["conversations"] = len(counts.pop("conversation_ids"))
        return counts


async def erase_customer(session: AsyncSession, *, customer: str, actor_id: str, at: datetime) -> Erased:
    """Erase the customer whose WhatsApp number (`wa_id`, digits without `+`) or business-scoped user
    id is `customer`. Raises `NotFound` (no such customer) or `Conflict` (a bot turn runs now)."""
    number = customer.strip().removeprefix("+")
    contact = (
        await session.execute(
            select(Contact)
            .where(or_(col(Contact.wa_id) == number, col(Contact.user_id) == number))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if contact is None or contact.id is None:
        # Erased before, or never a contact: what arrived since (a late read receipt, a delivery
        # never applied) may still carry the number.
        left = Erased(contact_id=None)
        await _erase_raw_copies(session, [number], left)
        if not (left.raw_deliveries or left.inbox_items or left.statuses):
            raise NotFound("no customer with this number or user id")
        audit(session, actor_id=actor_id, action="customer_erased", at=at, details=left.counts())
        return left
    erased = Erased(contact_id=contact.id)
    # A customer who changed their number may have written from the old one since, as another
    # contact: both are theirs, and both go.
    pending, names = [contact], []
    seen: set[int | None] = {contact.id}
    while pending:
        current = pending.pop()
        earlier = await _erase_contact(session, contact=current, at=at, erased=erased)
        names += [n for n in (current.wa_id, current.user_id, *earlier) if n]
        for old in earlier:
            other = (
                await session.execute(select(Contact).where(col(Contact.wa_id) == old).with_for_update())
            ).scalar_one_or_none()
            if other is not None and other.id not in seen:
                seen.add(other.id)
                pending.append(other)
    await _erase_raw_copies(session, list(dict.fromkeys(names)), erased)
    audit(session, actor_id=actor_id, action="customer_erased", at=at, details=erased.counts())
    return erased


async def _erase_contact(
    session: AsyncSession, *, contact: Contact, at: datetime, erased: Erased
) -> list[str]:
    """Erase one contact and everything of its conversations (counted into `erased`); returns the
    numbers it wrote from before a number change."""
    conversations = list(
        (
            await session.execute(
                select(Conversation).where(col(Conversation.contact_id) == contact.id).with_for_update()
            )
        ).scalars()
    )
    if any(c.lease_until is not None and c.lease_until > at and c.lease_owner for c in conversations):
        raise Conflict("the bot is answering this customer right now; try again in a few seconds")
    ids = sorted(c.id for c in conversations if c.id is not None)
    erased.conversation_ids += ids
    wamids = [
        w
        for w in (
            await session.execute(
                select(col(Message.wa_message_id)).where(
                    col(Message.conversation_id).in_(ids), col(Message.wa_message_id).is_not(None)
                )
            )
        ).scalars()
        if w
    ]
    media_ids = select(col(Media.id)).where(col(Media.conversation_id).in_(ids)).scalar_subquery()
    await session.execute(delete(MediaContent).where(col(MediaContent.media_id).in_(media_ids)))
    erased.media += rows_affected(
        await session.execute(delete(Media).where(col(Media.conversation_id).in_(ids)))
    )
    if wamids:
        erased.statuses += rows_affected(
            await session.execute(
                delete(MessageStatusEvent).where(col(MessageStatusEvent.wa_message_id).in_(wamids))
            )
        )
    # Numbers the customer wrote from before they changed it: their raw copies go too.
    changes = await session.execute(
        select(col(ContextEvent.details)).where(
            col(ContextEvent.conversation_id).in_(ids), col(ContextEvent.type) == EventType.NUMBER_CHANGED
        )
    )
    earlier = [
        d["from"] for d in changes.scalars() if isinstance(d, dict) and d.get("moved") and d.get("from")
    ]
    await session.execute(delete(Mention).where(col(Mention.conversation_id).in_(ids)))
    erased.notes += rows_affected(
        await session.execute(delete(Note).where(col(Note.conversation_id).in_(ids)))
    )
    await session.execute(delete(ConversationRead).where(col(ConversationRead.conversation_id).in_(ids)))
    await session.execute(delete(Timer).where(col(Timer.conversation_id).in_(ids)))
    # A rep working the customer's conversation gets that capacity back.
    working = await session.execute(
        select(col(Assignment.rep_id), func.count())
        .where(
            col(Assignment.conversation_id).in_(ids),
            col(Assignment.status) == AssignmentStatus.ACTIVE,
            col(Assignment.rep_id).is_not(None),
        )
        .group_by(col(Assignment.rep_id))
    )
    for rep_id, count in working.all():
        await release_capacity(session, rep_id=str(rep_id), count=int(count))
    await session.execute(delete(Assignment).where(col(Assignment.conversation_id).in_(ids)))
    erased.events += rows_affected(
        await session.execute(delete(ContextEvent).where(col(ContextEvent.conversation_id).in_(ids)))
    )
    erased.messages += rows_affected(
        await session.execute(delete(Message).where(col(Message.conversation_id).in_(ids)))
    )
    # The reps' actions on these conversations stay in the audit log (who did what, when, from whom
    # to whom), but not what they wrote there (a transfer's or a hand-back's note can name the
    # customer): only the keys that name staff, queues and ids are kept.
    entries = await session.execute(
        select(col(AuditEntry.id), col(AuditEntry.details)).where(col(AuditEntry.conversation_id).in_(ids))
    )
    for entry_id, details in entries.all():
        kept = {k: v for k, v in (details or {}).items() if k in STAFF_KEYS}
        await session.execute(
            update(AuditEntry)
            .where(col(AuditEntry.id) == entry_id)
            .values(details=kept | {"erased": True})
            .execution_options(synchronize_session=False)
        )
    await session.execute(delete(Conversation).where(col(Conversation.id).in_(ids)))
    await session.execute(delete(Contact).where(col(Contact.id) == contact.id))
    return earlier


async def _erase_raw_copies(session: AsyncSession, names: list[str], erased: Erased) -> None:
    """Every raw delivery, inbox item and delivery status that names the customer (their number in
    `from`, `wa_id` or `recipient_id`, their user id in `user_id`), applied or not. Matched as JSON
    strings, quotes included: another customer's longer number never matches."""
    quoted = [f'"{n}"' for n in names]
    body = col(WebhookDelivery.body)
    erased.raw_deliveries = rows_affected(
        await session.execute(
            delete(WebhookDelivery).where(or_(*(body.contains(q, autoescape=True) for q in quoted)))
        )
    )
    item = sa.cast(col(InboxItem.item), sa.Text)
    erased.inbox_items = rows_affected(
        await session.execute(
            delete(InboxItem).where(or_(*(item.contains(q, autoescape=True) for q in quoted)))
        )
    )
    raw = sa.cast(col(MessageStatusEvent.raw), sa.Text)
    erased.statuses += rows_affected(
        await session.execute(
            delete(MessageStatusEvent).where(or_(*(raw.contains(q, autoescape=True) for q in quoted)))
        )
    )

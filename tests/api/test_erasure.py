"""Erasing a customer on their request (`DELETE /api/admin/customers/{number}`): everything about
them goes, raw copies and the bot's memory included; nothing of another customer does; the audit
log says a customer was erased, never who."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy import text as sql
from sqlmodel import SQLModel, col

from handoff.models import Assignment, AuditEntry, ConversationRead, Mention, Note, Rep, Timer
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.tables import (
    Contact,
    Conversation,
    InboxItem,
    Message,
    MessageStatusEvent,
    WebhookDelivery,
)
from tests.api.helpers import bearer
from tests.factories import say, text
from tests.fakes.graph import TestHarness, status_webhook

ERASED = "447700900001"
# Another customer whose number holds the first one's: matched as a whole, it is never touched.
OTHER = "1447700900001"


async def _count(h: TestHarness, table: type[SQLModel], *where: Any) -> int:
    async with h.service.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def _checkpoints(h: TestHarness, conversation_id: int) -> int:
    async with h.service.sessions() as session:
        found = await session.scalar(
            sql("SELECT count(*) FROM checkpoints WHERE thread_id = :t"),
            {"t": f"conversation-{conversation_id}"},
        )
    return int(found or 0)


async def _customer_with_a_history(h: TestHarness, wa_id: str) -> int:
    """A conversation through the webhook: the bot, a handoff, a rep's reply and a note that
    mentions a lead, the reply's delivery status; its id."""
    await say(h, text(wa_id, "Hello, what does the basic plan cost?", h.clock.now()))
    await say(h, text(wa_id, "I want to talk to a person", h.clock.now()))
    async with h.service.sessions() as session:
        contact = await session.scalar(select(Contact).where(col(Contact.wa_id) == wa_id))
        assert contact is not None
        conversation = await session.scalar(
            select(Conversation).where(col(Conversation.contact_id) == contact.id)
        )
        assert conversation is not None
        assert conversation.id is not None
    assert conversation.assignee_id is not None, "handed to a present rep"
    rep = {"Authorization": f"Bearer demo-{conversation.assignee_id}"}  # each demo rep's token
    replied = await h.http.post(
        f"/api/conversations/{conversation.id}/messages", json={"text": "Hi, I am here"}, headers=rep
    )
    assert replied.status_code == 202, replied.text
    noted = await h.http.post(
        f"/api/conversations/{conversation.id}/notes", json={"text": "@sam a big order"}, headers=rep
    )
    assert noted.status_code in (200, 201), noted.text
    await h.service.dispatcher.drain()
    sent = [m for m in h.fake_graph.sent if str(m["json"]["to"]).lstrip("+") == wa_id]
    wamid = sent[-1]["wa_message_id"]
    assert wamid is not None
    status = await h.post_body(status_webhook(wamid, wa_id, "delivered", None))
    assert status.status_code == 200
    # A transfer whose note names the customer: the audit log records it, note included.
    moved = await h.http.post(
        f"/api/conversations/{conversation.id}/transfer",
        json={"queue": "billing", "note": f"Jane Doe +{wa_id} wants a refund"},
        headers=bearer("admin"),
    )
    assert moved.status_code == 200, moved.text
    return conversation.id


async def test_erasing_a_customer_removes_everything_about_them_and_nothing_of_another(
    db_h: TestHarness,
) -> None:
    h = db_h
    erased = await _customer_with_a_history(h, ERASED)
    other = await _customer_with_a_history(h, OTHER)
    assert await _checkpoints(h, erased) > 0
    tables_before = {
        t.__name__: await _count(h, t)
        for t in (Message, ContextEvent, WebhookDelivery, InboxItem, MessageStatusEvent, Note)
    }

    async with h.service.sessions() as session:
        worker = (await session.get_one(Conversation, erased)).assignee_id
        assert worker is not None
        open_before = (await session.get_one(Rep, worker)).open_count

    sent_wamid = next(
        r["wa_message_id"] for r in reversed(h.fake_graph.sent) if str(r["json"]["to"]).lstrip("+") == ERASED
    )
    response = await h.http.delete(f"/api/admin/customers/+{ERASED}", headers=bearer("admin"))
    assert response.status_code == 200, response.text
    counts = response.json()
    assert counts["conversations"] == 1
    assert counts["messages"] >= 5
    assert counts["raw_deliveries"] >= 3
    assert counts["notes"] == 1

    about_erased = (
        (Conversation, col(Conversation.id) == erased),
        (Message, col(Message.conversation_id) == erased),
        (ContextEvent, col(ContextEvent.conversation_id) == erased),
        (Assignment, col(Assignment.conversation_id) == erased),
        (Timer, col(Timer.conversation_id) == erased),
        (Note, col(Note.conversation_id) == erased),
        (Mention, col(Mention.conversation_id) == erased),
        (ConversationRead, col(ConversationRead.conversation_id) == erased),
        (Contact, col(Contact.wa_id) == ERASED),
        (WebhookDelivery, col(WebhookDelivery.body).contains(f'"{ERASED}"')),
    )
    for table, where in about_erased:
        assert await _count(h, table, where) == 0, table.__name__
    async with h.service.sessions() as session:
        items = [str(i) for i in (await session.execute(select(col(InboxItem.item)))).scalars()]
        statuses = [str(s) for s in (await session.execute(select(col(MessageStatusEvent.raw)))).scalars()]
    assert not [i for i in items if f"'{ERASED}'" in i]
    assert not [s for s in statuses if f"'{ERASED}'" in s]
    assert await _checkpoints(h, erased) == 0

    async with h.service.sessions() as session:
        assert (await session.get_one(Rep, worker)).open_count == open_before - 1, "capacity given back"

    # The other customer, whose number contains the erased one, keeps everything.
    assert await _count(h, Conversation, col(Conversation.id) == other) == 1
    assert await _checkpoints(h, other) > 0
    assert await _count(h, Message) == tables_before["Message"] - counts["messages"]
    assert await _count(h, WebhookDelivery) == tables_before["WebhookDelivery"] - counts["raw_deliveries"]
    assert await _count(h, WebhookDelivery, col(WebhookDelivery.body).contains(f'"{OTHER}"')) >= 3
    assert (await h.http.get(f"/api/conversations/{other}", headers=bearer("admin"))).status_code == 200
    assert (await h.http.get(f"/api/conversations/{erased}", headers=bearer("admin"))).status_code == 404

    async with h.service.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(col(AuditEntry.action) == "customer_erased"))
    assert entry is not None
    assert entry.actor_id == "admin"
    assert ERASED not in str(entry.details)
    async with h.service.sessions() as session:
        kept = [str(e.details) for e in (await session.execute(select(AuditEntry))).scalars()]
    assert not [d for d in kept if f"Jane Doe +{ERASED} " in d or f"'{ERASED}'" in d]
    assert any(f"Jane Doe +{OTHER}" in d for d in kept), "the other customer's audit entries are theirs"
    # The staff's actions on the erased conversation keep who did what, from whom to whom.
    async with h.service.sessions() as session:
        transfer = await session.scalar(
            select(AuditEntry).where(
                col(AuditEntry.conversation_id) == erased, col(AuditEntry.action) == "transfer"
            )
        )
    assert transfer is not None
    assert transfer.details is not None
    assert transfer.actor_id == "admin"
    assert transfer.details["erased"] is True
    assert (transfer.details["from_queue"], transfer.details["to_queue"]) == ("general", "billing")
    assert isinstance(transfer.details["from_rep_id"], str)
    assert "note" not in transfer.details

    # A read receipt for a reply of theirs arrives afterwards: it carries their number again, and
    # erasing them again takes it away.
    late = await h.post_body(status_webhook(sent_wamid, ERASED, "read", None))
    assert late.status_code == 200
    again = await h.http.delete(f"/api/admin/customers/{ERASED}", headers=bearer("admin"))
    assert again.status_code == 200, again.text
    assert again.json()["contact_id"] is None
    assert again.json()["statuses"] == 1
    assert await _count(h, WebhookDelivery, col(WebhookDelivery.body).contains(f'"{ERASED}"')) == 0
    assert (await h.http.delete(f"/api/admin/customers/{ERASED}", headers=bearer("admin"))).status_code == 404

    # Writing again, they are a new customer: nothing of before comes back.
    await say(h, text(ERASED, "Hello again", h.clock.now()))
    async with h.service.sessions() as session:
        again = await session.scalar(select(Conversation).join(Contact).where(col(Contact.wa_id) == ERASED))
    assert again is not None
    assert again.id != erased
    assert await _count(h, Message, col(Message.conversation_id) == again.id) >= 1


async def test_only_an_admin_may_erase_and_not_while_the_bot_answers(h: TestHarness) -> None:
    conversation_id = await _customer_with_a_history(h, ERASED)
    for who in ("lena", "tara"):
        refused = await h.http.delete(f"/api/admin/customers/{ERASED}", headers=bearer(who))
        assert refused.status_code == 403
    async with h.service.sessions() as session, session.begin():
        conversation = await session.get_one(Conversation, conversation_id)
        conversation.lease_owner, conversation.lease_until = "a-worker", h.clock.now() + timedelta(seconds=10)
    busy = await h.http.delete(f"/api/admin/customers/{ERASED}", headers=bearer("admin"))
    assert busy.status_code == 409
    assert "try again" in busy.json()["detail"]
    assert await _count(h, Conversation, col(Conversation.id) == conversation_id) == 1


async def test_erasing_the_newest_customer_gives_none_of_their_ids_to_the_next(db_h: TestHarness) -> None:
    # Reused, the erased conversation's audit entries would read as the next one's, and the live
    # stream would take the next one's events for ones it had already delivered.
    erased = await _customer_with_a_history(db_h, ERASED)
    async with db_h.service.sessions() as session:
        last_event = await session.scalar(select(func.max(col(ContextEvent.id))))
        last_message = await session.scalar(select(func.max(col(Message.id))))
    assert last_event is not None
    assert last_message is not None
    assert (
        await db_h.http.delete(f"/api/admin/customers/{ERASED}", headers=bearer("admin"))
    ).status_code == 200
    await say(db_h, text(OTHER, "I want to talk to a person", db_h.clock.now()))
    async with db_h.service.sessions() as session:
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        events = [i for i in (await session.execute(select(col(ContextEvent.id)))).scalars() if i is not None]
        messages = [i for i in (await session.execute(select(col(Message.id)))).scalars() if i is not None]
    assert conversation.id is not None
    assert conversation.id > erased
    assert events
    assert min(events) > last_event
    assert min(messages) > last_message
    audit = await db_h.http.get(
        "/api/audit", params={"conversation_id": conversation.id}, headers=bearer("admin")
    )
    assert [e["action"] for e in audit.json()] == []

"""WhatsApp's notice that a customer changed their number (the real fixture): the contact takes the
new number, replies not yet sent go to it, and the customer's next message, from the new number,
comes into the same conversation; when the new number already writes as another customer, nothing
moves and the rep is told."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlmodel import col

from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.enums import EventType
from orchestrator.core.tables import Contact, Conversation, WebhookDelivery
from tests.api.helpers import bearer, seed_conversation
from tests.api.media_helpers import give_contact_number
from tests.factories import say, text
from tests.fakes.graph import TestHarness, graph_error_body
from tests.fixtures import load_fixture

NOTICE = load_fixture("inbound_system_phone_number_change_pywa.json")
OLD = NOTICE["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
NEW = NOTICE["entry"][0]["changes"][0]["value"]["messages"][0]["system"]["wa_id"]


async def _number_events(h: TestHarness, conversation_id: int) -> list[ContextEvent]:
    async with h.service.sessions() as session:
        rows = await session.execute(
            select(ContextEvent).where(
                col(ContextEvent.conversation_id) == conversation_id,
                col(ContextEvent.type) == EventType.NUMBER_CHANGED,
            )
        )
        return list(rows.scalars())


async def _contact_of(h: TestHarness, conversation_id: int) -> Contact:
    async with h.service.sessions() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        return await session.get_one(Contact, conversation.contact_id)


def _accepted_to(h: TestHarness) -> list[Any]:
    """Whom the sends WhatsApp accepted were addressed to."""
    return [m["json"]["to"] for m in h.fake_graph.sent if m["wa_message_id"]]


async def test_replies_follow_the_customer_to_their_new_number(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    await give_contact_number(h, conversation_id, OLD)
    # A reply WhatsApp refuses for a moment (a retryable 503): it waits for its retry, addressed to
    # the old number, when the notice comes.
    h.service.client.backoff_scale = 0
    h.fake_graph.fail_next(503, graph_error_body(1, "temporarily unavailable"), times=4)
    queued = await h.http.post(
        f"/api/conversations/{conversation_id}/messages",
        json={"text": "Checking now"},
        headers=bearer("tara"),
    )
    assert queued.status_code == 202, queued.text
    await h.service.dispatcher.drain()
    assert [to.lstrip("+") for to in _accepted_to(h)] == []

    assert (await h.post(NOTICE)).status_code == 200
    contact = await _contact_of(h, conversation_id)
    assert (contact.wa_id, contact.country) == (NEW, "IL")
    [event] = await _number_events(h, conversation_id)
    assert event.description == (
        f"the customer changed their WhatsApp number from +{OLD} to +{NEW}; replies go to +{NEW}"
    )
    assert event.details == {"from": OLD, "to": NEW, "moved": True, "readdressed": 1}

    h.clock.advance(minutes=10)  # past the retry's wait
    await h.service.dispatcher.drain()
    replied = await h.http.post(
        f"/api/conversations/{conversation_id}/messages", json={"text": "Done"}, headers=bearer("tara")
    )
    assert replied.status_code == 202, replied.text
    await h.service.dispatcher.drain()
    assert [to.lstrip("+") for to in _accepted_to(h)] == [NEW, NEW]

    # The customer writes from the new number: the same conversation, no new customer.
    assert (await h.post(text(NEW, "thanks! new phone", h.clock.now()))).status_code == 200
    async with h.service.sessions() as session:
        contacts = await session.scalar(
            select(func.count()).select_from(Contact).where(col(Contact.wa_id) == NEW)
        )
        latest = await session.scalar(
            select(col(Conversation.id)).join(Contact).where(col(Contact.wa_id) == NEW)
        )
    assert (contacts, latest) == (1, conversation_id)
    # The notice delivered again changes nothing more.
    assert (await h.post(NOTICE)).status_code == 200
    assert len(await _number_events(h, conversation_id)) == 1


async def test_a_new_number_that_already_writes_as_another_customer_moves_nothing(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    await give_contact_number(h, conversation_id, OLD)
    assert (await h.post(text(NEW, "hi it's me on my new phone", h.clock.now()))).status_code == 200

    assert (await h.post(NOTICE)).status_code == 200
    assert (await _contact_of(h, conversation_id)).wa_id == OLD
    [event] = await _number_events(h, conversation_id)
    assert event.details is not None
    assert (event.details["moved"], event.details["to"]) == (False, NEW)
    assert f"replies still go to +{OLD}" in event.description


async def test_erasing_a_customer_who_changed_number_erases_the_raw_copies_of_both(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    await give_contact_number(h, conversation_id, OLD)
    assert (await h.post(text(OLD, "my old phone is dying", h.clock.now()))).status_code == 200
    assert (await h.post(NOTICE)).status_code == 200
    assert (await h.post(text(NEW, "this is the new one", h.clock.now()))).status_code == 200
    # The old phone writes once more: a contact of its own, and the same customer.
    await say(h, text(OLD, "old phone still here", h.clock.now()))
    erased = await h.http.delete(f"/api/admin/customers/{NEW}", headers=bearer("admin"))
    assert erased.status_code == 200, erased.text
    assert erased.json()["raw_deliveries"] == 4
    assert erased.json()["conversations"] == 2
    async with h.service.sessions() as session:
        contacts = await session.scalar(
            select(func.count()).select_from(Contact).where(col(Contact.wa_id).in_([OLD, NEW]))
        )
    assert contacts == 0
    async with h.service.sessions() as session:
        left = await session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(or_(col(WebhookDelivery.body).contains(OLD), col(WebhookDelivery.body).contains(NEW)))
        )
    assert left == 0


async def test_the_notice_in_a_conversation_with_the_bot_gets_no_answer_from_it(h: TestHarness) -> None:
    await say(h, text(OLD, "hi, what does the basic plan cost?", h.clock.now()))
    sent_before = len(h.fake_graph.sent)
    h.clock.advance(seconds=15)
    assert (await h.post(NOTICE)).status_code == 200
    await h.service.turns.drain()
    await h.service.dispatcher.drain()
    assert len(h.fake_graph.sent) == sent_before, "the bot does not answer WhatsApp's notice"
    async with h.service.sessions() as session:
        conversation = await session.scalar(
            select(Conversation).join(Contact).where(col(Contact.wa_id) == NEW)
        )
    assert conversation is not None
    assert conversation.has_pending is False


async def test_a_notice_after_the_conversation_was_resolved_goes_into_it_and_opens_none(
    h: TestHarness,
) -> None:
    conversation_id = await seed_conversation(h, "closed_tara")
    await give_contact_number(h, conversation_id, OLD)

    assert (await h.post(NOTICE)).status_code == 200
    async with h.service.sessions() as session:
        conversations = list(
            (
                await session.execute(
                    select(col(Conversation.id), col(Conversation.owner))
                    .join(Contact)
                    .where(col(Contact.wa_id) == NEW)
                )
            ).all()
        )
    assert conversations == [(conversation_id, "closed")]
    assert len(await _number_events(h, conversation_id)) == 1

    # The customer's next message, from the new number, opens a new conversation as any would.
    await say(h, text(NEW, "hi again, new phone", h.clock.now()))
    async with h.service.sessions() as session:
        opened = await session.scalar(
            select(func.count()).select_from(Conversation).join(Contact).where(col(Contact.wa_id) == NEW)
        )
    assert opened == 2


async def test_a_notice_from_a_number_never_seen_leaves_nothing_for_the_bot_to_answer(h: TestHarness) -> None:
    assert (await h.post(NOTICE)).status_code == 200
    await h.service.turns.drain()
    await h.service.dispatcher.drain()
    async with h.service.sessions() as session:
        conversation = await session.scalar(
            select(Conversation).join(Contact).where(col(Contact.wa_id) == NEW)
        )
    assert conversation is not None
    assert (conversation.has_pending, conversation.last_inbound_at) == (False, None)
    assert h.fake_graph.sent == []

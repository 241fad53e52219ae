"""A customer writes while the rep hands the conversation back to the bot.

Storing a message reads the conversation's owner without a lock (PostgreSQL, READ COMMITTED). When
the hand-back commits between that read and the message's write, the message was stored for the
rep in a conversation that is the bot's by then: no rep had it, no turn was scheduled, and the
customer was not answered until they wrote again. Replayed here with two sessions, the hand-back
committed right after the read, for a message stored on its own and for one stored with a run.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from orchestrator import conversations
from orchestrator.channels.whatsapp.inbound import InboundMessage
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.enums import EventType, Owner
from orchestrator.core.tables import Conversation, Message
from tests.conftest import OPEN_HOURS
from tests.factories import inbound
from tests.fakes.graph import TestHarness

pytestmark = pytest.mark.postgres
CUSTOMER = "447700900123"


def _inbound(wamid: str, text: str) -> InboundMessage:
    return inbound(CUSTOMER, wamid, text, OPEN_HOURS)


async def _with_a_rep(h: TestHarness) -> int:
    """The customer's conversation, which a rep has (its first message answered long ago)."""
    async with h.service.sessions() as session, session.begin():
        message, conversation = await conversations.store_inbound(
            session, msg=_inbound("wamid.m1", "hello"), at=OPEN_HOURS
        )
        assert message is not None
        assert conversation.id is not None
        message.turn = 1
        conversation.owner, conversation.has_pending = Owner.HUMAN, False
        return conversation.id


async def _hand_back(h: TestHarness, conversation_id: int) -> None:
    """The hand-back's change to the conversation, committed by another transaction."""
    async with h.service.sessions() as session, session.begin():
        await session.execute(
            update(Conversation).where(col(Conversation.id) == conversation_id).values(owner=Owner.BOT)
        )


async def _outcome(h: TestHarness, conversation_id: int) -> tuple[Owner, bool, list[str], list[str]]:
    """The owner, the pending marker, the statuses of the new message, and the events telling a rep."""
    async with h.service.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        statuses = (
            await session.execute(select(col(Message.status)).where(col(Message.wa_message_id) == "wamid.m2"))
        ).scalars()
        told = (
            await session.execute(
                select(col(ContextEvent.description)).where(
                    col(ContextEvent.type) == EventType.MESSAGE_RECEIVED
                )
            )
        ).scalars()
        return conversation.owner, conversation.has_pending, list(statuses), list(told)


async def test_a_message_stored_on_its_own_while_a_rep_hands_back_goes_to_the_bot(
    pg_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = pg_h
    conversation_id = await _with_a_rep(h)
    read = conversations.current_conversation

    async def read_then_hand_back(*args: Any, **kwargs: Any) -> Conversation:
        found = await read(*args, **kwargs)
        assert found.owner == Owner.HUMAN, "read before the hand-back"
        await _hand_back(h, conversation_id)
        return found

    monkeypatch.setattr(conversations, "current_conversation", read_then_hand_back)
    async with h.service.sessions() as session, session.begin():
        stored = await conversations.store_one(
            session, msg=_inbound("wamid.m2", "are you there?"), at=OPEN_HOURS
        )
    assert stored.owner == Owner.BOT, "the caller schedules the bot's turn"
    assert await _outcome(h, conversation_id) == (Owner.BOT, True, ["received"], [])


async def test_a_message_stored_with_a_run_while_a_rep_hands_back_goes_to_the_bot(
    pg_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = pg_h
    conversation_id = await _with_a_rep(h)
    store_group = conversations._store_group

    async def hand_back_then_store(*args: Any, **kwargs: Any) -> None:
        # The run has read its senders' conversations (owner: the rep's); the hand-back commits.
        await _hand_back(h, conversation_id)
        await store_group(*args, **kwargs)

    monkeypatch.setattr(conversations, "_store_group", hand_back_then_store)
    async with h.service.sessions() as session, session.begin():
        [stored] = await conversations.store_inbound_run(
            session, msgs=[_inbound("wamid.m2", "are you there?")], at=OPEN_HOURS
        )
    assert stored.stored
    assert stored.owner == Owner.BOT, "the caller schedules the bot's turn"
    assert await _outcome(h, conversation_id) == (Owner.BOT, True, ["received"], [])


async def test_a_message_for_a_rep_who_keeps_the_conversation_stays_the_reps(pg_h: TestHarness) -> None:
    h = pg_h
    conversation_id = await _with_a_rep(h)
    async with h.service.sessions() as session, session.begin():
        [stored] = await conversations.store_inbound_run(
            session, msgs=[_inbound("wamid.m2", "are you there?")], at=OPEN_HOURS
        )
    assert stored.owner == Owner.HUMAN
    owner, pending, statuses, told = await _outcome(h, conversation_id)
    assert (owner, pending, statuses) == (Owner.HUMAN, False, ["for_rep"])
    assert told == ["customer wrote while human: are you there?"]

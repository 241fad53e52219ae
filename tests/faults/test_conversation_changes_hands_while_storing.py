"""A customer writes while the rep hands the conversation back to the bot, or closes it.

Storing a message reads the conversation's owner without a lock (PostgreSQL, READ COMMITTED). When
the hand-back commits between that read and the message's write, the message was stored for the
rep in a conversation that is the bot's by then: no rep had it, no turn was scheduled, and the
customer was not answered until they wrote again. When the rep's close (resolve) commits there, the
message landed in the closed conversation: nobody saw it, and nothing answered it. Replayed here
with two sessions, the change committed right after the read, for a message stored on its own and
for one stored with a run.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
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
LATER = OPEN_HOURS + timedelta(minutes=5)


def _inbound(wamid: str, text: str) -> InboundMessage:
    return inbound(CUSTOMER, wamid, text, OPEN_HOURS)


def _later(wamid: str, text: str) -> InboundMessage:
    return inbound(CUSTOMER, wamid, text, LATER)


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


async def _close(h: TestHarness, conversation_id: int) -> None:
    """The rep's close (resolve) of the conversation, committed by another transaction."""
    async with h.service.sessions() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id)
            .values(owner=Owner.CLOSED, closed_at=OPEN_HOURS)
        )


async def _stored_alone_after(
    h: TestHarness, monkeypatch: pytest.MonkeyPatch, change: Awaitable[None], msg: InboundMessage
) -> conversations.StoredInbound:
    """`msg` stored on its own, `change` committed by another transaction right after the message's
    read of its conversation (the owner: the rep's) and before it is written."""
    read = conversations.current_conversation
    changed = False

    async def read_then_change(*args: Any, **kwargs: Any) -> Conversation:
        nonlocal changed
        found = await read(*args, **kwargs)
        if not changed:  # the first read, the message's; a later one looks for a new conversation
            assert found.owner == Owner.HUMAN, "read before the change"
            await change
            changed = True
        return found

    monkeypatch.setattr(conversations, "current_conversation", read_then_change)
    async with h.service.sessions() as session, session.begin():
        return await conversations.store_one(session, msg=msg, at=msg.timestamp)


async def _run_stored_after(
    h: TestHarness, monkeypatch: pytest.MonkeyPatch, change: Awaitable[None], msgs: list[InboundMessage]
) -> list[conversations.StoredInbound]:
    """`msgs` stored as a run, `change` committed by another transaction once the run has read its
    senders' conversations (the owner: the rep's) and before it stores them."""
    store_group = conversations._store_group

    async def change_then_store(*args: Any, **kwargs: Any) -> None:
        await change
        await store_group(*args, **kwargs)

    monkeypatch.setattr(conversations, "_store_group", change_then_store)
    async with h.service.sessions() as session, session.begin():
        return await conversations.store_inbound_run(session, msgs=msgs, at=max(m.timestamp for m in msgs))


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
    stored = await _stored_alone_after(
        h, monkeypatch, _hand_back(h, conversation_id), _inbound("wamid.m2", "are you there?")
    )
    assert stored.owner == Owner.BOT, "the caller schedules the bot's turn"
    assert await _outcome(h, conversation_id) == (Owner.BOT, True, ["received"], [])


async def test_a_message_stored_with_a_run_while_a_rep_hands_back_goes_to_the_bot(
    pg_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = pg_h
    conversation_id = await _with_a_rep(h)
    [stored] = await _run_stored_after(
        h, monkeypatch, _hand_back(h, conversation_id), [_inbound("wamid.m2", "are you there?")]
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


async def _where_it_went(h: TestHarness, closed_id: int) -> tuple[Owner, int, Owner, bool, str, list[int]]:
    """After a close: the closed conversation's owner, and the message's conversation with its
    owner, pending marker and the message's status, and which conversations' events told a rep."""
    async with h.service.sessions() as session:
        closed = await session.get(Conversation, closed_id)
        assert closed is not None
        message = (
            await session.execute(select(Message).where(col(Message.wa_message_id) == "wamid.m2"))
        ).scalar_one()
        home = await session.get(Conversation, message.conversation_id)
        assert home is not None
        told = (
            await session.execute(
                select(col(ContextEvent.conversation_id)).where(
                    col(ContextEvent.type) == EventType.MESSAGE_RECEIVED
                )
            )
        ).scalars()
        assert (closed.last_inbound_at, closed.updated_at) == (OPEN_HOURS, OPEN_HOURS), (
            "the closed one untouched"
        )
        return closed.owner, message.conversation_id, home.owner, home.has_pending, message.status, list(told)


async def test_a_message_stored_on_its_own_while_the_rep_closes_opens_a_new_conversation_for_the_bot(
    pg_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = pg_h
    conversation_id = await _with_a_rep(h)
    stored = await _stored_alone_after(
        h, monkeypatch, _close(h, conversation_id), _later("wamid.m2", "one more question")
    )
    assert stored.stored
    assert (stored.owner, stored.conversation_id != conversation_id) == (Owner.BOT, True), (
        "the caller schedules the bot's turn in the new conversation"
    )
    assert await _where_it_went(h, conversation_id) == (
        Owner.CLOSED,
        stored.conversation_id,
        Owner.BOT,
        True,
        "received",
        [],
    )


async def test_a_message_stored_with_a_run_while_the_rep_closes_opens_a_new_conversation_for_the_bot(
    pg_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = pg_h
    conversation_id = await _with_a_rep(h)
    stored = await _run_stored_after(
        h,
        monkeypatch,
        _close(h, conversation_id),
        [_later("wamid.m2", "one more question"), _later("wamid.m3", "hello?")],
    )
    assert [s.stored for s in stored] == [True, True]
    assert {(s.owner, s.conversation_id) for s in stored} == {(Owner.BOT, stored[0].conversation_id)}
    assert stored[0].conversation_id != conversation_id
    assert await _where_it_went(h, conversation_id) == (
        Owner.CLOSED,
        stored[0].conversation_id,
        Owner.BOT,
        True,
        "received",
        [],
    )

"""The conversation's `has_pending` marker is what the turns and the background sweep look for: a
message stored while a turn clears the marker must not be left unanswered.

Both races were found by the chaos run (`bench/chaos.py`) on PostgreSQL, where applying a delivery
and a turn run at the same time in different processes (READ COMMITTED): a message stayed
`received` with the marker cleared, and nothing ever ran its turn. They are replayed here with two
sessions in the order the run hit them.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import cast

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from orchestrator.channels.whatsapp.inbound import InboundMessage
from orchestrator.conversations import mark_consumed, pending_inbound_of, store_inbound
from orchestrator.core.state import State
from orchestrator.core.tables import Conversation, Message
from tests.conftest import OPEN_HOURS
from tests.factories import inbound
from tests.fakes.graph import TestHarness

pytestmark = pytest.mark.postgres
CUSTOMER = "447700900123"


def _inbound(wamid: str, text: str) -> InboundMessage:
    return inbound(CUSTOMER, wamid, text, OPEN_HOURS)


async def _first_message(h: TestHarness) -> tuple[int, int]:
    """A conversation holding one stored, unprocessed message: (conversation id, message id)."""
    async with h.service.sessions() as session, session.begin():
        message, conversation = await store_inbound(session, msg=_inbound("wamid.m1", "hello"), at=OPEN_HOURS)
        assert message is not None
        assert message.id is not None
        assert conversation.id is not None
        return conversation.id, message.id


async def _state(h: TestHarness, conversation_id: int) -> tuple[bool, list[str]]:
    """The marker, and the messages still waiting for a turn."""
    async with h.service.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        waiting = (await pending_inbound_of(session, [conversation_id]))[conversation_id]
        return conversation.has_pending, [str(m.wa_message_id) for m in waiting]


async def test_a_message_stored_while_a_turn_commits_keeps_the_conversation_pending(
    pg_h: TestHarness,
) -> None:
    h = pg_h
    conversation_id, first = await _first_message(h)
    store_started = asyncio.Event()

    async def store_second() -> None:
        # Reads the conversation (marker set) before the turn's commit clears it, then waits for
        # the turn's row lock to insert its message.
        async with h.service.sessions() as session, session.begin():
            store_started.set()
            await store_inbound(session, msg=_inbound("wamid.m2", "are you there?"), at=OPEN_HOURS)

    # The turn's commit, as `TurnEngine._commit_turn` does it: one UPDATE counts the turn and sets
    # the marker to whether messages other than the turn's are waiting (none yet), locking the row;
    # then the turn's message consumed.
    async with h.service.sessions() as session, session.begin():
        others = (
            select(col(Message.id))
            .where(
                col(Message.conversation_id) == conversation_id,
                col(Message.turn).is_(None),
                col(Message.id) != first,
            )
            .exists()
        )
        await session.execute(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id)
            .values(turns=col(Conversation.turns) + 1, has_pending=others)
        )
        storing = asyncio.create_task(store_second())
        await store_started.wait()
        await asyncio.sleep(0.5)  # the store has read the conversation and waits for the lock
        assert await mark_consumed(session, message_ids=[first], turn=1, at=OPEN_HOURS) == 1
    await storing

    has_pending, waiting = await _state(h, conversation_id)
    assert waiting == ["wamid.m2"]
    assert has_pending, "the second message is waiting, so the conversation must be marked pending"


async def test_a_turn_that_finds_nothing_to_do_does_not_clear_a_message_being_stored(
    pg_h: TestHarness,
) -> None:
    h = pg_h
    engine = h.service.turns
    conversation_id, first = await _first_message(h)
    # The first message was answered; the marker is still set (a turn loop goes round once more to
    # find nothing), and this worker holds the lease.
    async with h.service.sessions() as session, session.begin():
        assert await mark_consumed(session, message_ids=[first], turn=1, at=OPEN_HOURS) == 1
        await session.execute(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id)
            .values(
                turns=1,
                lease_owner=engine.worker_id,
                lease_until=h.clock.now() + timedelta(minutes=5),
            )
        )

    async def look_and_run() -> None:
        # As `TurnEngine.run` does after a commit: the turn read in a transaction of its own (the
        # marker cleared there when nothing is pending), then the turn when there is one.
        async with h.service.sessions() as session, session.begin():
            pending = await engine._read_turn(session, conversation_id)
        if pending is not None:
            await engine._one_turn(conversation_id, pending)

    # A delivery is being applied: its message inserted and the conversation updated, not committed.
    async with h.service.sessions() as session, session.begin():
        await store_inbound(session, msg=_inbound("wamid.m2", "one more thing"), at=OPEN_HOURS)
        await session.flush()
        looking = asyncio.create_task(look_and_run())
        await asyncio.sleep(0.5)  # the turn loop looks for pending messages meanwhile
    await looking

    has_pending, waiting = await _state(h, conversation_id)
    async with h.service.sessions() as session:
        second = (
            await session.execute(select(Message).where(col(Message.wa_message_id) == "wamid.m2"))
        ).scalar_one()
    assert second.turn is not None or (has_pending and waiting == ["wamid.m2"]), (
        "the message stored meanwhile is either answered by that turn or still marked pending"
    )


async def test_a_message_stored_just_before_a_turn_commits_keeps_the_conversation_pending(
    pg_h: TestHarness,
) -> None:
    """The delivery holds the conversation's row (message inserted, marker set, not committed yet)
    when the turn's fenced commit starts: the commit waits for it, and must then count the new
    message, not decide `has_pending` from what it saw before the wait."""
    h = pg_h
    engine = h.service.turns
    conversation_id, _ = await _first_message(h)
    async with h.service.sessions() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id)
            .values(lease_owner=engine.worker_id, lease_until=h.clock.now() + timedelta(minutes=5))
        )
    async with h.service.sessions() as session, session.begin():
        pending = await engine._read_turn(session, conversation_id)
    assert pending is not None

    async with h.service.sessions() as session, session.begin():
        await store_inbound(session, msg=_inbound("wamid.m2", "and one more thing"), at=OPEN_HOURS)
        await session.flush()
        committing = asyncio.create_task(
            engine._commit_turn(conversation_id, pending.contact, pending.messages, cast(State, {}), 0)
        )
        await asyncio.sleep(0.5)  # the turn's commit has started and waits for the row
    _, more = await committing

    has_pending, waiting = await _state(h, conversation_id)
    assert waiting == ["wamid.m2"]
    assert has_pending, "the message stored meanwhile is waiting, so the conversation is marked pending"
    assert more, "the turn loop is told to go round again"

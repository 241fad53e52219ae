"""A process rehearses one handoff at startup and rolls it back (`rehearse_handoff`): the first real
handoffs then find the assignment's statements compiled, and the rehearsal leaves nothing behind:
no row in any table, no event on any stream."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import default
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, col

from handoff.flows import perform_handoff, rehearse_handoff
from handoff.models import Rep, RepQueue
from handoff.policy import viewer_of
from orchestrator.channels.whatsapp.inbound import ContactRef
from orchestrator.conversations import current_conversation, upsert_contact
from orchestrator.core.db import make_engine, make_sessionmaker
from orchestrator.core.enums import Owner
from orchestrator.core.tables import Conversation
from tests.factories import button, say, text
from tests.fakes.graph import TestHarness
from tests.handoff.conftest import configured


async def _row_counts(h: TestHarness) -> dict[str, int]:
    async with h.service.sessions() as session:
        return {
            table.name: int((await session.execute(select(func.count()).select_from(table))).scalar_one())
            for table in SQLModel.metadata.sorted_tables
        }


async def test_a_rehearsed_handoff_leaves_no_row_and_publishes_nothing(db_h: TestHarness) -> None:
    h = db_h
    await say(h, text("12025550101", "hello", h.clock.now()))  # something there already
    before = await _row_counts(h)
    async with h.service.sessions() as session:
        admin = await session.get(Rep, "admin")
        assert admin is not None
        assert h.service.notifier is not None
        stream = h.service.notifier.subscribe(await viewer_of(session, rep=admin))

    await rehearse_handoff(h.service.sessions, config=h.service.config, at=h.clock.now())

    await h.service.notifier.settled()
    assert stream.queue.empty()
    assert await _row_counts(h) == before
    # The service still hands off to its own reps, and the admin's stream hears of it.
    await say(h, text("12025550102", "hello", h.clock.now()))
    await say(h, button("12025550102", "menu_support", "Support", h.clock.now()))
    async with h.service.sessions() as session:
        handed = (
            (await session.execute(select(Conversation).where(col(Conversation.queue) == "support")))
            .scalars()
            .one()
        )
    assert handed.owner == Owner.HUMAN
    assert handed.assignee_id in {"tara", "diego", "lena"}
    await h.service.notifier.settled()
    assert not stream.queue.empty()


@contextlib.contextmanager
def _compiled(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements this engine had to compile (not found in its cache) while the block ran."""
    compiled: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        if context is not None and context.cache_hit is default.CACHE_MISS:
            compiled.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield compiled
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def _first_handoff_compiles(engine: AsyncEngine, h: TestHarness, wa_id: str, *, rehearse: bool) -> int:
    """Statements of one real handoff (`perform_handoff` and its flush) that this engine had to
    compile, on a conversation created and locked beforehand."""
    sessions = make_sessionmaker(engine)
    config, at = h.service.config, h.clock.now()
    if rehearse:
        await rehearse_handoff(sessions, config=config, at=at)
    async with sessions() as session, session.begin():
        contact = await upsert_contact(session, ref=ContactRef(wa_id=wa_id, name="Ana"), at=at)
        conversation = await current_conversation(session, contact=contact, at=at, referral=None)
        locked = await session.get(Conversation, conversation.id, with_for_update=True)
        assert locked is not None
        locked.language = "en"  # as the bot's first turn finds it
        await session.flush()
        with _compiled(engine) as compiled:
            await perform_handoff(
                session,
                config=config,
                conversation=locked,
                contact=contact,
                request={
                    "reason": "explicit_request",
                    "department_choice": "support",
                    "evidence": {"message_id": None, "text": "a person please", "signals": []},
                    "summary": "asked for a person",
                    "open_questions": [],
                    "promises": [],
                },
                fields={},
                language="en",
                llm_calls=0,
                at=at,
            )
            await session.flush()
    return len(compiled)


async def test_after_the_rehearsal_a_process_first_handoff_compiles_none_of_its_statements(
    db_h: TestHarness,
) -> None:
    h = db_h
    url = str(h.service.settings.database_url)
    cold, rehearsed = make_engine(url), make_engine(url)  # two fresh processes' engines
    try:
        assert await _first_handoff_compiles(cold, h, "12025550111", rehearse=False) > 0
        assert await _first_handoff_compiles(rehearsed, h, "12025550112", rehearse=True) == 0
    finally:
        await cold.dispose()
        await rehearsed.dispose()


async def test_after_the_rehearsal_a_handoff_to_a_rep_assigned_before_compiles_none_of_its_statements(
    db_h: TestHarness,
) -> None:
    # The rehearsal's rep is new (never assigned); in a running team the next rep has been: the claim
    # that checks the turn it read must be the statement the rehearsal compiled, not another.
    h = db_h
    url = str(h.service.settings.database_url)
    earlier, rehearsed = make_engine(url), make_engine(url)
    try:
        for n in range(3):  # each of Support's three reps assigned once, by another process
            await _first_handoff_compiles(earlier, h, f"1202555012{n}", rehearse=False)
        async with h.service.sessions() as session:
            turns = (
                await session.execute(select(col(RepQueue.last_turn)).where(col(RepQueue.queue) == "support"))
            ).scalars()
            assert None not in set(turns)
        assert await _first_handoff_compiles(rehearsed, h, "12025550129", rehearse=True) == 0
    finally:
        await earlier.dispose()
        await rehearsed.dispose()


async def test_after_the_rehearsal_a_customer_handed_off_by_a_bot_turn_compiles_nothing_new(
    db_h: TestHarness,
) -> None:
    # A process that has answered a few messages and rehearsed: the first customer it hands to a
    # person (a conversation the bot has talked in, its language known) runs compiled statements
    # only. On SQLite the rehearsal once left two to compile: the conversation's update (the
    # rehearsal's also set the language) and the round-robin cursor's (its subquery recompiled at
    # the statement's second use).
    h = db_h
    await rehearse_handoff(h.service.sessions, config=h.service.config, at=h.clock.now())
    await say(h, text("12025550131", "Hello", h.clock.now()))
    await say(h, text("12025550131", "What are your opening hours?", h.clock.now()))
    await say(h, text("12025550132", "Hello", h.clock.now()))
    with _compiled(h.service.engine) as compiled:
        replies = await say(h, text("12025550132", "I want to talk to a person please", h.clock.now()))
    async with h.service.sessions() as session:
        handed = (
            (await session.execute(select(Conversation).where(col(Conversation.owner) == Owner.HUMAN)))
            .scalars()
            .one()
        )
    assert replies, "the customer is told a person takes over"
    assert handed.assignee_id is not None
    assert compiled == []


async def test_the_rehearsal_stays_in_its_own_queue_whatever_the_routing_rules_say(db_h: TestHarness) -> None:
    # A refine rule matching any English handoff would have taken it to Support, to a real rep whose
    # row it then held locked until the rollback.
    config = configured(
        routing={"refine": [{"name": "english to support", "when": {"language": ["en"]}, "queue": "support"}]}
    )
    result = await rehearse_handoff(db_h.service.sessions, config=config, at=db_h.clock.now())
    assert result.routing.queue.startswith("rehearsal_")
    assert result.outcome.rep is not None
    assert result.outcome.rep.id.startswith("rehearsal-")

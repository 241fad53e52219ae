"""Turn processing: bursts are one turn, the ownership gate, return to bot with a briefing, one worker
per conversation (a renewed lease, fenced commits, messages never processed twice)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from handoff.models import Rep
from orchestrator.conversations import store_one
from orchestrator.core.aio import GroupAdmission
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.enums import EventType
from orchestrator.core.settings import Settings
from orchestrator.core.tables import Contact, Conversation, Message
from orchestrator.runtime.graph import thread_config
from orchestrator.runtime.turns import LEASE_GROUP, TurnEngine
from tests.factories import AD_REFERRAL, auth, button, counting, first_listed_conversation, inbound, say, text
from tests.fakes.graph import TestHarness, graph_error_body
from tests.fakes.servers import free_port
from tests.web.helpers import browser, sign_in


async def _inbound_turns_in_order(h: TestHarness) -> list[int]:
    """The turn that took each inbound message, in arrival order (-1: none yet)."""
    async with h.service.sessions() as session:
        rows = await session.execute(
            select(col(Message.turn)).where(col(Message.direction) == "inbound").order_by(col(Message.id))
        )
        return [-1 if turn is None else int(turn) for turn in rows.scalars()]


async def test_a_burst_of_messages_is_answered_once(h: TestHarness) -> None:
    wa = "12025550301"
    await say(h, text(wa, "Hello", h.clock.now()))
    h.service.turns.burst_window_s = 0.3
    before = len(h.fake_graph.sent)
    for part in ("one more thing", "how much does it cost", "for 10 agents"):
        response = await h.post(text(wa, part, h.clock.now()))
        assert response.status_code == 200
    await h.service.turns.drain()
    sent = h.fake_graph.sent_texts()[before:]
    assert len(sent) == 1, sent
    assert sorted(await _inbound_turns_in_order(h)) == [1, 2, 2, 2]


async def test_a_menu_tap_and_the_question_typed_after_it_in_one_burst_go_to_the_team_tapped(
    h: TestHarness,
) -> None:
    wa = "12025550309"
    await say(h, text(wa, "Hello", h.clock.now()))
    h.service.turns.burst_window_s = 0.3
    before = len(h.fake_graph.sent)
    assert (await h.post(button(wa, "menu_billing", "Billing", h.clock.now()))).status_code == 200
    assert (await h.post(text(wa, "my invoice export fails since monday", h.clock.now()))).status_code == 200
    await h.service.turns.drain()
    sent = h.fake_graph.sent_texts()[before:]
    assert len(sent) == 1, sent
    assert "don't have an answer" not in sent[0]
    conversation = await first_listed_conversation(h)
    assert (conversation["queue"], conversation["handoff_reason"]) == ("billing", "menu_selection")


async def test_three_messages_100_ms_apart_get_one_answer(h: TestHarness) -> None:
    wa = "12025550304"
    defaults = Settings()
    h.service.turns.burst_window_s = defaults.burst_window_s
    h.service.turns.burst_quiet_s = defaults.burst_quiet_s
    for n, part in enumerate(("hi", "how much does the basic plan cost", "for 10 agents")):
        if n:
            await asyncio.sleep(0.1)
        assert (await h.post(text(wa, part, h.clock.now()))).status_code == 200
    await h.service.turns.drain()
    assert len(h.fake_graph.sent) == 1, h.fake_graph.sent_texts()
    assert await _inbound_turns_in_order(h) == [1, 1, 1]
    assert [o.turn for o in h.outcomes] == [1]


async def test_a_graph_loaded_at_the_first_turn_stages_its_checkpoint(h: TestHarness) -> None:
    from orchestrator.runtime.checkpoints import SessionSaver, StagedSaver

    assert not h.service.graph.loaded, "nothing loaded at startup"
    assert h.service.turns.saver is None
    await say(h, text("12025550307", "Hello", h.clock.now()))
    saver = h.service.turns.saver
    assert isinstance(saver, StagedSaver), "the turn engine finds the staged saver once the graph loads"
    assert saver is await h.service.graph.checkpointer()
    # SQLite: written through the service's own engine, in the turn's transaction (one writer).
    assert isinstance(saver.inner, SessionSaver)
    assert saver.inner.engine is h.service.engine
    state = await h.service.graph.aget_state(thread_config(1))
    assert state.values["turn"] == 1


async def test_a_lone_message_does_not_wait_for_the_upper_bound(h: TestHarness) -> None:
    turns = h.service.turns
    turns.burst_window_s = 3600  # were the wait not adaptive, this turn would start in an hour
    turns.burst_quiet_s = 0.05
    assert (await h.post(text("12025550305", "Hello", h.clock.now()))).status_code == 200
    await asyncio.wait_for(turns.drain(), timeout=60)
    assert len(h.fake_graph.sent) == 1
    [outcome] = h.outcomes
    assert turns.burst_quiet_s <= outcome.waited_s < turns.burst_window_s


async def test_a_customer_who_keeps_typing_is_answered_at_the_upper_bound(h: TestHarness) -> None:
    await h.service.graph.get()  # loaded beforehand: the first turn then starts when the window says
    turns = h.service.turns
    turns.burst_window_s = 0.5
    turns.burst_quiet_s = 0.4
    wa = "12025550306"
    small_talk = [
        "hi",
        "ok",
        "thanks",
        "great",
        "hello again",
        "ok thanks",
        "cool",
        "nice",
        "yes",
        "thank you",
    ]
    for words in small_talk:  # a message every 100 ms for a second: never quiet for 0.4 s
        assert (await h.post(text(wa, words, h.clock.now()))).status_code == 200
        await asyncio.sleep(0.1)
    await turns.drain()
    first, *later = h.outcomes
    assert first.turn == 1
    assert first.waited_s >= turns.burst_window_s
    assert later, "the messages after the upper bound are a later turn"
    taken = await _inbound_turns_in_order(h)
    assert -1 not in taken
    assert taken == sorted(taken)
    assert taken.count(1) < len(taken)


async def test_messages_to_a_human_owned_conversation_never_reach_the_graph(h: TestHarness) -> None:
    wa = "12025550302"
    await say(h, text(wa, "Hello", h.clock.now()))
    await say(h, text(wa, "agent please", h.clock.now()))
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
    snapshot_before = await h.service.graph.aget_state(thread_config(conversation.id or 0))
    assert await say(h, text(wa, "are you there?", h.clock.now())) == []
    snapshot_after = await h.service.graph.aget_state(thread_config(conversation.id or 0))
    assert snapshot_after.values["turn"] == snapshot_before.values["turn"]


async def test_hand_back_resumes_the_bot_without_re_asking_known_fields(h: TestHarness) -> None:
    wa = "12025550303"
    await say(h, text(wa, "Hi from the ad", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(wa, "Our company is Initech", h.clock.now()))
    await say(h, text(wa, "we want to qualify inbound leads automatically", h.clock.now()))
    listed = (await h.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    conversation_id, owner_id = listed[0]["id"], listed[0]["assignee_id"]
    reply = await h.http.post(
        f"/api/conversations/{conversation_id}/messages",
        json={"text": "Sent you the pricing sheet, the bot can help with setup questions."},
        headers=auth(f"demo-{owner_id}"),
    )
    assert reply.status_code == 202
    await h.service.dispatcher.drain()
    async with h.service.sessions() as session:
        rep = await session.get(Rep, owner_id)
        assert rep is not None
        open_before = rep.open_count
    handed = await h.http.post(
        f"/api/conversations/{conversation_id}/hand-back",
        json={"note": "pricing sent"},
        headers=auth(f"demo-{owner_id}"),
    )
    assert handed.status_code == 200
    assert "pricing sent" in handed.json()["briefing"]
    async with h.service.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        rep_after = await session.get(Rep, owner_id)
    assert conversation is not None
    assert conversation.owner == "bot"
    assert rep_after is not None
    assert rep_after.open_count == open_before - 1
    sent = await say(h, text(wa, "thanks! is there a free trial?", h.clock.now()))
    assert sent, "the bot answers again"
    assert not any("company" in s.lower() for s in sent), sent
    detail = (await h.http.get(f"/api/conversations/{conversation_id}", headers=auth("demo-admin"))).json()
    assert detail["owner"] == "bot"
    assert any(e["type"] == EventType.RETURNED_TO_BOT for e in detail["events"])


async def test_a_crash_right_after_the_hand_back_commit_still_resumes_the_bot_with_the_briefing(
    h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    wa = "12025550304"
    await say(h, text(wa, "Hi from the ad", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(wa, "Our company is Initech", h.clock.now()))
    await say(h, text(wa, "we want to qualify inbound leads automatically", h.clock.now()))
    listed = (await h.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    conversation_id, owner_id = listed[0]["id"], listed[0]["assignee_id"]
    graph = h.service.graph

    async def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the process died right after the hand-back's commit")

    # Any write of the bot's state after the hand-back's commit is where the process dies.
    monkeypatch.setattr(graph, "aupdate_state", crash)
    with contextlib.suppress(RuntimeError):  # the request dies with the process
        await h.http.post(
            f"/api/conversations/{conversation_id}/hand-back",
            json={"note": "pricing sent, wants a trial"},
            headers=auth(f"demo-{owner_id}"),
        )
    monkeypatch.undo()  # restarted
    async with h.service.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    assert conversation.owner == "bot", "the hand-back was committed"
    sent = await say(h, text(wa, "thanks! is there a free trial?", h.clock.now()))
    assert sent, "the bot answers again"
    assert not any("company" in s.lower() for s in sent), sent
    state = await graph.aget_state(thread_config(conversation_id))
    assert "pricing sent, wants a trial" in (state.values.get("briefing") or "")
    assert state.values["handed_off"] is False
    again = await say(h, text(wa, "and how much is it?", h.clock.now()))
    assert again
    after = await graph.aget_state(thread_config(conversation_id))
    assert after.values["customer_texts"][-2:] == ["thanks! is there a free trial?", "and how much is it?"], (
        "the briefing is applied once, not at every turn"
    )


class GatedGraph:
    """The real graph, held at the start of each run until the test opens the gate."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def ainvoke(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        await self.gate.wait()
        return await self.graph.ainvoke(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.graph, name)


def _engine(h: TestHarness, graph: Any) -> TurnEngine:
    s = h.service
    return TurnEngine(
        sessions=s.sessions, graph=graph, config=s.config, client=s.client, clock=h.clock, burst_window_s=0
    )


async def _deliver_without_turn(h: TestHarness, wa: str, body: str) -> int:
    """Store a customer message as the webhook does, without letting the service run its turn."""
    h.service.turns.burst_window_s = 3600
    h.service.turns.burst_quiet_s = 3600
    assert (await h.post(text(wa, body, h.clock.now()))).status_code == 200
    await h.service.turns.close()  # the service's own scheduled turn never starts
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
    assert conversation.id is not None
    return conversation.id


async def _inbound_turns(h: TestHarness) -> list[int | None]:
    async with h.service.sessions() as session:
        rows = await session.execute(
            select(Message).where(col(Message.direction) == "inbound").order_by(col(Message.id))
        )
        return [m.turn for m in rows.scalars()]


async def test_a_message_written_while_the_bot_hands_off_is_shown_to_the_rep_like_any_other(
    h: TestHarness,
) -> None:
    # Stored for the bot (it still had the conversation), then found by the next pass in a
    # conversation a rep has: the ownership gate gives it to the rep, and tells them as the inbox
    # tells them of a message stored for them (their workspace follows these events).
    conversation_id = await _deliver_without_turn(h, "12025550309", "I want to talk to a person")
    slow = GatedGraph(h.service.graph)
    worker = _engine(h, slow)
    running = asyncio.create_task(worker.run(conversation_id))
    await slow.entered.wait()
    async with h.service.sessions() as session, session.begin():  # as the inbox stores it
        stored = await store_one(
            session,
            msg=inbound("12025550309", "wamid.hurry", "please hurry", h.clock.now()),
            at=h.clock.now(),
        )
    assert (stored.stored, stored.owner) == (True, "bot")
    slow.gate.set()
    await running
    await worker.run(conversation_id)
    async with h.service.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        hurry = (
            await session.execute(select(Message).where(col(Message.text) == "please hurry"))
        ).scalar_one()
        told = (
            (
                await session.execute(
                    select(ContextEvent).where(col(ContextEvent.type) == EventType.MESSAGE_RECEIVED)
                )
            )
            .scalars()
            .all()
        )
    assert conversation is not None
    assert conversation.owner in ("queued", "human")
    assert not conversation.has_pending
    assert hurry.status == "for_rep"
    assert [(e.conversation_id, (e.details or {}).get("message_id")) for e in told] == [
        (conversation_id, hurry.id)
    ]
    assert told[0].description == f"customer wrote while {conversation.owner}: please hurry"


async def test_a_message_whose_conversation_was_handed_off_and_closed_before_its_turn_is_answered(
    h: TestHarness,
) -> None:
    await _handed_off_and_closed_before_its_turn(h)


@pytest.mark.postgres
async def test_a_message_whose_conversation_was_handed_off_and_closed_before_its_turn_is_answered_on_postgres(
    pg_h: TestHarness,
) -> None:
    await _handed_off_and_closed_before_its_turn(pg_h)


async def _handed_off_and_closed_before_its_turn(h: TestHarness) -> None:
    # Stored for the bot; a handoff and the rep's close both commit before the turn reads it. The
    # message moves to a new conversation of the customer's, whose turn the bot runs.
    closed_id = await _deliver_without_turn(h, "12025550308", "how much does the basic plan cost?")
    async with h.service.sessions() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(col(Conversation.id) == closed_id)
            .values(owner="closed", closed_at=h.clock.now())
        )
    worker = _engine(h, h.service.graph)
    assert await worker.run(closed_id) == []
    await worker.drain()
    async with h.service.sessions() as session:
        question = (
            await session.execute(select(Message).where(col(Message.direction) == "inbound"))
        ).scalar_one()
        home = await session.get(Conversation, question.conversation_id)
        closed = await session.get(Conversation, closed_id)
    assert closed is not None
    assert (closed.owner, closed.has_pending) == ("closed", False)
    assert home is not None
    assert home.id != closed_id
    assert (home.owner, home.turns, home.has_pending) == ("bot", 1, False)
    assert question.turn == 1
    assert len(h.fake_graph.sent) == 1, "the customer is answered once, in the new conversation"


async def test_a_worker_whose_lease_lapsed_cannot_commit_its_turn(h: TestHarness) -> None:
    await _lease_lapsed_commit_refused(h)


@pytest.mark.postgres
async def test_a_worker_whose_lease_lapsed_cannot_commit_its_turn_on_postgres(pg_h: TestHarness) -> None:
    # The count and the consumed messages are one statement there: neither happens.
    await _lease_lapsed_commit_refused(pg_h)


async def _lease_lapsed_commit_refused(h: TestHarness) -> None:
    conversation_id = await _deliver_without_turn(h, "12025550310", "Hello")
    slow = GatedGraph(h.service.graph)
    a, b = _engine(h, slow), _engine(h, h.service.graph)
    a.renew_every_s = 3600  # a stalled worker: its lease is not renewed
    running = asyncio.create_task(a.run(conversation_id))
    await slow.entered.wait()
    h.clock.advance(seconds=a.lease_s + 1)
    taken_over = await b.run(conversation_id)
    assert [o.turn for o in taken_over] == [1]
    slow.gate.set()
    assert await running == [], "the stalled worker's commit is refused"
    assert await _inbound_turns(h) == [1]
    async with h.service.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    assert conversation.turns == 1
    assert len(h.fake_graph.sent) == 1, "the customer is answered once"


async def test_a_worker_whose_lease_lapsed_mid_graph_writes_no_checkpoint(h: TestHarness) -> None:
    await _lease_lapses_mid_graph(h)


@pytest.mark.postgres
async def test_a_worker_whose_lease_lapsed_mid_graph_writes_no_checkpoint_on_postgres(
    pg_h: TestHarness,
) -> None:
    await _lease_lapses_mid_graph(pg_h)


async def _lease_lapses_mid_graph(h: TestHarness) -> None:
    conversation_id = await _deliver_without_turn(h, "12025550314", "Hello")
    slow = GatedGraph(h.service.graph)
    a, b = _engine(h, slow), _engine(h, h.service.graph)
    a.renew_every_s = 3600  # a stalled worker: its lease is not renewed
    running = asyncio.create_task(a.run(conversation_id))
    await slow.entered.wait()
    h.clock.advance(seconds=a.lease_s + 1)
    assert [o.turn for o in await b.run(conversation_id)] == [1]
    taken_over = await h.service.graph.aget_state(thread_config(conversation_id))
    slow.gate.set()  # the stalled worker's graph now runs, on the state the other worker left
    assert await running == []
    state = await h.service.graph.aget_state(thread_config(conversation_id))
    assert state.config == taken_over.config, "the refused worker wrote no checkpoint"
    assert state.values["turn"] == 1
    assert state.values["customer_texts"].count("Hello") == 1


async def test_a_running_worker_renews_its_lease(h: TestHarness) -> None:
    conversation_id = await _deliver_without_turn(h, "12025550311", "Hello")
    slow = GatedGraph(h.service.graph)
    a, b = _engine(h, slow), _engine(h, h.service.graph)
    a.renew_every_s = 0.01
    running = asyncio.create_task(a.run(conversation_id))
    await slow.entered.wait()
    for _ in range(3):  # time passes beyond the first lease, in steps the renewals keep up with
        h.clock.advance(seconds=a.lease_s / 2)
        await asyncio.sleep(0.1)
    assert await b.run(conversation_id) == [], "a live lease is never taken over"
    slow.gate.set()
    assert [o.turn for o in await running] == [1]
    assert await _inbound_turns(h) == [1]


async def test_a_turn_interrupted_three_times_in_a_row_is_handed_to_a_person_not_run_again(
    h: TestHarness,
) -> None:
    await _interrupted_turns_handed_off(h)


@pytest.mark.postgres
async def test_a_turn_interrupted_three_times_in_a_row_is_handed_to_a_person_on_postgres(
    pg_h: TestHarness,
) -> None:
    await _interrupted_turns_handed_off(pg_h)


async def _interrupted_turns_handed_off(h: TestHarness) -> None:
    """Three workers in turn hang in the graph on the same message, never giving the lease back (as
    a process that died or hung would); each next one takes the lapsed lease over. The fourth hands
    the customer to a person without running the graph."""
    conversation_id = await _deliver_without_turn(h, "12025550318", "Hello, I need help with my order")
    hung: list[tuple[GatedGraph, asyncio.Task[Any]]] = []
    for _ in range(3):
        graph = GatedGraph(h.service.graph)
        worker = _engine(h, graph)
        worker.renew_every_s = 3600  # hung: its lease is not renewed
        hung.append((graph, asyncio.create_task(worker.run(conversation_id))))
        await graph.entered.wait()
        h.clock.advance(seconds=worker.lease_s + 1)
    last = GatedGraph(h.service.graph)
    last.gate.set()
    outcomes = await _engine(h, last).run(conversation_id)
    assert not last.entered.is_set(), "the graph is not run a fourth time"
    assert [o.handoff is not None for o in outcomes] == [True]
    for graph, task in hung:  # the hung workers come back: their commits are refused
        graph.gate.set()
        assert await task == []
    async with h.service.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        signals = (
            (
                await session.execute(
                    select(ContextEvent).where(
                        col(ContextEvent.conversation_id) == conversation_id,
                        col(ContextEvent.type) == EventType.HANDOFF,
                    )
                )
            )
            .scalars()
            .all()
        )
    assert conversation is not None
    assert (conversation.owner, conversation.handoff_reason) != ("bot", None)
    assert conversation.handoff_reason == "ai_unavailable"
    assert conversation.lease_lapses == 3
    assert await _inbound_turns(h) == [1], "the message was taken once, by the hand-off's turn"
    assert len(signals) == 1
    assert "interrupted 3 times" in json.dumps(signals[0].details)


async def test_a_turn_taken_over_once_then_completed_starts_the_count_again(h: TestHarness) -> None:
    wa = "12025550319"
    conversation_id = await _deliver_without_turn(h, wa, "Hello")
    graph = GatedGraph(h.service.graph)
    stalled = _engine(h, graph)
    stalled.renew_every_s = 3600
    running = asyncio.create_task(stalled.run(conversation_id))
    await graph.entered.wait()
    h.clock.advance(seconds=stalled.lease_s + 1)
    worker = _engine(h, h.service.graph)
    assert [o.turn for o in await worker.run(conversation_id)] == [1]
    graph.gate.set()
    assert await running == []

    async def lapses() -> int:
        async with h.service.sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.lease_lapses

    assert await lapses() == 1
    h.service.turns.burst_window_s = h.service.turns.burst_quiet_s = 0
    assert (await h.post(text(wa, "what are your prices?", h.clock.now()))).status_code == 200
    await h.service.turns.drain()
    assert await _inbound_turns(h) == [1, 2]
    assert await lapses() == 0, "the lease was given back after the last turn"


async def test_a_commit_never_marks_a_message_processed_twice(h: TestHarness) -> None:
    await _processed_meanwhile_refused(h)


@pytest.mark.postgres
async def test_a_commit_never_marks_a_message_processed_twice_on_postgres(pg_h: TestHarness) -> None:
    await _processed_meanwhile_refused(pg_h)


async def _processed_meanwhile_refused(h: TestHarness) -> None:
    conversation_id = await _deliver_without_turn(h, "12025550312", "Hello")
    slow = GatedGraph(h.service.graph)
    a = _engine(h, slow)
    running = asyncio.create_task(a.run(conversation_id))
    await slow.entered.wait()
    async with h.service.sessions() as session, session.begin():  # processed meanwhile (a bug, a repair)
        await session.execute(update(Message).values(turn=7, status="processed"))
    slow.gate.set()
    assert await running == []
    assert await _inbound_turns(h) == [7]
    assert h.fake_graph.sent == [], "nothing of the refused turn is sent"


async def _commit_fails_once_after_the_checkpoint(
    h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Any]:
    """An ad lead names their company; the turn's commit fails right after the graph's state was
    written in it (the database went away). Returns the graph state after the failure and after the
    sweep ran the conversation again."""
    wa = "12025550313"
    await say(h, text(wa, "Hi from the ad", h.clock.now(), referral=AD_REFERRAL))
    engine = h.service.turns
    assert engine.saver is not None
    flush = engine.saver.flush
    failures = [RuntimeError("the database went away after the graph ran")]

    async def flush_then_fail_once(*args: Any, **kwargs: Any) -> None:
        await flush(*args, **kwargs)
        if failures:
            raise failures.pop()

    monkeypatch.setattr(engine.saver, "flush", flush_then_fail_once)
    assert await say(h, text(wa, "Northwind Traders", h.clock.now())) == [], "nothing committed, nothing sent"
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
    assert conversation.id is not None
    failed = await h.service.graph.aget_state(thread_config(conversation.id))
    before = len(h.fake_graph.sent)
    await h.service.tick()  # the sweep finds the pending message
    await engine.drain()
    after = await h.service.graph.aget_state(thread_config(conversation.id))
    assert after.values["customer_texts"].count("Northwind Traders") == 1
    assert after.values["fields"]["company_name"]["value"] == "Northwind Traders"
    replies = h.fake_graph.sent_texts()[before:]
    assert len(replies) == 1, replies
    async with h.service.sessions() as session:
        fresh = await session.get(Conversation, conversation.id)
    assert fresh is not None
    assert fresh.owner == "bot", "not handed off as unresolved"
    assert fresh.turns == 2
    assert await _inbound_turns(h) == [1, 2]
    return failed, after


async def test_a_turn_whose_commit_failed_leaves_no_graph_state_and_runs_once_more(
    h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed, after = await _commit_fails_once_after_the_checkpoint(h, monkeypatch)
    # The state is written in the turn's transaction, so the failed commit took it back.
    assert failed.values["turn"] == 1
    assert "Northwind Traders" not in failed.values["customer_texts"]
    assert after.values["turn"] == 2


@pytest.mark.postgres
async def test_a_turn_whose_commit_failed_leaves_no_graph_state_and_runs_once_more_on_postgres(
    pg_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed, after = await _commit_fails_once_after_the_checkpoint(pg_h, monkeypatch)
    # PostgreSQL's checkpoint is written in the turn's transaction too (`pg_checkpoints`): nothing
    # of the failed turn is left ahead of the database to replay.
    assert failed.values["turn"] == 1
    assert "Northwind Traders" not in failed.values["customer_texts"]
    assert after.values["turn"] == 2


async def test_a_checkpoint_found_ahead_of_the_database_is_committed_as_it_stands_not_run_again(
    h: TestHarness,
) -> None:
    # A checkpoint written on a saver's own connection before a crash (as PostgreSQL's were before
    # they joined the turn's transaction): its state already consumed the pending message.
    conversation_id = await _deliver_without_turn(h, "12025550317", "Hello")
    async with h.service.sessions() as session:
        message = (await session.execute(select(Message))).scalars().one()
    config = thread_config(conversation_id)
    reply = {"kind": "text", "text": "Hello! How can I help?", "agent": "responder"}
    await (await h.service.graph.get()).aupdate_state(
        config,
        {"consumed": [message.id], "turn": 1, "customer_texts": ["Hello"], "outgoing": [reply]},
        as_node="responder",
    )
    outcomes = await _engine(h, h.service.graph).run(conversation_id)
    assert [o.turn for o in outcomes] == [1]
    assert await _inbound_turns(h) == [1]
    state = await h.service.graph.aget_state(config)
    assert state.values["customer_texts"] == ["Hello"], "the graph did not run on the message again"
    assert h.fake_graph.sent_texts() == ["Hello! How can I help?"], "the stored run's reply is sent"


async def test_a_bot_reply_that_cannot_be_delivered_hands_the_conversation_to_a_human(h: TestHarness) -> None:
    h.fake_graph.fail_next(
        400,
        graph_error_body(131047, "Re-engagement message", details="more than 24 hours have passed"),
    )
    await say(h, text("12025550314", "Hello", h.clock.now()))
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
        failed = (
            (await session.execute(select(Message).where(col(Message.status) == "failed"))).scalars().all()
        )
    assert conversation.owner in ("queued", "human")
    assert conversation.handoff_reason == "ai_unavailable"
    assert [m.sender_type for m in failed] == ["bot"]
    detail = (await h.http.get(f"/api/conversations/{conversation.id}", headers=auth("demo-admin"))).json()
    types = [e["type"] for e in detail["events"]]
    assert EventType.SEND_FAILED in types
    assert EventType.HANDOFF in types
    handoff = next(e for e in detail["events"] if e["type"] == EventType.HANDOFF)
    assert "131047" in json.dumps(handoff), "the failure is shown to the rep"


async def test_a_reply_lost_to_a_network_outage_is_handed_off_with_a_reason_a_rep_can_read(
    h: TestHarness,
) -> None:
    h.service.client.backoff_scale = 0
    h.service.client.http.base_url = f"http://127.0.0.1:{free_port()}"  # nothing listens: refused
    assert await say(h, text("12025550317", "Hello", h.clock.now())) == [], "nothing could be sent"
    h.clock.advance(seconds=130)
    await h.service.tick()  # past the retry window: failed, and a human takes over
    await h.service.turns.drain()
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
    assert conversation.handoff_reason == "ai_unavailable"
    detail = (await h.http.get(f"/api/conversations/{conversation.id}", headers=auth("demo-admin"))).json()
    handoff = next(e for e in detail["events"] if e["type"] == EventType.HANDOFF)
    assert "could not be delivered: WhatsApp could not be reached (network error)" in json.dumps(handoff)
    failed = [e["description"] for e in detail["events"] if e["type"] == EventType.SEND_FAILED]
    assert failed, "the failed sends are in the context log"
    assert set(failed) == {"send failed: WhatsApp could not be reached (network error)"}
    async with browser(h) as client:
        await sign_in(client, "admin", "demo-admin")
        page = (await client.get(f"/conversations/{conversation.id}")).text
    assert "WhatsApp could not be reached (network error)" in page
    assert "ConnectError" not in page, "no exception name shown to a person"


async def test_a_reply_delivered_after_transient_errors_keeps_the_bot(h: TestHarness) -> None:
    h.service.client.backoff_scale = 0
    h.fake_graph.fail_next(500, graph_error_body(2, "Service temporarily unavailable"), times=2)
    sent = await say(h, text("12025550315", "Hello", h.clock.now()))
    assert sent, "retried (code 2 is temporary) and delivered"
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
    assert conversation.owner == "bot"


async def test_a_reply_graph_keeps_refusing_is_retried_later_then_handed_to_a_human(h: TestHarness) -> None:
    h.service.client.backoff_scale = 0
    h.fake_graph.fail_next(500, graph_error_body(2, "Service temporarily unavailable"), times=1000)
    assert await say(h, text("12025550316", "Hello", h.clock.now())) == [], "nothing delivered yet"
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
        reply = (
            (await session.execute(select(Message).where(col(Message.direction) == "outbound")))
            .scalars()
            .one()
        )
    assert conversation.owner == "bot", "Graph may be back soon: not handed off yet"
    assert reply.status == "sending", "kept for a later attempt"
    tried = len(h.fake_graph.requests)
    h.clock.advance(seconds=10)
    await h.service.tick()  # the relay tries again once the wait has passed
    assert len(h.fake_graph.requests) > tried
    h.clock.advance(seconds=120)
    await h.service.tick()  # past the retry window: failed, and a human takes over
    await h.service.turns.drain()
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
        failed = await session.get(Message, reply.id)
    assert failed is not None
    assert failed.status == "failed"
    assert conversation.owner != "bot"
    assert conversation.handoff_reason == "ai_unavailable"


async def _outbound(h: TestHarness) -> Message:
    async with h.service.sessions() as session:
        rows = await session.execute(select(Message).where(col(Message.direction) == "outbound"))
        return rows.scalars().one()


async def test_a_reply_kept_for_a_retry_goes_out_at_its_mark_without_the_background_pass(
    h: TestHarness,
) -> None:
    client = h.service.client
    client.backoff_scale = 0
    h.fake_graph.fail_next(
        500, graph_error_body(2, "Service temporarily unavailable"), times=client.max_attempts
    )
    assert await say(h, text("12025550317", "Hello", h.clock.now())) == [], "Graph refused every attempt"
    reply = await _outbound(h)
    assert reply.status == "sending"
    assert reply.error is not None
    assert reply.error["retry_in_s"] == 2.0
    assert h.service.turns.retries.pending() == {reply.conversation_id}
    h.clock.advance(seconds=2.5)  # the claim lapses by the service's clock; its timer fires ~2 s from now
    for _ in range(200):  # nothing calls `tick`: only the retry's own timer can send it
        if (await _outbound(h)).status != "sending":
            break
        await asyncio.sleep(0.05)
    sent = await _outbound(h)
    assert sent.status == "accepted", sent.error
    assert len(h.fake_graph.sent) == 1
    assert h.service.turns.retries.pending() == set()


def _limited(h: TestHarness, *, slots: int, admitted: int | None = None) -> TurnEngine:
    """The service's turn engine with a short burst window, `slots` turn slots and (if given)
    `admitted` conversations holding a lease at once."""
    engine = h.service.turns
    engine.burst_window_s = 0.05
    engine._slots = asyncio.Semaphore(slots)
    if admitted is not None:
        engine._admitted = GroupAdmission(admitted, group=LEASE_GROUP)
    return engine


async def _hellos(h: TestHarness, customers: list[str]) -> None:
    for wa in customers:
        assert (await h.post(text(wa, "Hello", h.clock.now()))).status_code == 200


def _answered(h: TestHarness) -> list[str]:
    """The customers the bot sent to, in the order of its sends."""
    return [m["json"]["to"].lstrip("+") for m in h.fake_graph.sent]


async def _customers_of(h: TestHarness, conversation_ids: list[int]) -> list[str]:
    """The customers of `conversation_ids`, in that order. Tests of the order of turns compare
    these rather than `_answered`: a reply goes out after its turn has let the next one start, so
    on a busy host two sends may finish in either order."""
    async with h.service.sessions() as session:
        rows = await session.execute(select(col(Conversation.id), col(Contact.wa_id)).join(Contact))
    customer_of = {cid: str(wa_id) for cid, wa_id in rows.all()}
    return [customer_of[cid] for cid in conversation_ids]


async def test_turns_beyond_the_concurrency_limit_wait_their_slot_and_all_are_answered(
    h: TestHarness,
) -> None:
    engine = _limited(h, slots=2)
    running, most = 0, 0
    one_turn = engine._one_turn

    async def observed(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await asyncio.sleep(0.02)  # long enough for the other scheduled turns to pile up
            return await one_turn(*args, **kwargs)
        finally:
            running -= 1

    engine._one_turn = observed  # type: ignore[method-assign]
    customers = [f"1202555{n:04d}" for n in range(12)]
    await _hellos(h, customers)
    await engine.drain()
    assert most == 2, f"{most} turns ran the graph at once"
    assert sorted(_answered(h)) == sorted(customers), "every customer answered once"


async def test_a_backlog_beyond_the_admitted_conversations_waits_without_leases_and_is_answered_in_order(
    h: TestHarness,
) -> None:
    engine = _limited(h, slots=1, admitted=3)
    leased_at_each_turn: list[int] = []
    turns_of: list[int] = []
    one_turn = engine._one_turn

    async def observed(conversation_id: int, *args: Any, **kwargs: Any) -> Any:
        turns_of.append(conversation_id)
        async with h.service.sessions() as session:
            leased = await session.execute(
                select(col(Conversation.id)).where(col(Conversation.lease_owner).is_not(None))
            )
            leased_at_each_turn.append(len(leased.all()))
        await asyncio.sleep(0.02)  # long enough for the other scheduled conversations to pile up
        return await one_turn(conversation_id, *args, **kwargs)

    engine._one_turn = observed  # type: ignore[method-assign]
    customers = [f"1202556{n:04d}" for n in range(10)]
    await _hellos(h, customers)
    await engine.drain()

    assert len(leased_at_each_turn) == len(customers)
    assert max(leased_at_each_turn) == 3, "the waiting conversations held no lease"
    assert await _customers_of(h, turns_of) == customers, "turns in the order they wrote"
    assert sorted(_answered(h)) == customers, "each customer answered once"
    async with h.service.sessions() as session:
        left = await session.execute(
            select(col(Conversation.id)).where(col(Conversation.lease_owner).is_not(None))
        )
        assert left.all() == [], "every lease released"


async def test_conversations_scheduled_in_order_come_out_of_their_burst_window_in_order_when_one_is_held_up(
    h: TestHarness,
) -> None:
    # One conversation's task is held up between reading the clock and setting its timer (another
    # task ran, or the process was descheduled); it still reaches the admission before those
    # scheduled after it, so the customers are answered in the order they wrote.
    engine = _limited(h, slots=1)
    engine.burst_window_s = engine.burst_quiet_s = 0.05
    came_out: list[int] = []
    clock, run = engine._clock, engine.run
    reads: dict[int, int] = {}

    async def recorded(conversation_id: int, **kwargs: Any) -> Any:
        came_out.append(conversation_id)
        return await run(conversation_id, **kwargs)

    def held_up_clock() -> float:
        now = clock()
        task = asyncio.current_task()
        name = task.get_name() if task is not None else ""
        reads[id(task)] = reads.get(id(task), 0) + 1
        if name == "held-up" and reads[id(task)] == 1:
            time.sleep(0.02)
        return now

    engine.run = recorded  # type: ignore[method-assign]
    engine._clock = held_up_clock  # type: ignore[method-assign]
    await h.service.graph.get()  # loaded: the first turns do not wait for it after their window
    for conversation_id in range(1, 6):
        engine.schedule(conversation_id)
    engine._tasks[2].set_name("held-up")
    await engine.drain()
    assert came_out == [1, 2, 3, 4, 5]


async def test_a_sweep_while_a_backlog_waits_runs_no_conversation_twice(h: TestHarness) -> None:
    engine = _limited(h, slots=1, admitted=2)
    runs: list[int] = []
    run, one_turn = engine.run, engine._one_turn
    swept = asyncio.Event()

    async def counted(conversation_id: int, **kwargs: Any) -> Any:
        runs.append(conversation_id)
        return await run(conversation_id, **kwargs)

    async def held(*args: Any, **kwargs: Any) -> Any:
        await swept.wait()  # the first turn holds the slot until the sweep has run
        return await one_turn(*args, **kwargs)

    engine.run = counted  # type: ignore[method-assign]
    engine._one_turn = held  # type: ignore[method-assign]
    await h.service.graph.get()  # loaded: the turns wait for their admission, not for the graph
    customers = [f"1202557{n:04d}" for n in range(8)]
    await _hellos(h, customers)
    for _ in range(100):  # every conversation's task in `run`: two admitted, six waiting
        if len(runs) == len(customers):
            break
        await asyncio.sleep(0.02)
    assert await engine.sweep() == 6, "the waiting ones are pending, their lease free"
    swept.set()
    await engine.drain()

    assert len(runs) == len(customers), "each conversation read and run once, the sweep's finds included"
    assert sorted(_answered(h)) == sorted(customers)


async def test_a_backlogs_leases_are_taken_and_its_turns_read_a_group_at_a_time(h: TestHarness) -> None:
    engine = _limited(h, slots=1, admitted=4)  # admitted in groups of four once some wait
    one_turn = engine._one_turn
    turns_of: list[int] = []

    async def slow(conversation_id: int, *args: Any, **kwargs: Any) -> Any:
        turns_of.append(conversation_id)
        await asyncio.sleep(0.02)  # long enough for the other scheduled conversations to pile up
        return await one_turn(conversation_id, *args, **kwargs)

    engine._one_turn = slow  # type: ignore[method-assign]
    customers = [f"1202558{n:04d}" for n in range(12)]
    with counting(h) as statements:
        await _hellos(h, customers)
        await engine.drain()

    claims = [
        s for s in statements if s.startswith("UPDATE conversation SET lease_owner") and "lease_until <" in s
    ]
    assert len(claims) <= len(customers) // 2, (
        f"{len(claims)} lease claims for {len(customers)} conversations"
    )
    assert await _customers_of(h, turns_of) == customers, "turns in the order they wrote"
    assert sorted(_answered(h)) == customers, "each customer answered once"
    async with h.service.sessions() as session:
        left = await session.execute(
            select(col(Conversation.id)).where(col(Conversation.lease_owner).is_not(None))
        )
        assert left.all() == [], "every lease released"


@pytest.mark.postgres
async def test_a_group_passes_over_a_conversation_another_transaction_holds_and_it_is_taken_alone(
    pg_h: TestHarness,
) -> None:
    engine = pg_h.service.turns
    engine.burst_window_s = 0
    await _hellos(pg_h, ["12025559001", "12025559002"])
    await engine.drain()
    async with pg_h.service.sessions() as session:
        held_id, free_id = sorted(
            i for i in (await session.execute(select(col(Conversation.id)))).scalars() if i is not None
        )

    async with pg_h.service.sessions() as holder, holder.begin():
        # Another transaction holds the first conversation's row (a message being stored for it).
        await holder.execute(
            select(col(Conversation.id))
            .where(col(Conversation.id) == held_id)
            .with_for_update(key_share=True)
        )
        found = await asyncio.wait_for(engine._lease_group([held_id, free_id]), 5)
        assert set(found) == {free_id}, "the held conversation passed over, not waited for"
        waiting = asyncio.create_task(engine._lease_and_read(held_id))
        await asyncio.sleep(0.2)
        assert not waiting.done(), "taken alone: it waits for the row, as a single lease does"
    leased = await asyncio.wait_for(waiting, 5)
    assert leased.taken
    async with pg_h.service.sessions() as session:
        owners = {c.id: c.lease_owner for c in (await session.execute(select(Conversation))).scalars()}
    assert owners == {held_id: engine.worker_id, free_id: engine.worker_id}

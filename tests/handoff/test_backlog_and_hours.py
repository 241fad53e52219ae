"""A backlog is drained fairly across the reps as they come in; outside opening hours conversations
are held (the customer is told when the team is back) and released fairly at opening."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import col

from handoff.flows_rep import heartbeat, set_presence, transfer
from orchestrator.core.enums import EventType, Owner, Presence, TimerKind
from orchestrator.core.tables import Message
from orchestrator.runtime.replay import harness
from tests.factories import auth, button, say, text
from tests.fakes.graph import FakeGraphAPI
from tests.handoff.conftest import World, WorldFactory, configured

# Tuesday 2026-11-24; London is on UTC in November. Finance (billing) opens 09:00-17:30.
NIGHT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
OPENING = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def _come_online(world: World, rep: str) -> None:
    await world.act(set_presence, config=world.config, rep_id=rep, presence=Presence.ONLINE)


async def test_backlog_is_spread_across_reps_as_they_log_in_not_given_to_the_first(world: World) -> None:
    reps = ["amy", "ben", "cat"]
    for rep in reps:
        await world.add_rep(rep, "support", presence=Presence.OFFLINE, capacity=5)
    backlog = [await world.handoff(choice="support") for _ in range(6)]
    assert all(r.outcome.rep is None for r in backlog)
    world.advance(seconds=5)
    await _come_online(world, "amy")
    # Burst of 2 per window: amy, first in, does not take the whole backlog (she has room for 5).
    assert await world.load(reps) == {"amy": 2, "ben": 0, "cat": 0}
    world.advance(seconds=10)
    await _come_online(world, "ben")
    world.advance(seconds=10)
    await _come_online(world, "cat")
    assert await world.load(reps) == {"amy": 2, "ben": 2, "cat": 2}
    assert [await world.owner_of(r.context.conversation_id) for r in backlog[:2]] == ["amy", "amy"]


async def test_rest_of_a_backlog_goes_round_robin_when_the_next_window_opens(world: World) -> None:
    reps = ["amy", "ben", "cat"]
    for rep in reps:
        await world.add_rep(rep, "support", presence=Presence.OFFLINE)
    for _ in range(9):
        await world.handoff(choice="support")
    for rep in reps:
        world.advance(seconds=5)
        await _come_online(world, rep)
    assert await world.load(reps) == {"amy": 2, "ben": 2, "cat": 2}
    world.advance(seconds=10)
    await world.tick()  # same window: everyone is paced
    assert await world.load(reps) == {"amy": 2, "ben": 2, "cat": 2}
    paced = await world.events(type=EventType.ASSIGNED)
    assert all(e.details and e.details["backlog"] for e in paced)
    world.advance(seconds=60)
    report = await world.tick()
    assert report.drained == 3
    assert await world.load(reps) == {"amy": 3, "ben": 3, "cat": 3}


async def test_paced_rep_is_recorded_as_skipped_with_the_reason(world: World) -> None:
    await world.add_rep("amy", "support", presence=Presence.OFFLINE)
    await world.add_rep("ben", "support", presence=Presence.OFFLINE)
    for _ in range(3):
        await world.handoff(choice="support")
    await _come_online(world, "amy")
    await _come_online(world, "ben")
    last = (await world.events(type=EventType.ASSIGNED))[-1]
    assert last.details is not None
    assert last.details["rep_id"] == "ben"
    amy = next(c for c in last.details["candidates"] if c["rep_id"] == "amy")
    assert amy["skipped"] == "paced: took 2 waiting conversations in this 60s window"


async def test_after_hours_handoff_is_held_and_the_customer_told_when_the_team_is_back(
    make_world: WorldFactory,
) -> None:
    world = await make_world(at=NIGHT)
    await world.add_rep("farah", "billing")  # online, but the queue is closed
    result = await world.handoff(choice="billing")
    conversation_id = result.context.conversation_id
    assert result.outcome.held
    assert result.outcome.rep is None
    assert result.outcome.opens_at == OPENING
    assert "closed right now" in result.customer_text
    assert "back today, 9:00" in result.customer_text  # NIGHT is early on Tuesday: the team opens that day
    conversation = await world.conversation(conversation_id)
    assert (conversation.owner, conversation.assignee_id, conversation.queue) == (
        Owner.QUEUED,
        None,
        "billing",
    )
    (held,) = await world.events(conversation_id, EventType.HELD_AFTER_HOURS)
    assert held.details == {"queue": "billing", "opens_at": OPENING.isoformat()}
    (timer,) = await world.timers(TimerKind.QUEUE_OPEN)
    assert timer.due_at == OPENING
    # A second held conversation does not schedule a second opening.
    await world.handoff(choice="billing")
    assert len(await world.timers(TimerKind.QUEUE_OPEN)) == 1
    # Before opening nothing moves, even with a rep online.
    world.clock.set(datetime(2026, 11, 24, 8, 59, tzinfo=UTC))
    await world.tick()
    assert await world.owner_of(conversation_id) is None


async def test_a_transfer_to_a_closed_team_tells_the_customer_when_it_is_back(
    make_world: WorldFactory,
) -> None:
    world = await make_world(at=NIGHT)
    await world.add_rep("tara", "support")  # support is always open
    await world.add_rep("farah", "billing")  # online, but billing is closed until 09:00
    result = await world.handoff(choice="support")
    conversation_id = result.context.conversation_id
    tara = await world.rep("tara")
    moved = await world.act(
        transfer,
        config=world.config,
        conversation_id=conversation_id,
        actor=tara,
        to_queue="billing",
        note=None,
    )
    assert (moved.queue, moved.rep_id) == ("billing", None)
    async with world.sessions() as session:
        told = (
            (
                await session.execute(
                    select(Message)
                    .where(
                        col(Message.conversation_id) == conversation_id, col(Message.direction) == "outbound"
                    )
                    .order_by(col(Message.id))
                )
            )
            .scalars()
            .all()
        )
    last = told[-1].text or ""
    assert "passed your conversation to our Finance team" in last
    assert "closed right now" in last
    assert "back today, 9:00" in last
    assert "They'll reply here." not in last


async def test_held_conversations_are_released_at_opening_fairly_as_reps_log_in(
    make_world: WorldFactory,
) -> None:
    world = await make_world(at=NIGHT)
    reps = ["farah", "marc", "nina"]
    for rep in reps:
        await world.add_rep(rep, "billing", presence=Presence.OFFLINE, capacity=5)
    held = []
    for _ in range(6):
        held.append(await world.handoff(choice="billing"))
        world.advance(minutes=10)
    world.clock.set(datetime(2026, 11, 24, 8, 55, tzinfo=UTC))
    await _come_online(world, "farah")  # early: the queue is still closed
    assert await world.load(reps) == {"farah": 0, "marc": 0, "nina": 0}
    world.clock.set(OPENING)
    await world.heartbeat("farah")
    report = await world.tick()
    assert [f.kind for f in report.fired] == [TimerKind.QUEUE_OPEN]
    assert await world.load(reps) == {"farah": 2, "marc": 0, "nina": 0}
    world.advance(seconds=20)
    await _come_online(world, "marc")
    world.advance(seconds=20)
    await _come_online(world, "nina")
    assert await world.load(reps) == {"farah": 2, "marc": 2, "nina": 2}
    # Oldest first: the first two held conversations went to the first rep in.
    assert [await world.owner_of(r.context.conversation_id) for r in held[:2]] == ["farah", "farah"]
    assert (await world.timers(TimerKind.QUEUE_OPEN))[0].fired_at == OPENING


async def test_sla_clock_pauses_while_the_queue_is_closed(make_world: WorldFactory) -> None:
    world = await make_world(at=datetime(2026, 11, 24, 17, 20, tzinfo=UTC))  # billing closes 17:30
    await world.add_rep("farah", "billing")
    await world.add_rep("marc", "billing")
    result = await world.handoff(choice="billing")
    conversation_id = result.context.conversation_id
    owner = await world.owner_of(conversation_id)
    (assignment,) = await world.assignments(conversation_id)
    # 10 minutes count today, the other 5 from Wednesday's opening.
    assert assignment.sla_due_at == datetime(2026, 11, 25, 9, 5, tzinfo=UTC)
    world.clock.set(datetime(2026, 11, 24, 17, 40, tzinfo=UTC))
    await world.heartbeat("farah", "marc")
    await world.tick()
    assert await world.owner_of(conversation_id) == owner
    world.clock.set(datetime(2026, 11, 25, 9, 4, 59, tzinfo=UTC))
    await world.heartbeat("farah", "marc")
    await world.tick()
    assert await world.owner_of(conversation_id) == owner
    world.advance(seconds=1)
    await world.tick()
    assert await world.owner_of(conversation_id) not in (owner, None)


async def test_after_hours_customer_is_told_and_served_at_opening_through_the_service(
    sqlite_url: str, fake_graph: FakeGraphAPI, graph_api_url: str
) -> None:
    async with harness(
        database_url=sqlite_url,
        config=configured(),
        at=NIGHT,
        migrate=False,
        fake_graph=fake_graph,
        graph_api_url=graph_api_url,
    ) as h:
        wa = "447700900999"
        await say(h, text(wa, "Hello", h.clock.now()))
        sent = await say(h, button(wa, "menu_billing", "Billing", h.clock.now()))
        assert any("closed right now" in s and "back today, 9:00" in s for s in sent), sent
        (listed,) = (await h.http.get("/api/conversations", headers=auth("demo-admin"))).json()
        assert (listed["owner"], listed["assignee_id"]) == ("queued", None)
        h.clock.set(OPENING)
        async with h.service.sessions() as session, session.begin():
            for rep in ("farah", "marc"):  # the Finance team's clients are up at opening
                await heartbeat(session, config=h.service.config, rep_id=rep, at=OPENING)
        await h.service.tick()
        detail = (await h.http.get(f"/api/conversations/{listed['id']}", headers=auth("demo-admin"))).json()
        assert detail["owner"] == "human"
        assert detail["assignee_id"] in {"farah", "marc"}

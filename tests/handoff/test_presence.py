"""Presence: a heartbeat that expires to offline, and offline reps losing their conversations after
`timers.offline` (back to the queue, to the next rep) unless the queue's policy keeps them."""

from __future__ import annotations

from datetime import timedelta

from handoff.flows_rep import rep_reply, set_presence
from orchestrator.core.enums import (
    AssignmentStatus,
    EndReason,
    EventType,
    HandoffReason,
    Owner,
    Presence,
    TimerKind,
)
from tests.handoff.conftest import World, WorldFactory, configured


async def test_missed_heartbeats_turn_a_rep_offline(world: World) -> None:
    await world.add_rep("tara", "support")
    seen = world.now()
    world.advance(seconds=89)
    assert (await world.tick()).expired == []
    world.advance(seconds=2)
    assert (await world.tick()).expired == ["tara"]
    tara = await world.rep("tara")
    assert tara.presence == Presence.OFFLINE
    assert tara.offline_since == seen + timedelta(seconds=90)
    assert tara.expired_presence == Presence.ONLINE
    (timer,) = await world.timers(TimerKind.OFFLINE)
    assert timer.due_at == seen + timedelta(seconds=90, minutes=10)
    # Another pass (another process) does not expire her twice.
    assert (await world.tick()).expired == []


async def test_heartbeat_brings_an_expired_rep_back_with_waiting_work(world: World) -> None:
    await world.add_rep("tara", "support")
    world.advance(minutes=2)
    await world.tick()
    waiting = await world.handoff(choice="support")
    assert waiting.outcome.rep is None
    await world.heartbeat("tara")
    tara = await world.rep("tara")
    assert (tara.presence, tara.offline_since, tara.expired_presence) == (Presence.ONLINE, None, None)
    assert await world.owner_of(waiting.context.conversation_id) == "tara"


async def test_heartbeat_does_not_bring_back_a_rep_who_chose_offline(world: World) -> None:
    await world.add_rep("tara", "support")
    await world.act(set_presence, config=world.config, rep_id="tara", presence=Presence.OFFLINE)
    await world.heartbeat("tara")
    assert (await world.rep("tara")).presence == Presence.OFFLINE


async def test_rep_offline_for_too_long_loses_conversations_to_the_next_rep(world: World) -> None:
    await world.add_rep("tara", "support")
    first = await world.handoff(choice="support")
    second = await world.handoff(choice="support")
    ids = [first.context.conversation_id, second.context.conversation_id]
    for conversation_id in ids:
        await world.act(rep_reply, conversation_id=conversation_id, rep=await world.rep("tara"), text="hello")
    await world.add_rep("diego", "support")
    # tara's client goes quiet; diego's keeps beating.
    for _ in range(12):
        world.advance(minutes=1)
        await world.heartbeat("diego")
        await world.tick()
    assert [await world.owner_of(i) for i in ids] == ["diego", "diego"]
    for conversation_id in ids:
        revoked, moved = await world.assignments(conversation_id)
        assert (revoked.rep_id, revoked.status, revoked.end_reason) == (
            "tara",
            AssignmentStatus.REVOKED,
            EndReason.OFFLINE,
        )
        assert (moved.rep_id, moved.status, moved.reason) == ("diego", AssignmentStatus.ACTIVE, "offline")
        (event,) = await world.events(conversation_id, EventType.ASSIGNMENT_REVOKED)
        assert event.details is not None
        assert (event.details["rep_id"], event.details["reason"]) == ("tara", "offline")
    assert await world.load(["tara", "diego"]) == {"tara": 0, "diego": 2}


async def test_conversations_of_an_offline_rep_wait_in_the_queue_when_nobody_can_take_them(
    world: World,
) -> None:
    await world.add_rep("tara", "support")
    result = await world.handoff(choice="support")
    await world.act(set_presence, config=world.config, rep_id="tara", presence=Presence.OFFLINE)
    world.advance(minutes=10)
    await world.tick()
    conversation = await world.conversation(result.context.conversation_id)
    assert (conversation.owner, conversation.assignee_id) == (Owner.QUEUED, None)
    # It keeps its place in the queue: waiting since the handoff, not since the requeue.
    assert conversation.waiting_since == conversation.handed_off_at


async def test_offline_policy_keep_leaves_conversations_with_the_rep(make_world: WorldFactory) -> None:
    config = configured()
    queues = [q.model_dump() for q in config.queues]
    for q in queues:
        if q["slug"] == "support":
            q["offline_policy"] = "keep"
    world = await make_world(configured(queues=queues))
    await world.add_rep("tara", "support")
    await world.add_rep("diego", "support")
    result = await world.handoff(choice="support")
    owner = result.outcome.rep.id if result.outcome.rep else None
    await world.act(
        rep_reply,
        conversation_id=result.context.conversation_id,
        rep=await world.rep(str(owner)),
        text="on it",
    )
    await world.act(set_presence, config=world.config, rep_id=str(owner), presence=Presence.OFFLINE)
    world.advance(minutes=11)
    await world.heartbeat("tara", "diego")
    report = await world.tick()
    assert [f.result for f in report.fired if f.kind == TimerKind.OFFLINE] == ["0 conversations moved"]
    assert await world.owner_of(result.context.conversation_id) == owner


async def test_rep_back_online_before_the_deadline_keeps_conversations(world: World) -> None:
    await world.add_rep("tara", "support")
    await world.add_rep("diego", "support")
    result = await world.handoff(choice="support")
    owner = str(await world.owner_of(result.context.conversation_id))
    await world.act(
        rep_reply, conversation_id=result.context.conversation_id, rep=await world.rep(owner), text="hi"
    )
    await world.act(set_presence, config=world.config, rep_id=owner, presence=Presence.OFFLINE)
    world.advance(minutes=5)
    await world.act(set_presence, config=world.config, rep_id=owner, presence=Presence.ONLINE)
    world.advance(minutes=6)
    await world.heartbeat("tara", "diego")
    await world.tick()
    assert await world.owner_of(result.context.conversation_id) == owner
    (timer,) = await world.timers(TimerKind.OFFLINE)
    assert timer.cancelled_at is not None
    assert [a.action for a in await world.audit() if a.action == "presence"] == ["presence", "presence"]


async def test_a_rep_back_after_a_heartbeat_gap_gets_their_own_waiting_customer_back_first(
    make_world: WorldFactory,
) -> None:
    # Upset customers jump the waiting queue: without a preference, Tara's one free place on her
    # return would go to the frustrated newcomer, and her own customer would wait for someone else.
    world = await make_world(configured(routing={"reason_priority": {"frustration": 1}}))
    await world.add_rep("tara", "support", capacity=1)
    own = await world.handoff(choice="support")
    assert own.outcome.rep is not None
    upset = await world.handoff(choice="support", reason=HandoffReason.FRUSTRATION)
    assert upset.outcome.rep is None, "Tara is at capacity: the newcomer waits"
    # Tara's laptop sleeps: her heartbeat expires, and after the offline timer her customer goes
    # back to the queue, where nobody can take it.
    for _ in range(12):
        world.advance(minutes=1)
        await world.tick()
    assert (await world.rep("tara")).presence == Presence.OFFLINE
    assert await world.owner_of(own.context.conversation_id) is None
    await world.heartbeat("tara")
    assert await world.owner_of(own.context.conversation_id) == "tara"
    assert await world.owner_of(upset.context.conversation_id) is None
    (back,) = [
        a for a in await world.assignments(own.context.conversation_id) if a.status == AssignmentStatus.ACTIVE
    ]
    assert back.rep_id == "tara"


async def test_a_returning_rep_does_not_get_back_what_a_colleague_took_meanwhile(world: World) -> None:
    await world.add_rep("tara", "support")
    own = await world.handoff(choice="support")
    for _ in range(12):
        world.advance(minutes=1)
        await world.tick()
    assert await world.owner_of(own.context.conversation_id) is None
    await world.add_rep("diego", "support")
    await world.heartbeat("diego")
    await world.tick()  # the background drain gives Diego, online, the waiting customer
    assert await world.owner_of(own.context.conversation_id) == "diego"
    await world.heartbeat("tara")
    assert await world.owner_of(own.context.conversation_id) == "diego"
    assert await world.load(["tara", "diego"]) == {"tara": 0, "diego": 1}

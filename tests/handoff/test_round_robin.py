"""Round robin among eligible members, skip reasons recorded, and the waiting queue."""

from __future__ import annotations

from handoff.flows_rep import resolve, set_auto_assign, set_presence
from orchestrator.core.enums import AssignmentStatus, EventType, HandoffReason, Owner, Presence
from tests.handoff.conftest import World, WorldFactory, configured


async def _support(world: World, n: int) -> list[str | None]:
    owners = []
    for _ in range(n):
        result = await world.handoff(choice="support")
        owners.append(result.outcome.rep.id if result.outcome.rep else None)
        world.advance(seconds=1)
    return owners


async def test_round_robin_gives_each_conversation_to_the_rep_whose_last_assignment_is_oldest(
    world: World,
) -> None:
    for rep in ("tara", "diego", "lena"):
        await world.add_rep(rep, "support")
    assert await _support(world, 6) == ["diego", "lena", "tara", "diego", "lena", "tara"]


async def test_round_robin_prefers_a_rep_never_assigned_in_this_queue(world: World) -> None:
    await world.add_rep("tara", "support")
    await world.add_rep("diego", "support")
    assert await _support(world, 2) == ["diego", "tara"]
    await world.add_rep("ana", "support")  # joins later: her turn comes first
    assert await _support(world, 1) == ["ana"]


async def test_round_robin_breaks_ties_by_rep_id(make_world: WorldFactory) -> None:
    world = await make_world()
    for rep in ("zoe", "bob", "max"):
        await world.add_rep(rep, "support")
    assert await _support(world, 3) == ["bob", "max", "zoe"]


async def test_round_robin_skips_away_busy_offline_and_opted_out_reps_and_records_why(world: World) -> None:
    await world.add_rep("amy", "support", presence=Presence.AWAY)
    await world.add_rep("ben", "support", presence=Presence.BUSY)
    await world.add_rep("cal", "support", presence=Presence.OFFLINE)
    await world.add_rep("dan", "support", auto_assign=False)
    await world.add_rep("eve", "support")
    result = await world.handoff(choice="support")
    assert result.outcome.rep is not None
    assert result.outcome.rep.id == "eve"
    stored = (await world.assignments(result.context.conversation_id))[0].candidates
    assert stored is not None
    why = {c["rep_id"]: c["skipped"] for c in stored}
    assert why == {
        "amy": "presence away",
        "ben": "presence busy",
        "cal": "presence offline",
        "dan": "opted out of auto-assignment",
        "eve": None,
    }
    assigned = await world.events(result.context.conversation_id, EventType.ASSIGNED)
    assert assigned[0].details is not None
    assert assigned[0].details["candidates"] == stored


async def test_round_robin_skips_rep_at_capacity(world: World) -> None:
    await world.add_rep("tara", "support", capacity=1)
    await world.add_rep("diego", "support", capacity=3)
    owners = await _support(world, 3)
    assert owners == ["diego", "tara", "diego"]
    third = (await world.assignments(world.results[2].context.conversation_id))[0]
    assert third.candidates is not None
    tara = next(c for c in third.candidates if c["rep_id"] == "tara")
    assert tara["skipped"] == "at capacity (1/1)"
    assert await world.load(["tara", "diego"]) == {"tara": 1, "diego": 2}


async def test_conversation_waits_when_nobody_is_eligible_and_goes_to_the_first_rep_online(
    world: World,
) -> None:
    await world.add_rep("tara", "support", presence=Presence.AWAY)
    result = await world.handoff(choice="support")
    conversation_id = result.context.conversation_id
    assert result.outcome.rep is None
    assert "busy right now" in result.customer_text
    conversation = await world.conversation(conversation_id)
    assert (conversation.owner, conversation.assignee_id) == (Owner.QUEUED, None)
    assert [e.type for e in await world.events(conversation_id, EventType.WAITING)] == [EventType.WAITING]
    world.advance(minutes=3)
    await world.act(set_presence, config=world.config, rep_id="tara", presence=Presence.ONLINE)
    conversation = await world.conversation(conversation_id)
    assert (conversation.owner, conversation.assignee_id) == (Owner.HUMAN, "tara")
    (assignment,) = await world.assignments(conversation_id)
    assert assignment.status == AssignmentStatus.ACTIVE
    assert assignment.assigned_at == world.now()


async def test_resolving_frees_capacity_for_the_next_waiting_conversation(world: World) -> None:
    await world.add_rep("tara", "support", capacity=1)
    first = await world.handoff(choice="support")
    second = await world.handoff(choice="support")
    assert second.outcome.rep is None
    tara = await world.rep("tara")
    await world.act(resolve, conversation_id=first.context.conversation_id, actor=tara, config=world.config)
    assert (await world.conversation(first.context.conversation_id)).owner == Owner.CLOSED
    assert await world.owner_of(second.context.conversation_id) == "tara"
    assert (await world.rep("tara")).open_count == 1


async def test_opting_back_in_to_auto_assignment_takes_waiting_conversations(world: World) -> None:
    await world.add_rep("tara", "support", auto_assign=False)
    waiting = await world.handoff(choice="support")
    assert waiting.outcome.rep is None
    await world.act(set_auto_assign, config=world.config, rep_id="tara", enabled=True)
    assert await world.owner_of(waiting.context.conversation_id) == "tara"
    assert [a.action for a in await world.audit()] == ["auto_assign"]


async def test_newcomer_queues_behind_conversations_already_waiting(world: World) -> None:
    await world.add_rep("tara", "support", capacity=1)
    busy = await world.handoff(choice="support")
    waiting = await world.handoff(choice="support")
    # Capacity freed by a path that does not drain (the next background pass would).
    await world.act(resolve, conversation_id=busy.context.conversation_id, actor=await world.rep("tara"))
    assert await world.owner_of(waiting.context.conversation_id) is None
    newcomer = await world.handoff(choice="support")
    assert await world.owner_of(waiting.context.conversation_id) == "tara"
    assert newcomer.outcome.rep is None
    # The backlog it joined was handed out before it: nobody waits ahead of it now.
    (event,) = await world.events(newcomer.context.conversation_id, EventType.WAITING)
    assert event.description == "first in line in support; waiting for a rep who is free"
    later = await world.handoff(choice="support")
    (event,) = await world.events(later.context.conversation_id, EventType.WAITING)
    assert event.description == "others are waiting in support; queued behind them"


async def test_fifo_waiting_queue_serves_the_oldest_handoff_first(world: World) -> None:
    await world.add_rep("tara", "support", presence=Presence.AWAY, capacity=1)
    older = await world.handoff(choice="support")
    world.advance(minutes=1)
    newer = await world.handoff(choice="support")
    await world.act(set_presence, config=world.config, rep_id="tara", presence=Presence.ONLINE)
    assert await world.owner_of(older.context.conversation_id) == "tara"
    assert await world.owner_of(newer.context.conversation_id) is None


async def test_higher_priority_waiting_conversation_is_served_first(make_world: WorldFactory) -> None:
    world = await make_world(configured(routing={"reason_priority": {"frustration": 3}}))
    await world.add_rep("gus", "general", presence=Presence.AWAY, capacity=1)
    calm = await world.handoff(reason=HandoffReason.UNRESOLVED)
    world.advance(minutes=5)
    upset = await world.handoff(reason=HandoffReason.FRUSTRATION)
    assert (await world.conversation(upset.context.conversation_id)).priority == 3
    await world.act(set_presence, config=world.config, rep_id="gus", presence=Presence.ONLINE)
    assert await world.owner_of(upset.context.conversation_id) == "gus"
    assert await world.owner_of(calm.context.conversation_id) is None

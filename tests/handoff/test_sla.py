"""SLA revocation: no rep reply within N minutes -> revoked, next rep; after `max_revocations` the
queue's team lead; if the lead does not answer either, the catch-all queue."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import col

from handoff.errors import NotOwner
from handoff.flows_rep import rep_reply, set_presence
from orchestrator.core.enums import (
    AssignmentStatus,
    Direction,
    EndReason,
    EventType,
    Owner,
    Presence,
    Role,
    TimerKind,
)
from orchestrator.core.tables import Message
from tests.handoff.conftest import World, WorldFactory, configured

REPS = ("tara", "diego", "lena", "gus")


async def _team(world: World, *, lead_presence: Presence = Presence.ONLINE) -> None:
    """Support: tara and diego; lena leads support (opted out of round robin); gus is the catch-all."""
    await world.add_rep("tara", "support")
    await world.add_rep("diego", "support")
    await world.add_rep("lena", "support", role=Role.LEAD, auto_assign=False, presence=lead_presence)
    await world.add_rep("gus", "general")


async def _minutes_later(world: World, minutes: float) -> None:
    world.advance(minutes=minutes)
    await world.heartbeat(*REPS)
    await world.tick()


async def test_unanswered_assignment_is_revoked_and_goes_to_the_next_rep(world: World) -> None:
    await _team(world)
    result = await world.handoff(choice="support")
    conversation_id = result.context.conversation_id
    assert result.outcome.rep is not None
    assert result.outcome.rep.id == "diego"
    await _minutes_later(world, 14.9)
    assert await world.owner_of(conversation_id) == "diego"
    await _minutes_later(world, 0.1)
    assert await world.owner_of(conversation_id) == "tara"
    first, second = await world.assignments(conversation_id)
    assert (first.status, first.end_reason, first.rep_id) == (
        AssignmentStatus.REVOKED,
        EndReason.SLA,
        "diego",
    )
    assert first.sla_breached_at == world.now()
    assert (second.status, second.rep_id, second.revocations) == (AssignmentStatus.ACTIVE, "tara", 1)
    (revoked,) = await world.events(conversation_id, EventType.ASSIGNMENT_REVOKED)
    assert revoked.details is not None
    assert (revoked.details["rep_id"], revoked.details["queue"], revoked.details["reason"]) == (
        "diego",
        "support",
        "sla",
    )
    assert await world.load(["diego", "tara"]) == {"diego": 0, "tara": 1}
    async with world.sessions() as session:
        told = (
            (
                await session.execute(
                    select(col(Message.text)).where(
                        col(Message.conversation_id) == conversation_id, col(Message.direction) == "outbound"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert any(
        "Tara from our Tier 1 Technical Support team has your conversation now" in (m or "") for m in told
    )
    with pytest.raises(NotOwner):
        await world.act(rep_reply, conversation_id=conversation_id, rep=await world.rep("diego"), text="hi")


async def test_an_sla_of_seconds_revokes_within_seconds(make_world: WorldFactory) -> None:
    world = await make_world(configured(timers={"sla": "30s", "sla_warning": "10s"}))
    await _team(world)
    result = await world.handoff(choice="support")
    conversation_id = result.context.conversation_id
    world.advance(seconds=21)
    await world.heartbeat(*REPS)
    await world.tick()
    (warning,) = await world.events(conversation_id, EventType.SLA_WARNING)
    assert await world.owner_of(conversation_id) == "diego"
    world.advance(seconds=9)
    await world.heartbeat(*REPS)
    await world.tick()
    assert await world.owner_of(conversation_id) == "tara"
    (revoked,) = await world.events(conversation_id, EventType.ASSIGNMENT_REVOKED)
    assert "within 30 seconds" in revoked.description
    assert warning.created_at < revoked.created_at


async def test_reply_within_the_sla_keeps_the_assignment(world: World) -> None:
    await _team(world)
    result = await world.handoff(choice="support")
    conversation_id = result.context.conversation_id
    await _minutes_later(world, 5)
    await world.act(
        rep_reply, conversation_id=conversation_id, rep=await world.rep("diego"), text="Hi, Diego here"
    )
    await _minutes_later(world, 30)
    assert await world.owner_of(conversation_id) == "diego"
    (assignment,) = await world.assignments(conversation_id)
    assert assignment.first_response_at is not None
    assert assignment.sla_breached_at is None
    assert all(t.cancelled_at is not None for t in await world.timers(TimerKind.SLA))


async def test_owner_is_warned_before_the_sla_revokes(world: World) -> None:
    await _team(world)
    result = await world.handoff(choice="support")
    conversation_id = result.context.conversation_id
    await _minutes_later(world, 9)
    assert await world.events(conversation_id, EventType.SLA_WARNING) == []
    await _minutes_later(world, 1)
    (warning,) = await world.events(conversation_id, EventType.SLA_WARNING)
    assert warning.details is not None
    assert (warning.details["rep_id"], warning.details["queue"]) == ("diego", "support")
    assert await world.owner_of(conversation_id) == "diego"


async def test_after_max_revocations_it_escalates_to_the_team_lead_then_the_catch_all(world: World) -> None:
    await _team(world)
    result = await world.handoff(choice="support")
    conversation_id = result.context.conversation_id
    await _minutes_later(world, 15)
    assert await world.owner_of(conversation_id) == "tara"
    await _minutes_later(world, 15)  # second revocation: max_revocations is 2
    assert await world.owner_of(conversation_id) == "lena"
    (to_lead,) = await world.events(conversation_id, EventType.ESCALATED)
    assert to_lead.details is not None
    assert (to_lead.details["rep_id"], to_lead.details["level"], to_lead.details["queue"]) == (
        "lena",
        "lead",
        "support",
    )
    await _minutes_later(world, 15)  # the lead does not answer either
    conversation = await world.conversation(conversation_id)
    assert (conversation.queue, conversation.assignee_id, conversation.owner) == (
        "general",
        "gus",
        Owner.HUMAN,
    )
    to_catch_all = (await world.events(conversation_id, EventType.ESCALATED))[-1]
    assert to_catch_all.details is not None
    assert (to_catch_all.details["level"], to_catch_all.details["queue"]) == ("catch_all", "general")
    assert [a.rep_id for a in await world.assignments(conversation_id)] == ["diego", "tara", "lena", "gus"]
    assert await world.load(list(REPS)) == {"tara": 0, "diego": 0, "lena": 0, "gus": 1}


async def test_revocation_escalates_at_once_when_nobody_else_in_the_queue_can_take_it(world: World) -> None:
    await _team(world)
    await world.act(set_presence, config=world.config, rep_id="tara", presence=Presence.BUSY)
    result = await world.handoff(choice="support")
    conversation_id = result.context.conversation_id
    assert await world.owner_of(conversation_id) == "diego"
    await _minutes_later(world, 15)
    # Not back to diego, who let it lapse: the lead gets it straight away.
    assert await world.owner_of(conversation_id) == "lena"


async def test_escalation_skips_an_unavailable_lead_for_the_catch_all(world: World) -> None:
    await _team(world, lead_presence=Presence.OFFLINE)
    result = await world.handoff(choice="support")
    conversation_id = result.context.conversation_id
    await _minutes_later(world, 15)
    await _minutes_later(world, 15)
    conversation = await world.conversation(conversation_id)
    assert (conversation.queue, conversation.assignee_id) == ("general", "gus")
    (escalated,) = await world.events(conversation_id, EventType.ESCALATED)
    assert escalated.details is not None
    assert escalated.details["level"] == "catch_all"


async def test_a_chain_ending_in_the_catch_all_queue_goes_back_to_someone_rather_than_nobody(
    world: World,
) -> None:
    # Both reps of the catch-all queue let it lapse; nobody else is left. Before, both stayed
    # excluded and it sat waiting with two reps online.
    await world.add_rep("gus", "general")
    await world.add_rep("hana", "general")
    result = await world.handoff(choice="general")
    conversation_id = result.context.conversation_id
    first = await world.owner_of(conversation_id)
    second = "hana" if first == "gus" else "gus"
    for _ in range(2):
        world.advance(minutes=15)
        await world.heartbeat("gus", "hana")
        await world.tick()
    # The end of the path: not the rep who has just let it lapse, but the other one.
    assert [a.rep_id for a in await world.assignments(conversation_id)] == [first, second, first]
    assert await world.owner_of(conversation_id) == first


async def test_when_nobody_else_can_take_it_the_leads_are_told_and_it_is_never_stranded(
    world: World,
) -> None:
    await world.add_rep("gus", "general")
    result = await world.handoff(choice="general")
    conversation_id = result.context.conversation_id
    world.advance(minutes=15)
    await world.heartbeat("gus")
    await world.act(set_presence, config=world.config, rep_id="gus", presence=Presence.AWAY)
    await world.tick()
    conversation = await world.conversation(conversation_id)
    assert (conversation.owner, conversation.queue) == (Owner.QUEUED, "general")
    told = (await world.events(conversation_id, EventType.ESCALATED))[-1]
    assert "nobody else could take it" in told.description
    assert told.details is not None
    assert told.details["queue"] == "general"
    (waiting,) = [a for a in await world.assignments(conversation_id) if a.status == AssignmentStatus.WAITING]
    assert not waiting.excluded_reps  # gus may have it again once he is back
    for _ in range(3):  # gus is back, and keeps letting it lapse: it stays with someone
        await world.act(set_presence, config=world.config, rep_id="gus", presence=Presence.ONLINE)
        await world.tick()
        assert await world.owner_of(conversation_id) == "gus"
        # The customer was told Gus has it when he took it first: not again each time it comes back.
        assert await _told_rep_joined(world, conversation_id) == 0
        world.advance(minutes=15)
        await world.heartbeat("gus")
        await world.tick()


async def _told_rep_joined(world: World, conversation_id: int) -> int:
    """How many times the customer was told a rep took their waiting conversation."""
    async with world.sessions() as session:
        texts = (
            await session.execute(
                select(col(Message.text)).where(
                    col(Message.conversation_id) == conversation_id,
                    col(Message.direction) == Direction.OUTBOUND,
                )
            )
        ).scalars()
        return sum(1 for t in texts if t and "has your conversation now" in t)

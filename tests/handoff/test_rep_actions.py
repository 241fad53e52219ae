"""Transfer, reassign and resolve: who may, what happens to write access, capacity, the log."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import col

from handoff.errors import NotFound, NotOwner, Unavailable
from handoff.flows_rep import reassign, rep_reply, resolve, set_presence, transfer
from handoff.models import Assignment
from orchestrator.core.enums import AssignmentStatus, EndReason, EventType, Owner, Presence, Role
from orchestrator.core.tables import Message
from tests.handoff.conftest import World


async def _support_conversation(world: World) -> int:
    """tara and diego in support (tara owns the conversation), lena leads support and senior
    engineering, eve is in senior engineering, olivia leads UK sales, admin is an admin."""
    await world.add_rep("tara", "support")
    await world.add_rep("diego", "support", presence=Presence.AWAY)
    await world.add_rep("lena", "support", "senior_engineering", role=Role.LEAD, auto_assign=False)
    await world.add_rep("eve", "senior_engineering")
    await world.add_rep("olivia", "uk_sales", role=Role.LEAD)
    await world.add_rep("admin", role=Role.ADMIN, capacity=0)
    result = await world.handoff(choice="support")
    assert result.outcome.rep is not None
    assert result.outcome.rep.id == "tara"
    await world.act(set_presence, config=world.config, rep_id="diego", presence=Presence.ONLINE)
    return result.context.conversation_id


async def transfer_by(
    world: World, who: str, conversation_id: int, *, to_queue: str, note: str | None
) -> Assignment:
    """`who` transfers the conversation to `to_queue` (the flow as the API calls it)."""
    return await world.act(
        transfer,
        config=world.config,
        conversation_id=conversation_id,
        actor=await world.rep(who),
        to_queue=to_queue,
        note=note,
    )


async def test_transfer_ends_the_senders_write_access_at_once(world: World) -> None:
    conversation_id = await _support_conversation(world)
    tara = await world.rep("tara")
    await world.act(rep_reply, conversation_id=conversation_id, rep=tara, text="Let me get an engineer")
    moved = await world.act(
        transfer,
        config=world.config,
        conversation_id=conversation_id,
        actor=tara,
        to_queue="senior_engineering",
        note="API returns 500 on bulk import",
    )
    assert (moved.queue, moved.rep_id, moved.status, moved.reason) == (
        "senior_engineering",
        "eve",
        AssignmentStatus.ACTIVE,
        "transfer",
    )
    with pytest.raises(NotOwner):
        await world.act(rep_reply, conversation_id=conversation_id, rep=tara, text="one more thing")
    await world.act(rep_reply, conversation_id=conversation_id, rep=await world.rep("eve"), text="Eve here")
    assert await world.load(["tara", "eve"]) == {"tara": 0, "eve": 1}
    (event,) = await world.events(conversation_id, EventType.TRANSFERRED)
    assert event.details is not None
    assert event.details["note"] == "API returns 500 on bulk import"
    assert (event.details["rep_id"], event.details["from_queue"], event.details["to_queue"]) == (
        "tara",
        "support",
        "senior_engineering",
    )
    assert [a.action for a in await world.audit()][-2:] == ["transfer", "reply"]


async def test_transferred_conversation_keeps_its_context_log_and_history(world: World) -> None:
    conversation_id = await _support_conversation(world)
    await world.act(rep_reply, conversation_id=conversation_id, rep=await world.rep("tara"), text="Looking")
    await transfer_by(world, "tara", conversation_id, to_queue="senior_engineering", note=None)
    conversation = await world.conversation(conversation_id)
    assert (conversation.queue, conversation.assignee_id, conversation.owner) == (
        "senior_engineering",
        "eve",
        Owner.HUMAN,
    )
    types = [e.type for e in await world.events(conversation_id)]
    assert (
        types.index(EventType.HANDOFF) < types.index(EventType.REP_REPLY) < types.index(EventType.TRANSFERRED)
    )
    first, second = await world.assignments(conversation_id)
    assert (first.rep_id, first.status, first.end_reason) == (
        "tara",
        AssignmentStatus.TRANSFERRED,
        EndReason.TRANSFERRED,
    )
    assert second.routing is not None
    assert second.routing["explanation"][0] == "transferred from support by tara"


async def test_only_the_owner_a_lead_of_the_queue_or_an_admin_may_transfer(world: World) -> None:
    conversation_id = await _support_conversation(world)
    for outsider in ("diego", "olivia"):  # a colleague who does not own it; a lead of another queue
        with pytest.raises(NotOwner):
            await transfer_by(world, outsider, conversation_id, to_queue="billing", note=None)
    moved = await transfer_by(
        world, "lena", conversation_id, to_queue="senior_engineering", note="escalating"
    )
    assert moved.rep_id == "eve"
    back = await transfer_by(world, "admin", conversation_id, to_queue="support", note=None)
    assert back.queue == "support"


async def test_transfer_to_an_unknown_or_the_same_queue_is_refused(world: World) -> None:
    conversation_id = await _support_conversation(world)
    tara = await world.rep("tara")
    with pytest.raises(NotFound):
        await world.act(
            transfer,
            config=world.config,
            conversation_id=conversation_id,
            actor=tara,
            to_queue="nope",
            note=None,
        )
    with pytest.raises(Unavailable):
        await world.act(
            transfer,
            config=world.config,
            conversation_id=conversation_id,
            actor=tara,
            to_queue="support",
            note=None,
        )
    with pytest.raises(NotFound):
        await world.act(
            transfer, config=world.config, conversation_id=999_999, actor=tara, to_queue="billing", note=None
        )
    assert await world.owner_of(conversation_id) == "tara"


async def test_transfer_is_never_handed_straight_back_to_the_sender(world: World) -> None:
    await world.add_rep("lena", "support", "senior_engineering", role=Role.LEAD)
    result = await world.handoff(choice="support")
    conversation_id = result.context.conversation_id
    assert await world.owner_of(conversation_id) == "lena"
    moved = await transfer_by(world, "lena", conversation_id, to_queue="senior_engineering", note=None)
    assert (moved.status, moved.rep_id) == (AssignmentStatus.WAITING, None)
    candidates = {c["rep_id"]: c["skipped"] for c in moved.candidates or []}
    assert candidates == {"lena": "excluded: had it before and let it lapse or passed it on"}


async def test_a_lead_who_transfers_a_colleagues_conversation_does_not_get_it_back(world: World) -> None:
    await world.add_rep("tara", "support")
    conversation_id = (await world.handoff(choice="support")).context.conversation_id
    assert await world.owner_of(conversation_id) == "tara"
    # The lead, the only member of the target team online, moves Tara's conversation there.
    await world.add_rep("lena", "support", "senior_engineering", role=Role.LEAD)
    moved = await transfer_by(
        world, "lena", conversation_id, to_queue="senior_engineering", note="needs an engineer"
    )
    assert (moved.status, moved.rep_id) == (AssignmentStatus.WAITING, None), "not back to the lead"
    assert "lena" in (moved.excluded_reps or [])


async def test_a_later_drain_does_not_hand_a_transfer_back_to_the_sender(world: World) -> None:
    await world.add_rep("lena", "support", "senior_engineering", role=Role.LEAD)
    conversation_id = (await world.handoff(choice="support")).context.conversation_id
    await transfer_by(world, "lena", conversation_id, to_queue="senior_engineering", note=None)
    (_, waiting) = await world.assignments(conversation_id)
    assert waiting.excluded_reps == ["lena"]
    assert waiting.routing is not None
    assert "exclude" not in waiting.routing  # the routing explanation stays what routing decided
    await world.tick()
    assert await world.owner_of(conversation_id) is None  # lena is free, but she sent it away
    await world.add_rep("sam", "senior_engineering")
    await world.tick()
    assert await world.owner_of(conversation_id) == "sam"


async def test_lead_reassigns_to_a_named_rep(world: World) -> None:
    conversation_id = await _support_conversation(world)
    moved = await world.act(
        reassign,
        config=world.config,
        conversation_id=conversation_id,
        actor=await world.rep("lena"),
        to_rep_id="diego",
    )
    assert (moved.rep_id, moved.status) == ("diego", AssignmentStatus.ACTIVE)
    with pytest.raises(NotOwner):
        await world.act(rep_reply, conversation_id=conversation_id, rep=await world.rep("tara"), text="hi")
    (event,) = await world.events(conversation_id, EventType.REASSIGNED)
    assert event.details is not None
    assert (event.details["from_rep_id"], event.details["to_rep_id"], event.details["actor"]) == (
        "tara",
        "diego",
        "lena",
    )
    assert await world.load(["tara", "diego"]) == {"tara": 0, "diego": 1}
    first = (await world.assignments(conversation_id))[0]
    assert (first.status, first.end_reason) == (AssignmentStatus.REVOKED, EndReason.REASSIGNED)
    async with world.sessions() as session:
        told = (
            await session.execute(
                select(col(Message.text))
                .where(col(Message.conversation_id) == conversation_id, col(Message.direction) == "outbound")
                .order_by(col(Message.id).desc())
                .limit(1)
            )
        ).scalar_one()
    assert told is not None
    assert told.startswith("Diego")  # the customer hears who has their conversation now, as from the queue


async def test_lead_reassigns_to_the_next_rep_in_round_robin(world: World) -> None:
    conversation_id = await _support_conversation(world)
    moved = await world.act(
        reassign,
        config=world.config,
        conversation_id=conversation_id,
        actor=await world.rep("admin"),
        to_rep_id=None,
    )
    assert moved.rep_id == "diego"  # tara, the current owner, is excluded; lena opted out


async def test_a_second_reassignment_keeps_excluding_the_reps_it_was_taken_from(world: World) -> None:
    conversation_id = await _support_conversation(world)
    admin = await world.rep("admin")
    first = await world.act(
        reassign, config=world.config, conversation_id=conversation_id, actor=admin, to_rep_id=None
    )
    assert first.rep_id == "diego"
    second = await world.act(
        reassign, config=world.config, conversation_id=conversation_id, actor=admin, to_rep_id=None
    )
    # tara (taken away first) and diego (just now) are both excluded; lena opted out: it waits.
    assert (second.rep_id, second.status) == (None, AssignmentStatus.WAITING)
    assert set(second.excluded_reps or ()) == {"tara", "diego"}
    named = await world.act(
        reassign, config=world.config, conversation_id=conversation_id, actor=admin, to_rep_id="tara"
    )
    assert named.rep_id == "tara"  # a rep the lead names is the lead's call
    assert set(named.excluded_reps or ()) == {"diego"}


async def test_reps_cannot_reassign_and_leads_only_to_available_members(world: World) -> None:
    conversation_id = await _support_conversation(world)
    with pytest.raises(NotOwner):
        await world.act(
            reassign,
            config=world.config,
            conversation_id=conversation_id,
            actor=await world.rep("tara"),
            to_rep_id="diego",
        )
    lena = await world.rep("lena")
    with pytest.raises(NotFound):  # not a member of support
        await world.act(
            reassign, config=world.config, conversation_id=conversation_id, actor=lena, to_rep_id="eve"
        )
    await world.act(set_presence, config=world.config, rep_id="diego", presence=Presence.OFFLINE)
    with pytest.raises(Unavailable):
        await world.act(
            reassign, config=world.config, conversation_id=conversation_id, actor=lena, to_rep_id="diego"
        )
    assert await world.owner_of(conversation_id) == "tara"
    assert (await world.rep("tara")).open_count == 1


async def test_resolve_closes_the_conversation_and_releases_capacity(world: World) -> None:
    conversation_id = await _support_conversation(world)
    with pytest.raises(NotOwner):
        await world.act(resolve, conversation_id=conversation_id, actor=await world.rep("diego"))
    await world.act(resolve, conversation_id=conversation_id, actor=await world.rep("tara"))
    conversation = await world.conversation(conversation_id)
    assert (conversation.owner, conversation.closed_at) == (Owner.CLOSED, world.now())
    (assignment,) = await world.assignments(conversation_id)
    assert (assignment.status, assignment.ended_at) == (AssignmentStatus.RESOLVED, world.now())
    assert (await world.rep("tara")).open_count == 0
    (event,) = await world.events(conversation_id, EventType.RESOLVED)
    assert event.details == {"rep_id": "tara", "actor": "tara", "queue": "support"}
    with pytest.raises(NotFound):  # nothing open any more
        await world.act(resolve, conversation_id=conversation_id, actor=await world.rep("tara"))

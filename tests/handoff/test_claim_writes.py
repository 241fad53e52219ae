"""On PostgreSQL the claim that takes a rep for a new assignment also writes it: the assignment row,
the conversation handed to the rep and the SLA timers, in the claim's one statement, and only when
the rep was taken. The rows are what the ORM path writes, and the session's objects match them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlmodel import col

from handoff.assignment.policy import BUSY
from handoff.models import Assignment, Timer
from orchestrator.core.clock import FrozenClock
from orchestrator.core.db import make_engine, make_sessionmaker
from orchestrator.core.enums import AssignmentStatus, EventType, HandoffReason, Owner, TimerKind
from tests.conftest import OPEN_HOURS
from tests.handoff.conftest import World, configured

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(60)]


@dataclass
class Counted:
    world: World
    statements: list[str]  # every statement the world's engine ran


@pytest.fixture
async def pg_world(postgres_url: str) -> AsyncIterator[Counted]:
    engine = make_engine(postgres_url)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    world = World(sessions=make_sessionmaker(engine), config=configured(), clock=FrozenClock(OPEN_HOURS))
    yield Counted(world, statements)
    await engine.dispose()


async def _timers_of(world: World, assignment_id: int | None) -> list[Timer]:
    async with world.sessions() as session:
        rows = await session.execute(
            select(Timer).where(col(Timer.assignment_id) == assignment_id).order_by(col(Timer.due_at))
        )
        return list(rows.scalars())


async def test_a_handoff_is_assigned_by_the_claim_statement_and_the_commit_only_adds_its_events(
    pg_world: Counted,
) -> None:
    world, statements = pg_world.world, pg_world.statements
    await world.add_rep("tara", "support")
    await world.add_rep("diego", "support")
    statements.clear()
    result = await world.handoff(choice="support", language="es")
    writes = [s for s in statements if not s.lstrip().upper().startswith(("SELECT", "BEGIN", "COMMIT"))]
    assignment_writes = [s for s in writes if "INSERT INTO assignment" in s]
    assert len(assignment_writes) == 1
    assert assignment_writes[0].lstrip().startswith("WITH locked")  # the claim itself
    assert "INSERT INTO timer" in assignment_writes[0]
    assert "UPDATE conversation" in assignment_writes[0]
    # Nothing else writes the assignment, the timers or the handed-over conversation.
    assert not [s for s in writes if s.lstrip().startswith(("INSERT INTO timer", "INSERT INTO assignment"))]
    assert [s for s in writes if "INSERT INTO contextevent" in s] == [
        s for s in writes if s.lstrip().startswith("INSERT INTO contextevent")
    ]
    assert len([s for s in writes if s.lstrip().startswith("INSERT INTO contextevent")]) == 1

    outcome = result.outcome
    assert outcome.rep is not None
    rep_id = outcome.rep.id
    conversation_id = result.context.conversation_id
    (stored,) = await world.assignments(conversation_id)
    assert outcome.assignment.id == stored.id
    assert (stored.status, stored.rep_id, stored.queue, stored.reason) == (
        AssignmentStatus.ACTIVE,
        rep_id,
        "support",
        str(HandoffReason.EXPLICIT_REQUEST),
    )
    assert stored.assigned_at == world.now()
    assert stored.sla_due_at is not None
    assert stored.sla_due_at > world.now()
    assert stored.sla_due_at == outcome.assignment.sla_due_at
    assert stored.candidates == outcome.assignment.candidates
    assert {c["rep_id"] for c in stored.candidates or []} == {"tara", "diego"}
    timers = await _timers_of(world, stored.id)
    assert [t.kind for t in timers] == [TimerKind.SLA_WARNING, TimerKind.SLA]
    assert timers[1].due_at == stored.sla_due_at
    assert {(t.rep_id, t.conversation_id, t.fired_at, t.cancelled_at) for t in timers} == {
        (rep_id, conversation_id, None, None)
    }
    conversation = await world.conversation(conversation_id)
    assert (conversation.owner, conversation.assignee_id, conversation.queue) == (
        Owner.HUMAN,
        rep_id,
        "support",
    )
    assert (conversation.language, conversation.handoff_reason) == ("es", HandoffReason.EXPLICIT_REQUEST)
    assert conversation.handed_off_at == world.now()
    assert conversation.waiting_since is None
    assert (await world.rep(rep_id)).open_count == 1
    assert [e.type for e in await world.events(conversation_id)] == [
        EventType.HANDOFF,
        EventType.ROUTED,
        EventType.ASSIGNED,
    ]


async def test_a_claim_that_finds_its_rep_locked_writes_nothing_and_the_next_rep_gets_it(
    pg_world: Counted,
) -> None:
    world = pg_world.world
    for rep_id in ("diego", "tara", "zoe"):
        await world.add_rep(rep_id, "support")
    result = await world.handoff(choice="support")
    conversation_id = result.context.conversation_id
    assert result.outcome.rep is not None
    assert result.outcome.rep.id == "diego"  # never assigned, first by rep id
    world.advance(minutes=15)
    await world.heartbeat("diego", "tara", "zoe")
    # Tara, next in rank once diego lets it lapse, is held by another transaction: her claim must
    # be skipped without writing anything, and zoe takes the conversation.
    async with world.sessions() as other, other.begin():
        await other.execute(
            text("SELECT 1 FROM repqueue WHERE rep_id = 'tara' AND queue = 'support' FOR UPDATE")
        )
        await world.tick()
    revoked, active = await world.assignments(conversation_id)
    assert (revoked.status, revoked.rep_id) == (AssignmentStatus.REVOKED, "diego")
    assert (active.status, active.rep_id, active.revocations) == (AssignmentStatus.ACTIVE, "zoe", 1)
    skipped = {c["rep_id"]: c["skipped"] for c in active.candidates or []}
    assert skipped["tara"] == BUSY
    assert await world.owner_of(conversation_id) == "zoe"
    assert await world.load(["diego", "tara", "zoe"]) == {"diego": 0, "tara": 0, "zoe": 1}
    assert sorted(t.kind for t in await _timers_of(world, active.id)) == [
        TimerKind.SLA,
        TimerKind.SLA_WARNING,
    ]
    async with world.sessions() as session:
        every_open = (
            await session.execute(
                select(col(Assignment.id)).where(
                    col(Assignment.status).in_([AssignmentStatus.ACTIVE, AssignmentStatus.WAITING])
                )
            )
        ).all()
    assert len(every_open) == 1

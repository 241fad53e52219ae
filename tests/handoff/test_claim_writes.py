"""On PostgreSQL the claim that takes a rep for a new assignment also writes it: the assignment row,
the conversation handed to the rep, the SLA timers and the context events, in the claim's one
statement, and only when the rep was taken. The rows are what the ORM path writes (SQLite's), the
session's objects match them, and the events are published after the commit as flushed ones are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from sqlalchemy import Select, event, select, text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.assignment.claim import _placing_statement
from handoff.assignment.policy import BUSY, Burst, Mode
from handoff.flows import HandoffResult, perform_handoff
from handoff.models import Assignment, Timer
from handoff.notify import NotificationHub, install
from orchestrator.channels.whatsapp.inbound import ContactRef
from orchestrator.conversations import current_conversation, upsert_contact
from orchestrator.core.clock import FrozenClock
from orchestrator.core.contextlog import ContextEvent, log_event
from orchestrator.core.db import make_engine, make_sessionmaker
from orchestrator.core.enums import AssignmentStatus, EventType, HandoffReason, Owner, TimerKind
from orchestrator.core.state import HandoffRequest
from orchestrator.core.tables import Contact, Conversation
from tests.conftest import OPEN_HOURS
from tests.handoff.conftest import World, configured, us_number

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


async def test_a_handoff_is_written_by_the_claim_statement_and_the_commit_writes_nothing_more(
    pg_world: Counted,
) -> None:
    world, statements = pg_world.world, pg_world.statements
    await world.add_rep("tara", "support")
    await world.add_rep("diego", "support")
    statements.clear()
    result = await world.handoff(choice="support", language="es")
    writes = [s for s in statements if not s.lstrip().upper().startswith(("SELECT", "BEGIN", "COMMIT"))]
    placed = [s for s in writes if "INSERT INTO assignment" in s]
    assert len(placed) == 1
    claim = placed[0]
    assert claim.lstrip().startswith("WITH locked")  # the claim itself
    for write in ("INSERT INTO timer", "UPDATE conversation", "INSERT INTO contextevent"):
        assert write in claim
    # Nothing else writes the assignment, the timers, the handed-over conversation or the events
    # (before it, the world created the contact and the conversation).
    assert writes[-1] == claim
    placing = (
        "INSERT INTO assignment",
        "INSERT INTO timer",
        "INSERT INTO contextevent",
        "UPDATE conversation",
    )
    assert not [s for s in writes[:-1] if s.lstrip().startswith(placing)]

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
    events = await world.events(conversation_id)
    assert [e.type for e in events] == [EventType.HANDOFF, EventType.ROUTED, EventType.ASSIGNED]
    handoff, routed, assigned = events
    assert handoff.details == result.context.model_dump(mode="json")
    assert routed.details == result.routing.as_dict()
    assert (assigned.source, assigned.description) == (
        "assignment_engine",
        f"assigned to {outcome.rep.name} ({rep_id}) in support",
    )
    assert assigned.details == {
        "rep_id": rep_id,
        "queue": "support",
        "reason": str(HandoffReason.EXPLICIT_REQUEST),
        "backlog": False,
        "candidates": stored.candidates,
    }
    assert {e.created_at for e in events} == {world.now()}


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


class Recorder(NotificationHub):
    """A hub that only records what commits hand it: the (id, type) of the events to publish."""

    def __init__(self) -> None:
        super().__init__(database_url="postgresql+psycopg://unused")
        self.refs: list[tuple[int, str]] = []

    def committed(self, refs: list[tuple[int, str]], *, local: bool = True) -> None:
        self.refs += refs


async def _bot_conversation(world: World, wa_id: str | None = None) -> int:
    async with world.sessions() as session, session.begin():
        ref = ContactRef(wa_id=wa_id or us_number(), name="Cus")
        contact = await upsert_contact(session, ref=ref, at=world.now())
        conversation = await current_conversation(session, contact=contact, at=world.now())
        assert conversation.id is not None
        return conversation.id


async def _locked(session: AsyncSession, conversation_id: int) -> tuple[Conversation, Contact]:
    """The conversation (its row locked, as a turn holds it) and its contact."""
    conversation = await session.get(Conversation, conversation_id, with_for_update=True)
    assert conversation is not None
    contact = await session.get(Contact, conversation.contact_id)
    assert contact is not None
    return conversation, contact


async def _hand_off(
    session: AsyncSession, world: World, conversation_id: int, *, signals: int = 0
) -> HandoffResult:
    """The handoff of a bot-owned conversation in the caller's transaction, after `signals` context
    events of the turn (logged once the conversation is locked, as a turn logs them)."""
    conversation, contact = await _locked(session, conversation_id)
    for _ in range(signals):
        await _signal(session, world, conversation_id)
    return await _perform(session, world, conversation, contact)


async def _perform(
    session: AsyncSession, world: World, conversation: Conversation, contact: Contact
) -> HandoffResult:
    request: HandoffRequest = {
        "reason": str(HandoffReason.FRUSTRATION),
        "department_choice": "support",
        "evidence": {"message_id": None, "text": "this is useless", "signals": []},
        "summary": "test handoff",
        "open_questions": ["why?"],
        "promises": [],
    }
    return await perform_handoff(
        session,
        config=world.config,
        conversation=conversation,
        contact=contact,
        request=request,
        fields={},
        language="pt",
        llm_calls=1,
        at=world.now(),
    )


def _columns(obj: Any, *, besides: tuple[str, ...] = ()) -> dict[str, Any]:
    """The object's column values (ids of rows that differ between databases left out)."""
    return {c.key: getattr(obj, c.key) for c in type(obj).__table__.c if c.key not in besides}


async def _signal(session: AsyncSession, world: World, conversation_id: int) -> ContextEvent:
    """A context event of the turn, logged before its handoff (no details: JSON null)."""
    return await log_event(
        session,
        conversation_id=conversation_id,
        type=EventType.SIGNAL,
        source="sentinel",
        description="frustration (0.9)",
        at=world.now(),
    )


async def test_a_handoff_runs_two_statements_on_postgresql_and_its_commit_none(pg_world: Counted) -> None:
    world, statements = pg_world.world, pg_world.statements
    await world.add_rep("tara", "support")
    conversation_id = await _bot_conversation(world)
    async with world.sessions() as session:
        async with session.begin():
            conversation, contact = await _locked(session, conversation_id)
            statements.clear()
            result = await _perform(session, world, conversation, contact)
            handoff = list(statements)
        assert len(statements) == len(handoff)  # the commit sent nothing but COMMIT
    assert result.outcome.rep is not None
    # The queue's members (with the backlog flag), and the claim that writes everything.
    assert len(handoff) == 2
    assert handoff[0].lstrip().startswith("SELECT repqueue.rep_id")
    assert handoff[1].lstrip().startswith("WITH locked")


async def test_the_claim_writes_the_rows_the_orm_path_writes(pg_world: Counted, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    clock = FrozenClock(OPEN_HOURS)
    sqlite_world = World(sessions=make_sessionmaker(engine), config=configured(), clock=clock)
    rows: list[dict[str, Any]] = []
    try:
        for world in (pg_world.world, sqlite_world):
            await world.add_rep("tara", "support")
            conversation_id = await _bot_conversation(world, "12025550999")
            async with world.sessions() as session, session.begin():
                result = await _hand_off(session, world, conversation_id, signals=1)
            assert result.outcome.rep is not None
            (assignment,) = await world.assignments(conversation_id)
            rows.append(
                {
                    "assignment": _columns(assignment, besides=("id", "conversation_id")),
                    "timers": [
                        _columns(t, besides=("id", "conversation_id", "assignment_id"))
                        for t in await _timers_of(world, assignment.id)
                    ],
                    "conversation": _columns(
                        await world.conversation(conversation_id), besides=("id", "contact_id")
                    ),
                    "events": [
                        _columns(e, besides=("id", "conversation_id"))
                        for e in await world.events(conversation_id)
                    ],
                    "rep": _columns(await world.rep("tara")),
                }
            )
    finally:
        await engine.dispose()
    on_postgres, on_sqlite = rows
    # Context ids differ between the databases, and so do the details that carry them.
    for side in rows:
        for e in side["events"]:
            if e["type"] == EventType.HANDOFF:
                e["details"].pop("conversation_id"), e["details"].pop("transcript_ref")
    assert on_postgres == on_sqlite
    assert [e["type"] for e in on_postgres["events"]] == [
        EventType.SIGNAL,
        EventType.HANDOFF,
        EventType.ROUTED,
        EventType.ASSIGNED,
    ]


async def test_events_pending_in_the_transaction_are_written_first_in_order_and_a_null_is_json_null(
    pg_world: Counted,
) -> None:
    world, statements = pg_world.world, pg_world.statements
    await world.add_rep("tara", "support")
    conversation_id = await _bot_conversation(world)
    async with world.sessions() as session, session.begin():
        conversation, contact = await _locked(session, conversation_id)
        statements.clear()
        first = await _signal(session, world, conversation_id)
        second = await _signal(session, world, conversation_id)
        await _perform(session, world, conversation, contact)
        # Written by the claim, and objects of the session as a flush leaves them.
        assert first.id is not None
        assert second.id is not None
        assert first in session
        assert not session.new
        assert not session.dirty
    assert not [s for s in statements if s.lstrip().startswith("INSERT INTO contextevent")]
    events = await world.events(conversation_id)
    signals = [(first.id, EventType.SIGNAL), (second.id, EventType.SIGNAL)]
    assert [(e.id, e.type) for e in events][:2] == signals
    assert [e.type for e in events[2:]] == [EventType.HANDOFF, EventType.ROUTED, EventType.ASSIGNED]
    async with world.sessions() as session:
        query = text("SELECT details IS NULL, details::text FROM contextevent WHERE id = :id")
        stored = (await session.execute(query, {"id": first.id})).one()
    assert tuple(stored) == (False, "null")  # as the ORM writes a None of a JSON column


async def test_the_events_the_claim_wrote_are_published_after_the_commit_only(pg_world: Counted) -> None:
    world = pg_world.world
    hub = Recorder()
    install(world.sessions, hub)
    await world.add_rep("tara", "support")
    conversation_id = await _bot_conversation(world)
    async with world.sessions() as session:
        transaction = await session.begin()
        rolled_back = await _hand_off(session, world, conversation_id)
        assert rolled_back.outcome.rep is not None  # the claim wrote it all, events included
        await transaction.rollback()
        assert hub.refs == []
        assert await world.assignments(conversation_id) == []
        # The same session's next transaction publishes its own events, none of the rolled back.
        async with session.begin():
            await _hand_off(session, world, conversation_id, signals=1)
    events = await world.events(conversation_id)
    assert sorted(hub.refs) == [(e.id, str(e.type)) for e in events]
    assert [e.type for e in events] == [
        EventType.SIGNAL,
        EventType.HANDOFF,
        EventType.ROUTED,
        EventType.ASSIGNED,
    ]


async def test_inside_a_savepoint_the_claim_leaves_the_events_to_the_flush(pg_world: Counted) -> None:
    world, statements = pg_world.world, pg_world.statements
    hub = Recorder()
    install(world.sessions, hub)
    await world.add_rep("tara", "support")
    conversation_id = await _bot_conversation(world)
    async with world.sessions() as session, session.begin():
        async with session.begin_nested():
            statements.clear()
            result = await _hand_off(session, world, conversation_id)
        claim = next(s for s in statements if s.lstrip().startswith("WITH locked"))
    assert result.outcome.rep is not None
    assert "INSERT INTO assignment" in claim
    assert "INSERT INTO contextevent" not in claim
    events = await world.events(conversation_id)
    assert [e.type for e in events] == [EventType.HANDOFF, EventType.ROUTED, EventType.ASSIGNED]
    assert sorted(hub.refs) == [(e.id, str(e.type)) for e in events]


def test_the_claim_stays_short_enough_for_psycopg_to_cache_its_parsing() -> None:
    """psycopg parses a query's placeholders on every execution once it is longer than 4 KB (or has
    more than 50 parameters): about a millisecond of CPU for the claim. Its longest variant (a new
    pacing window, every conversation column a handoff changes) stays under both."""
    statement = _placing_statement(
        mode=Mode.AUTO,
        burst=Burst.NEW,
        first_turn=False,
        skip_locked=True,
        changed=("handed_off_at", "handoff_reason", "language", "priority", "queue"),
        logged=True,
    )
    assert isinstance(statement, Select)
    compiled = statement.compile(dialect=PGDialect_psycopg())  # type: ignore[no-untyped-call]
    assert len(str(compiled).encode()) <= psycopg._queries.MAX_CACHED_STATEMENT_LENGTH
    assert len(compiled.params) <= psycopg._queries.MAX_CACHED_STATEMENT_PARAMS

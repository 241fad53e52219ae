"""Assignment is atomic under concurrency: several OS processes hand off conversations at once
against one database; no conversation gets two owners, no rep goes over capacity, nothing is lost,
and round robin stays even. The load is `bench/assignment.py`'s; the checks here read the database
themselves."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bench.assignment import run_load
from handoff.models import Assignment, Rep
from handoff.reps import seed_reps
from orchestrator.core.config import AppConfig
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.db import make_engine, make_sessionmaker
from orchestrator.core.enums import AssignmentStatus, EventType, Owner
from orchestrator.core.tables import Conversation
from tests.conftest import OPEN_HOURS
from tests.handoff.conftest import World


async def _independent_checks(url: str, result: dict[str, Any]) -> None:
    reps = list(result["per_rep"])
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = (
                await session.execute(
                    select(col(Rep.open_count), col(Rep.capacity)).where(col(Rep.id).in_(reps))
                )
            ).all()
            owned_ids = list(
                (
                    await session.execute(
                        select(col(Conversation.id)).where(
                            col(Conversation.assignee_id).in_(reps), col(Conversation.owner) == Owner.HUMAN
                        )
                    )
                ).scalars()
            )
            active = (
                await session.execute(
                    select(col(Assignment.conversation_id), func.count())
                    .where(
                        col(Assignment.rep_id).in_(reps), col(Assignment.status) == AssignmentStatus.ACTIVE
                    )
                    .group_by(col(Assignment.conversation_id))
                )
            ).all()
            assigned_events = (
                await session.execute(
                    select(func.count()).where(
                        col(ContextEvent.conversation_id).in_(owned_ids),
                        col(ContextEvent.type) == EventType.ASSIGNED,
                    )
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    assert len(owned_ids) == result["conversations"]  # every conversation has a human owner
    assert sum(open_count for open_count, _ in rows) == result["conversations"]
    assert all(open_count <= capacity for open_count, capacity in rows)
    assert len(active) == result["conversations"]
    assert all(count == 1 for _, count in active)  # one active assignment each
    assert assigned_events == result["conversations"]  # assigned once each


def _assert_clean(result: dict[str, Any], conversations: int, processes: int) -> None:
    assert result["errors"] == 0, result["error_samples"]
    assert result["processes"] == processes
    assert result["assignments"] == conversations
    assert result["double_assignments"] == 0
    assert result["capacity_violations"] == 0
    assert result["lost"] == 0
    assert result["spread"] <= 1, result["per_rep"]


@pytest.mark.postgres
@pytest.mark.timeout(90)
async def test_500_handoffs_from_4_processes_at_once_on_postgres(postgres_url: str) -> None:
    result = await asyncio.to_thread(run_load, postgres_url, processes=4, conversations=500, migrate=False)
    _assert_clean(result, 500, 4)
    await _independent_checks(postgres_url, result)


@pytest.mark.timeout(90)
async def test_handoffs_from_4_processes_at_once_on_sqlite(sqlite_url: str) -> None:
    result = await asyncio.to_thread(run_load, sqlite_url, processes=4, conversations=200, migrate=False)
    _assert_clean(result, 200, 4)
    await _independent_checks(sqlite_url, result)


@pytest.mark.postgres
@pytest.mark.timeout(90)
async def test_capacity_is_never_exceeded_when_demand_exceeds_it_on_postgres(postgres_url: str) -> None:
    # 4 processes race for 2 queues x 3 reps x capacity 20 = 120 seats with 200 conversations.
    result = await asyncio.to_thread(
        run_load, postgres_url, processes=4, conversations=200, reps_per_queue=3, capacity=20, migrate=False
    )
    assert result["errors"] == 0, result["error_samples"]
    assert result["assignments"] == 120
    assert result["waiting"] == 80
    assert (result["double_assignments"], result["capacity_violations"], result["lost"]) == (0, 0, 0)
    assert set(result["per_rep"].values()) == {20}


async def test_database_refuses_a_second_open_assignment_of_a_conversation(world: World) -> None:
    await world.add_rep("tara", "support")
    result = await world.handoff(choice="support")
    with pytest.raises(IntegrityError):
        async with world.sessions() as session, session.begin():
            session.add(
                Assignment(
                    conversation_id=result.context.conversation_id,
                    queue="support",
                    status=AssignmentStatus.WAITING,
                    reason="duplicate",
                    queued_at=world.now(),
                )
            )
    assert len(await world.assignments(result.context.conversation_id)) == 1


@pytest.mark.postgres
async def test_processes_starting_together_on_a_new_database_seed_the_configured_reps_once(
    postgres_url: str, config: AppConfig
) -> None:
    engine = make_engine(postgres_url)
    sessions = make_sessionmaker(engine)

    async def start() -> int:  # what each process does at startup, in its own transaction
        async with sessions() as session, session.begin():
            return await seed_reps(session, config=config, at=OPEN_HOURS)

    try:
        created = await asyncio.gather(*(start() for _ in range(3)))
        async with sessions() as session:
            reps = (await session.execute(select(col(Rep.id)))).scalars().all()
    finally:
        await engine.dispose()
    assert sorted(created) == [0, 0, len(config.reps)]
    assert sorted(reps) == sorted(rc.id for rc in config.reps)

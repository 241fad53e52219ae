"""Durable timers: stored in the database, surviving a restart, fired exactly once, also when
several processes run them at the same moment; a failing handler is retried, then given up."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from handoff.assignment import MAX_ATTEMPTS, run_due_timers
from handoff.models import Timer
from orchestrator.core.clock import FrozenClock
from orchestrator.core.db import make_engine, make_sessionmaker
from orchestrator.core.enums import EventType, TimerKind
from tests.conftest import OPEN_HOURS
from tests.handoff.conftest import World, WorldFactory, configured
from tests.handoff.processes import fire_due_timers


async def test_due_timer_fires_once_when_the_pass_runs_again(world: World) -> None:
    await world.add_rep("tara", "support")
    await world.add_rep("diego", "support")
    result = await world.handoff(choice="support")
    world.advance(minutes=15)
    first = await run_due_timers(world.sessions, config=world.config, at=world.now(), worker="a")
    second = await run_due_timers(world.sessions, config=world.config, at=world.now(), worker="b")
    assert [f.kind for f in first] == [TimerKind.SLA_WARNING, TimerKind.SLA]
    assert second == []
    assert len(await world.events(result.context.conversation_id, EventType.ASSIGNMENT_REVOKED)) == 1
    (sla, _next) = await world.timers(TimerKind.SLA)
    assert (sla.fired_at, sla.fired_by, sla.attempts) == (world.now(), "a", 1)


async def test_timers_survive_a_restart(make_world: WorldFactory) -> None:
    before = await make_world()
    await before.add_rep("tara", "support")
    await before.add_rep("diego", "support")
    result = await before.handoff(choice="support")
    owner = await before.owner_of(result.context.conversation_id)
    await before.sessions.kw["bind"].dispose()  # the process goes away
    after = await make_world(at=OPEN_HOURS + timedelta(minutes=16))  # a new one, same database
    await after.heartbeat("tara", "diego")
    report = await after.tick()
    assert TimerKind.SLA in [f.kind for f in report.fired]
    assert await after.owner_of(result.context.conversation_id) not in (owner, None)


async def test_cancelled_timer_does_not_fire(world: World) -> None:
    async with world.sessions() as session, session.begin():
        session.add(
            Timer(
                kind=TimerKind.QUEUE_OPEN,
                due_at=world.now(),
                cancelled_at=world.now(),
                payload={"queue": "support"},
                created_at=world.now(),
            )
        )
    assert await run_due_timers(world.sessions, config=world.config, at=world.now()) == []


async def test_failing_timer_is_retried_with_backoff_then_given_up(world: World) -> None:
    async with world.sessions() as session, session.begin():
        session.add(Timer(kind="no_such_kind", due_at=world.now(), created_at=world.now()))
    (failed,) = await run_due_timers(world.sessions, config=world.config, at=world.now())
    assert not failed.ok
    (timer,) = await world.timers()
    assert (timer.fired_at, timer.attempts) == (None, 1)
    assert timer.due_at == world.now() + timedelta(seconds=5)
    assert timer.last_error is not None
    assert "cannot fire kind 'no_such_kind'" in timer.last_error
    # Not due again before the backoff has passed.
    assert (
        await run_due_timers(world.sessions, config=world.config, at=world.now() + timedelta(seconds=4)) == []
    )
    for _ in range(MAX_ATTEMPTS):
        world.advance(minutes=10)
        await run_due_timers(world.sessions, config=world.config, at=world.now())
    (timer,) = await world.timers()
    assert timer.fired_at is not None
    assert timer.fired_by is not None
    assert timer.fired_by.startswith("gave up")
    assert timer.attempts == MAX_ATTEMPTS


async def _timers_race(url: str, processes: int = 4, conversations: int = 40) -> None:
    """Hand off `conversations`, then let `processes` OS processes fire the SLA timers at once."""
    engine = make_engine(url)
    config = configured()
    world = World(sessions=make_sessionmaker(engine), config=config, clock=FrozenClock(OPEN_HOURS))
    try:
        await world.add_rep("tara", "support", capacity=conversations)
        await world.add_rep("diego", "support", capacity=conversations)
        ids = [(await world.handoff(choice="support")).context.conversation_id for _ in range(conversations)]
        due = world.now() + timedelta(minutes=15)
        context = multiprocessing.get_context("spawn")
        with context.Manager() as manager:
            barrier = manager.Barrier(processes)
            with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
                jobs = [
                    pool.submit(
                        fire_due_timers, url, config.model_dump(mode="json"), due.isoformat(), barrier
                    )
                    for _ in range(processes)
                ]
                fired = [timer_id for job in jobs for timer_id in job.result(timeout=60)]
        async with world.sessions() as session:
            expected = {
                t.id
                for t in (await session.execute(select(Timer).where(Timer.due_at <= due))).scalars()  # type: ignore[arg-type]
            }
            unfired = (
                await session.execute(select(Timer).where(Timer.due_at <= due, Timer.fired_at.is_(None)))  # type: ignore[arg-type,union-attr]
            ).all()
        assert len(expected) == 2 * conversations  # a warning and a revocation per assignment
        assert Counter(fired).most_common(1)[0][1] == 1  # no timer fired twice
        assert set(fired) == expected
        assert unfired == []
        revoked = Counter(e.conversation_id for e in await world.events(type=EventType.ASSIGNMENT_REVOKED))
        assert revoked == dict.fromkeys(ids, 1)
        assert len(await world.events(type=EventType.SLA_WARNING)) == conversations
    finally:
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.timeout(120)
async def test_timers_fire_exactly_once_across_processes_on_postgres(postgres_url: str) -> None:
    await _timers_race(postgres_url)


@pytest.mark.timeout(120)
async def test_timers_fire_exactly_once_across_processes_on_sqlite(sqlite_url: str) -> None:
    await _timers_race(sqlite_url)

"""Firing durable timers, and the background pass of the human side.

Any number of processes run the same pass; each timer fires exactly once:
  - a process claims one due timer (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so processes take
    different timers instead of queueing; SQLite serialises writers) and marks it fired with a
    conditional UPDATE (`WHERE fired_at IS NULL`);
  - the claim and the handler's effects commit together: a crash before the commit leaves the timer
    due, and no timer's effects can happen twice;
  - a handler that fails is rolled back and retried with backoff, and given up (marked fired, the
    error kept in `last_error`) after `MAX_ATTEMPTS`.
Handlers re-check the state they act on (an SLA timer whose assignment was answered does nothing), so
cancelling a timer is an optimisation, never a requirement.

`run_background` is one pass, called by `Service.tick()`:
  1. reps whose heartbeat is older than `timers.heartbeat_ttl` go offline (and get an
     offline timer); a later heartbeat restores their presence;
  2. due timers fire, each in its own transaction;
  3. open queues with waiting conversations are drained (capacity freed by paths that do not drain
     themselves, such as a hand-back to the bot, is used within one pass). A drain that stopped
     because the eligible reps were held by concurrent assignments is retried after a short pause,
     taken between transactions so no lock is held while waiting.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from handoff.assignment.engine import drain, drain_queue, waiting_queues
from handoff.assignment.presence import expire_heartbeats, requeue_offline_rep
from handoff.assignment.sla import sla_expired, sla_warning
from handoff.models import Timer
from orchestrator.core.config import AppConfig
from orchestrator.core.enums import TimerKind

log = structlog.get_logger(__name__)
MAX_ATTEMPTS = 5
DRAIN_ATTEMPTS = 4  # transactions per queue and pass while eligible reps are busy elsewhere


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(300, 5 * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class Fired:
    timer_id: int
    kind: str
    result: str
    ok: bool = True


@dataclass
class BackgroundReport:
    expired: list[str] = field(default_factory=list)
    fired: list[Fired] = field(default_factory=list)
    drained: int = 0


# -- firing -------------------------------------------------------------------------------------
async def _handle(session: AsyncSession, *, config: AppConfig, timer: Timer, at: datetime) -> str:
    payload = timer.payload or {}
    if timer.kind == TimerKind.SLA and timer.assignment_id is not None:
        return await sla_expired(session, config=config, assignment_id=timer.assignment_id, at=at)
    if timer.kind == TimerKind.SLA_WARNING and timer.assignment_id is not None:
        return await sla_warning(session, config=config, assignment_id=timer.assignment_id, at=at)
    if timer.kind == TimerKind.OFFLINE and timer.rep_id is not None:
        since = datetime.fromisoformat(str(payload["offline_since"]))
        moved = await requeue_offline_rep(
            session, config=config, rep_id=timer.rep_id, offline_since=since, at=at
        )
        return f"{moved} conversations moved"
    if timer.kind == TimerKind.QUEUE_OPEN:
        queue = str(payload["queue"])
        return f"{await drain_queue(session, config=config, queue=queue, at=at)} assigned in {queue}"
    raise ValueError(f"timer {timer.id}: cannot fire kind {timer.kind!r} with {payload!r}")


async def fire_next(
    sessions: async_sessionmaker[AsyncSession], *, config: AppConfig, at: datetime, worker: str
) -> Fired | None:
    """Claim the most overdue timer and fire it in one transaction. None when nothing is due."""
    claimed: tuple[int, str] | None = None
    try:
        async with sessions() as session, session.begin():
            timer_id = (
                await session.execute(
                    select(col(Timer.id))
                    .where(
                        col(Timer.fired_at).is_(None),
                        col(Timer.cancelled_at).is_(None),
                        col(Timer.due_at) <= at,
                    )
                    .order_by(col(Timer.due_at), col(Timer.id))
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).scalar()
            if timer_id is None:
                return None
            won = await session.execute(
                update(Timer)
                .where(
                    col(Timer.id) == timer_id,
                    col(Timer.fired_at).is_(None),
                    col(Timer.cancelled_at).is_(None),
                )
                .values(fired_at=at, fired_by=worker, attempts=col(Timer.attempts) + 1)
                .execution_options(synchronize_session=False)
            )
            if getattr(won, "rowcount", 0) != 1:
                return Fired(timer_id=int(timer_id), kind="", result="claimed elsewhere", ok=False)
            timer = await session.get(Timer, timer_id, populate_existing=True)
            assert timer is not None
            claimed = (int(timer_id), timer.kind)
            result = await _handle(session, config=config, timer=timer, at=at)
        log.info("timer_fired", timer_id=timer_id, kind=claimed[1], result=result, worker=worker)
        return Fired(timer_id=claimed[0], kind=claimed[1], result=result)
    except Exception as exc:
        if claimed is None:
            raise
        # Rolled back: the effects are gone and the timer is due again after a backoff.
        log.warning("timer_failed", timer_id=claimed[0], kind=claimed[1], error=repr(exc)[:300])
        await _record_failure(sessions, timer_id=claimed[0], error=exc, at=at, worker=worker)
        return Fired(timer_id=claimed[0], kind=claimed[1], result=f"failed: {exc!r}"[:300], ok=False)


async def _record_failure(
    sessions: async_sessionmaker[AsyncSession], *, timer_id: int, error: Exception, at: datetime, worker: str
) -> None:
    async with sessions() as session, session.begin():
        timer = await session.get(Timer, timer_id, with_for_update=True, populate_existing=True)
        if timer is None or timer.fired_at is not None:
            return
        timer.attempts += 1
        timer.last_error = repr(error)[:1000]
        if timer.attempts >= MAX_ATTEMPTS:
            timer.fired_at, timer.fired_by = at, f"gave up: {worker}"[:64]
            log.error("timer_given_up", timer_id=timer_id, kind=timer.kind, attempts=timer.attempts)
        else:
            timer.due_at = at + retry_delay(timer.attempts)
        session.add(timer)


async def run_due_timers(
    sessions: async_sessionmaker[AsyncSession],
    *,
    config: AppConfig,
    at: datetime,
    worker: str | None = None,
    limit: int = 200,
) -> list[Fired]:
    """Fire due timers (at most `limit` in this pass), one transaction each."""
    worker = worker or worker_id()
    fired: list[Fired] = []
    while len(fired) < limit:
        try:
            one = await fire_next(sessions, config=config, at=at, worker=worker)
        except DBAPIError as exc:  # a serialization failure or deadlock on the claim: next pass
            log.warning("timer_claim_failed", error=repr(exc)[:300])
            break
        if one is None:
            break
        fired.append(one)
    return fired


# -- the background pass ------------------------------------------------------------------------
async def drain_waiting(
    sessions: async_sessionmaker[AsyncSession], *, config: AppConfig, at: datetime
) -> int:
    """Drain every open queue that has waiting conversations (one transaction per queue and try)."""
    async with sessions() as session:
        queues = await waiting_queues(session)
    total = 0
    for queue in queues:
        try:
            if not config.queue(queue).hours.is_open(at):
                continue
        except KeyError:
            log.warning("waiting_in_unknown_queue", queue=queue)
            continue
        for attempt in range(DRAIN_ATTEMPTS):
            if attempt:
                # Others hold the eligible reps for a few milliseconds; this transaction has ended,
                # so the pause holds no lock.
                await asyncio.sleep(0.002 * attempt)
            try:
                async with sessions() as session, session.begin():
                    drained = await drain(session, config=config, queue=queue, at=at)
            except DBAPIError as exc:
                log.warning("drain_failed", queue=queue, error=repr(exc)[:300])
                break
            total += drained.assigned
            if not drained.busy:
                break
    return total


async def run_background(
    sessions: async_sessionmaker[AsyncSession], *, config: AppConfig, at: datetime, worker: str | None = None
) -> BackgroundReport:
    report = BackgroundReport()
    try:
        report.expired = await expire_heartbeats(sessions, config=config, at=at)
    except DBAPIError as exc:
        log.warning("presence_expiry_failed", error=repr(exc)[:300])
    report.fired = await run_due_timers(sessions, config=config, at=at, worker=worker)
    report.drained = await drain_waiting(sessions, config=config, at=at)
    return report

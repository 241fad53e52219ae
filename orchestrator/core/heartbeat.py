"""Heartbeats of the processes that run a background loop, so a fleet can be watched.

Every `HANDOFF_TIMER_INTERVAL_S` a process with a background loop writes its row of `ProcessBeat`
(from a task of its own, by PostgreSQL's clock there); a process that stops removes it. A row whose
beat is older than `SILENT_AFTER` of its intervals belongs to a process that died without stopping
(`kill -9`, a lost machine) or hangs: `GET /metrics` counts them (`handoff_processes{role,state}`),
`GET /api/admin/processes` lists them, `handoff alive --role worker` answers for the processes of
its own host (a container's health check), and retention removes rows silent for a day.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from orchestrator.core.db import insert_for, rows_affected
from orchestrator.core.tables import ProcessBeat

SILENT_AFTER = 3  # intervals without a beat
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Me:
    """This process, as its heartbeat names it."""

    role: str
    runs_turns: bool
    interval_s: float
    host: str
    pid: int
    start: str = ""  # this start's own token: a restarted container's worker is pid 1 on the same host

    @classmethod
    def here(cls, *, role: str, runs_turns: bool, interval_s: float) -> Me:
        return cls(
            role=role,
            runs_turns=runs_turns,
            interval_s=interval_s,
            host=socket.gethostname(),
            pid=os.getpid(),
            start=secrets.token_hex(4),
        )

    @property
    def id(self) -> str:
        return f"{self.host}/{self.pid}" + (f"/{self.start}" if self.start else "")


def is_live(beat: ProcessBeat, *, at: datetime) -> bool:
    return (at - beat.beat_at).total_seconds() <= SILENT_AFTER * beat.interval_s


async def database_now(session: AsyncSession, *, fallback: datetime) -> datetime:
    """The time by the database's clock on PostgreSQL, which writes every process's beats and
    judges them, so hosts whose clocks disagree are judged alike; `fallback` on SQLite (one host)."""
    if session.get_bind().dialect.name != "postgresql":
        return fallback
    now = await session.scalar(select(func.now()))
    return now if isinstance(now, datetime) else fallback


async def beat(
    sessions: async_sessionmaker[AsyncSession],
    me: Me,
    *,
    started_at: datetime,
    at: datetime,
    loop_lag_s: float | None = None,
) -> None:
    """Write this process's heartbeat (its row, created at the first beat), at the database's time
    on PostgreSQL (`database_now`), with how late its event loop ran since the last one."""
    async with sessions() as session, session.begin():
        now: Any = func.now() if session.get_bind().dialect.name == "postgresql" else at
        insert = insert_for(session)(ProcessBeat).values(
            id=me.id,
            role=me.role,
            host=me.host,
            pid=me.pid,
            runs_turns=me.runs_turns,
            interval_s=me.interval_s,
            started_at=started_at,
            beat_at=now,
            loop_lag_s=loop_lag_s,
        )
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=["id"],
                set_={"beat_at": now, "interval_s": me.interval_s, "loop_lag_s": loop_lag_s},
            )
        )


async def forget(sessions: async_sessionmaker[AsyncSession], me: Me) -> None:
    """Remove this process's row: it stops, and is not to be taken for a dead one."""
    async with sessions() as session, session.begin():
        await session.execute(delete(ProcessBeat).where(col(ProcessBeat.id) == me.id))


async def processes(session: AsyncSession, *, at: datetime) -> tuple[list[ProcessBeat], datetime]:
    """Every process's row, and the time to judge them at (`database_now`, `at` on SQLite)."""
    now = await database_now(session, fallback=at)
    rows = await session.execute(select(ProcessBeat).order_by(col(ProcessBeat.role), col(ProcessBeat.id)))
    return list(rows.scalars()), now


async def forget_silent(session: AsyncSession, *, at: datetime) -> int:
    """Remove the rows of processes silent for `FORGET_AFTER` (retention)."""
    result = await session.execute(delete(ProcessBeat).where(col(ProcessBeat.beat_at) < at - FORGET_AFTER))
    return rows_affected(result)

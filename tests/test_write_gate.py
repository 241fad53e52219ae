"""SQLite's write gate: one writing transaction at a time in the process, in arrival order, the
webhook's acknowledgement first; a reader never waits for it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from sqlalchemy import text

from orchestrator.core.db import DEFERRED, URGENT, WriteGate, make_engine, make_sessionmaker
from tests.factories import loop_ticks


async def test_writers_pass_in_arrival_order_and_an_acknowledgement_goes_first() -> None:
    gate = WriteGate()
    order: list[str] = []
    assert await gate.acquire()

    async def writer(name: str, *, urgent: bool = False) -> None:
        assert await gate.acquire(urgent=urgent)
        order.append(name)
        gate.release()

    waiting = [asyncio.create_task(writer("turn 1")), asyncio.create_task(writer("turn 2"))]
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(writer("acknowledgement", urgent=True)))
    await asyncio.sleep(0)
    gate.release()
    await asyncio.gather(*waiting)
    assert order == ["acknowledgement", "turn 1", "turn 2"]


async def test_a_writer_cancelled_while_waiting_does_not_hold_the_gate() -> None:
    gate = WriteGate()
    assert await gate.acquire()
    cancelled = asyncio.create_task(gate.acquire())
    after = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    cancelled.cancel()
    gate.release()
    assert await asyncio.wait_for(after, 1), "the next writer gets the gate"


async def test_transactions_on_one_sqlite_file_write_one_after_another_and_reads_do_not_wait(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    sessions = make_sessionmaker(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        events: list[str] = []
        first_in = asyncio.Event()
        release_first = asyncio.Event()

        async def first() -> None:
            async with sessions() as session, session.begin():
                await session.execute(text("INSERT INTO t VALUES (1)"))
                events.append("first wrote")
                first_in.set()
                await release_first.wait()

        async def second() -> None:
            async with sessions() as session, session.begin():
                await session.connection(execution_options=URGENT)
                seen = (await session.execute(text("SELECT count(*) FROM t"))).scalar_one()
                events.append(f"second began, saw {seen}")
                await session.execute(text("INSERT INTO t VALUES (2)"))

        one = asyncio.create_task(first())
        await first_in.wait()
        two = asyncio.create_task(second())
        async with engine.connect() as reader:  # a deferred read goes past the waiting writer
            await reader.execution_options(**DEFERRED)
            seen = (await reader.execute(text("SELECT count(*) FROM t"))).scalar_one()
        events.append(f"read {seen}")
        release_first.set()
        await asyncio.gather(one, two)
        assert events == ["first wrote", "read 0", "second began, saw 1"], "after the first committed"
    finally:
        await engine.dispose()


async def test_a_writer_waits_for_another_process_holding_the_lock_without_stopping_the_loop(
    tmp_path: Path,
) -> None:
    """Statements run on the event loop's thread: while another process holds SQLite's write lock,
    `BEGIN IMMEDIATE` is retried between asyncio sleeps, so the rest of the process keeps running."""
    path = tmp_path / "busy.db"
    engine = make_engine(f"sqlite:///{path}")
    sessions = make_sessionmaker(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        # The other process holds the lock until told to let go (or for 20 s, so that a writer
        # that blocked the loop, and with it this test's go-ahead, still ends the test).
        other = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import select, sqlite3, sys\n"
            f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE'); c.execute('INSERT INTO t VALUES (1)')\n"
            "print('holding', flush=True); select.select([sys.stdin], [], [], 20)\n"
            "c.execute('COMMIT')\n",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert other.stdin is not None
        assert other.stdout is not None
        assert (await other.stdout.readline()).strip() == b"holding"

        async def write() -> None:
            async with sessions() as session, session.begin():
                await session.execute(text("INSERT INTO t VALUES (2)"))

        async with loop_ticks() as ticks:
            writer = asyncio.create_task(write())
            await asyncio.sleep(1.0)
            assert not writer.done(), "the writer waits while the other process holds the lock"
        assert ticks[0] >= 20, f"the event loop ran while the writer waited ({ticks[0]} ticks)"
        other.stdin.write(b"go\n")
        await other.stdin.drain()
        await asyncio.wait_for(writer, timeout=30)
        await other.wait()
        async with engine.connect() as reader:
            rows = (await reader.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all()
        assert rows == [1, 2], "the writer went in after the other process committed"
    finally:
        await engine.dispose()

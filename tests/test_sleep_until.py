"""`orchestrator.core.aio.sleep_until`: sleepers wake in the order of their absolute deadlines
(the turn engine's burst windows rely on it: tests/test_turns.py holds the case of a sleeper held up
before it set its timer)."""

from __future__ import annotations

import asyncio

from orchestrator.core.aio import sleep_until


async def test_sleepers_wake_in_the_order_of_their_deadlines_not_of_their_calls() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    woke: list[str] = []

    async def sleeper(name: str, deadline: float) -> None:
        await sleep_until(deadline)
        woke.append(name)

    # Deadlines a microsecond apart, set in the reverse order.
    await asyncio.gather(*(sleeper(f"s{k}", start + 0.02 + k * 1e-6) for k in reversed(range(5))))
    assert woke == ["s0", "s1", "s2", "s3", "s4"]


async def test_a_deadline_already_passed_returns_at_once_and_a_cancelled_sleep_leaves_no_timer() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await sleep_until(started - 1.0)
    assert loop.time() - started < 0.5

    sleeping = asyncio.create_task(sleep_until(loop.time() + 60))
    await asyncio.sleep(0)
    sleeping.cancel()
    await asyncio.gather(sleeping, return_exceptions=True)
    assert sleeping.cancelled()
    scheduled = getattr(loop, "_scheduled", [])
    assert all(timer.cancelled() for timer in scheduled if timer.when() > started + 30)

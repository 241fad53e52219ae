"""PostgreSQL LISTEN that survives a lost connection (`orchestrator.core.listen`): the live streams
and the workers' wake-ups rely on it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest

from orchestrator.core.listen import listen_forever
from orchestrator.inbox import Take
from orchestrator.runtime.wakeup import CHANNEL as WAKE_CHANNEL
from orchestrator.runtime.wakeup import InboxListener

pytestmark = pytest.mark.postgres
CHANNEL = "handoff_test_listen"


async def test_a_lost_listen_connection_is_opened_again_and_says_so(postgres_url: str) -> None:
    plain = postgres_url.replace("+psycopg", "")
    payloads: list[str] = []
    connects: list[bool] = []
    listening = asyncio.Event()

    async def connected(again: bool) -> None:
        connects.append(again)

    task = asyncio.create_task(
        listen_forever(
            postgres_url, CHANNEL, on_notify=payloads.append, on_connect=connected, listening=listening
        )
    )
    try:
        await asyncio.wait_for(listening.wait(), 10)
        async with await psycopg.AsyncConnection.connect(plain, autocommit=True) as other:
            await other.execute(f"NOTIFY {CHANNEL}, 'one'")
            for _ in range(100):
                if payloads:
                    break
                await asyncio.sleep(0.05)
            # The listening backend dies (a failover, a restart, an administrator).
            await other.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
                (f"LISTEN {CHANNEL}",),
            )
            for _ in range(200):
                if len(connects) == 2 and listening.is_set():
                    break
                await asyncio.sleep(0.05)
            await other.execute(f"NOTIFY {CHANNEL}, 'two'")
            for _ in range(100):
                if len(payloads) == 2:
                    break
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert connects == [False, True], "told, on reconnecting, that notifications may have been missed"
    assert payloads == ["one", "two"]


async def test_a_workers_applier_folds_a_stream_of_wake_ups_into_one_pass_an_interval(
    postgres_url: str,
) -> None:
    """`InboxListener`: a wake-up after a quiet interval is taken at once; the wake-ups that arrive
    within `every_s` of a pass are folded into one more pass, once the interval is over."""
    loop = asyncio.get_running_loop()
    passes: list[float] = []

    async def on_wake(_take: Take) -> None:
        passes.append(loop.time())

    listener = InboxListener(postgres_url, on_wake, every_s=0.5)
    await listener.start()
    try:
        for _ in range(100):  # the pass for what arrived before it listened
            if passes:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.6)  # quiet for longer than the interval
        async with await psycopg.AsyncConnection.connect(
            postgres_url.replace("+psycopg", ""), autocommit=True
        ) as other:
            sent = loop.time()
            await other.execute(f"NOTIFY {WAKE_CHANNEL}")
            for _ in range(100):
                if len(passes) == 2:
                    break
                await asyncio.sleep(0.01)
            assert len(passes) == 2
            assert passes[1] - sent < 0.3, "taken at once after a quiet interval"
            for _ in range(10):  # a stream of deliveries, within the interval
                await other.execute(f"NOTIFY {WAKE_CHANNEL}")
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.8)
        assert len(passes) == 3, "the stream's wake-ups are one pass"
        assert passes[2] - passes[1] >= 0.5
    finally:
        await listener.stop()


@asynccontextmanager
async def _listening(
    postgres_url: str, *, statuses_after_s: float
) -> AsyncIterator[tuple[list[tuple[Take, float]], psycopg.AsyncConnection[Any]]]:
    """An `InboxListener` that records its passes (what each took, and when), past its first pass
    (on connecting: everything that arrived before it listened), and a connection to notify it."""
    loop = asyncio.get_running_loop()
    passes: list[tuple[Take, float]] = []

    async def on_wake(take: Take) -> None:
        passes.append((take, loop.time()))

    listener = InboxListener(postgres_url, on_wake, every_s=0.05, statuses_after_s=statuses_after_s)
    await listener.start()
    try:
        for _ in range(100):
            if passes:
                break
            await asyncio.sleep(0.02)
        assert [take for take, _ in passes] == [Take.ALL]
        async with await psycopg.AsyncConnection.connect(
            postgres_url.replace("+psycopg", ""), autocommit=True
        ) as other:
            yield passes, other
    finally:
        await listener.stop()


async def test_a_worker_applies_messages_at_once_and_the_statuses_of_an_interval_in_one_later_pass(
    postgres_url: str,
) -> None:
    """`InboxListener`: a message's notification brings a pass for messages at once; statuses wait
    `statuses_after_s` after the first of them, and those that came meanwhile share its pass. As
    some came while it was due, one more pass follows `statuses_after_s` later: an API process
    announces statuses at most once per `STATUS_WAKE_EVERY_S`, and those it stores in between,
    after that first pass has read, would otherwise wait for the sweep."""
    loop = asyncio.get_running_loop()
    async with _listening(postgres_url, statuses_after_s=0.5) as (passes, other):
        await asyncio.sleep(0.2)
        first_status = loop.time()
        for _ in range(5):  # Meta's statuses, one webhook each
            await other.execute(f"NOTIFY {WAKE_CHANNEL}, 'status'")
            await asyncio.sleep(0.03)
        message = loop.time()
        await other.execute(f"NOTIFY {WAKE_CHANNEL}, 'message'")
        await asyncio.sleep(1.4)
        await other.execute(f"NOTIFY {WAKE_CHANNEL}")  # an API process of an earlier release
        await asyncio.sleep(0.3)
    takes = [take for take, _ in passes[1:]]
    assert takes == [Take.MESSAGES, Take.STATUSES, Take.STATUSES, Take.ALL]
    assert passes[1][1] - message < 0.3, "the message is applied at once, without the statuses"
    assert 0.5 <= passes[2][1] - first_status < 0.9, "the statuses of the interval in one pass"
    assert 0.5 <= passes[3][1] - passes[2][1] < 0.9, "and one more for those stored unannounced"


async def test_a_lone_status_notification_brings_one_pass_and_no_more(postgres_url: str) -> None:
    async with _listening(postgres_url, statuses_after_s=0.3) as (passes, other):
        await other.execute(f"NOTIFY {WAKE_CHANNEL}, 'status'")
        await asyncio.sleep(1.0)
    assert [take for take, _ in passes[1:]] == [Take.STATUSES]


async def test_settled_waits_for_the_pass_that_connecting_brought(postgres_url: str) -> None:
    """The pass a (re)connection brings may take an item the webhook also handed to the process's
    applier (which skips it as locked): `settled` returns once that pass has ended, as the tests'
    harness needs before it reads what a delivery stored."""
    release = asyncio.Event()
    ended: list[Take] = []

    async def slow_pass(take: Take) -> None:
        await release.wait()
        ended.append(take)

    listener = InboxListener(postgres_url, slow_pass)
    await listener.start()
    try:
        waiting = asyncio.create_task(listener.settled())
        await asyncio.sleep(0.2)
        assert not waiting.done(), "the connection's pass still runs"
        release.set()
        await asyncio.wait_for(waiting, timeout=5)
        assert ended == [Take.ALL]
    finally:
        await listener.stop()


async def test_stop_lets_a_pass_under_way_finish_instead_of_cancelling_it(postgres_url: str) -> None:
    """A worker told to stop while its applier is in the middle of a pass's transaction: the pass
    ends as it would have (a cancellation there interrupts a query, and the rollback after it may
    fail), then the applier ends; nothing keeps the stop waiting."""
    started = asyncio.Event()
    ended: list[str] = []

    async def pass_(_take: Take) -> None:
        started.set()
        try:
            await asyncio.sleep(0.3)  # the pass's statements
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise
        ended.append("finished")

    listener = InboxListener(postgres_url, pass_)
    await listener.start()
    await started.wait()  # the pass connecting brings
    await asyncio.wait_for(listener.stop(), timeout=5)
    assert ended == ["finished"]


async def test_a_pass_that_overruns_the_stop_is_cancelled_then(postgres_url: str) -> None:
    cancelled = asyncio.Event()

    async def stuck(_take: Take) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    listener = InboxListener(postgres_url, stuck)
    await listener.start()
    await asyncio.sleep(0.1)
    await asyncio.wait_for(listener.stop(pass_within_s=0.2), timeout=5)
    assert cancelled.is_set()

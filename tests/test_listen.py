"""PostgreSQL LISTEN that survives a lost connection (`orchestrator.core.listen`): the live streams
and the workers' wake-ups rely on it."""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
import pytest

from orchestrator.core.listen import listen_forever

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

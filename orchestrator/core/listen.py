"""PostgreSQL LISTEN that survives a lost connection: used by the live streams across processes
(`handoff.notify`) and by the workers woken for new deliveries (`orchestrator.runtime.wakeup`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from orchestrator.core.aio import being_cancelled

log = structlog.get_logger(__name__)


async def listen_forever(
    database_url: str,
    channel: str,
    *,
    on_notify: Callable[[str], None],
    on_connect: Callable[[bool], Awaitable[None]],
    listening: asyncio.Event,
) -> None:
    """LISTEN on `channel` and hand every payload to `on_notify`, until cancelled. After each (re)
    connection, `on_connect(again)` runs (`again`: a connection was lost before, so notifications
    may have been missed) and `listening` is set; it is cleared while the connection is down, and
    the connection is opened again with a back-off from 0.2 s up to 5 s."""
    import psycopg

    url = database_url.replace("+psycopg", "")
    delay, connected_before = 0.2, False
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute(f"LISTEN {channel}")
                if connected_before:
                    log.info("listen_restored", channel=channel)
                await on_connect(connected_before)
                connected_before = True
                listening.set()
                delay = 0.2
                async for note in conn.notifies():
                    on_notify(note.payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if being_cancelled():  # an error as the connection closed on a cancellation
                raise asyncio.CancelledError from None
            listening.clear()
            log.warning("listen_lost", channel=channel, problem=str(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

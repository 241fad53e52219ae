"""Acknowledge-only API processes and the workers that take their deliveries (PostgreSQL).

With `HANDOFF_RUN_TURNS=false` an API process does the least a webhook needs: verify, parse, store
the delivery's items, commit, answer. The statement that stores them also sends `NOTIFY
handoff_inbox` (`orchestrator.inbox.accept_deliveries`), which PostgreSQL delivers at its commit
(never for a delivery that was not stored). Every process that runs
turns (`handoff worker`, or `handoff serve` with the default `HANDOFF_RUN_TURNS=true`) listens on
that channel and, when woken, applies what is unapplied in the inbox and schedules the turns: the
same `TurnEngine.apply_inbox` the API process would have run, so several workers share the items
(`FOR UPDATE SKIP LOCKED`, a run of messages or a run of statuses per transaction, each in a lock
order every process shares: `inbox.kind_batches`) and each conversation
still has one worker at a time (its turn lease). Wake-ups that arrive while an apply runs are folded
into one more pass.

Nothing depends on the notification arriving: the background sweep (`Service.tick`, every
`HANDOFF_TIMER_INTERVAL_S`) applies anything left unapplied, and a lost LISTEN connection is opened
again and followed by one pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from orchestrator.core.aio import cancel_and_wait
from orchestrator.core.listen import listen_forever

log = structlog.get_logger(__name__)

CHANNEL = "handoff_inbox"


class InboxListener:
    """LISTEN on `handoff_inbox` and run `on_wake` for each wake-up (coalesced while one runs)."""

    def __init__(self, database_url: str, on_wake: Callable[[], Awaitable[object]]) -> None:
        self._url = database_url
        self._on_wake = on_wake
        self._woken = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.listening = asyncio.Event()

    async def start(self, *, timeout_s: float = 10.0) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="inbox-listen"),
            asyncio.create_task(self._apply(), name="inbox-apply"),
        ]
        await asyncio.wait_for(self.listening.wait(), timeout=timeout_s)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []

    async def _listen(self) -> None:
        async def connected(_again: bool) -> None:
            self._woken.set()  # what arrived before (or while the connection was lost)

        await listen_forever(
            self._url,
            CHANNEL,
            on_notify=lambda _payload: self._woken.set(),
            on_connect=connected,
            listening=self.listening,
        )

    async def _apply(self) -> None:
        while True:
            await self._woken.wait()
            self._woken.clear()  # a wake-up during the pass below runs one more pass
            try:
                await self._on_wake()
            except Exception:
                log.exception("inbox_apply_failed")  # the background sweep applies it later
                await asyncio.sleep(1.0)

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
into one more pass, and a worker makes at most one pass every `PASS_EVERY_S` (50 ms): under a stream
of deliveries (a message and three statuses for every reply) a pass takes the items of many
deliveries in one transaction instead of a few, at the cost of up to 50 ms before a message is
applied while the worker is busy; a wake-up after a quiet interval is taken at once.

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
# The shortest interval between two passes of a worker's applier (`InboxListener`).
PASS_EVERY_S = 0.05


class InboxListener:
    """LISTEN on `handoff_inbox` and run `on_wake` for each wake-up (coalesced while one runs, and
    at most once every `every_s`)."""

    def __init__(
        self, database_url: str, on_wake: Callable[[], Awaitable[object]], *, every_s: float = PASS_EVERY_S
    ) -> None:
        self._url = database_url
        self._on_wake = on_wake
        self.every_s = every_s
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
        loop = asyncio.get_running_loop()
        last = -self.every_s
        while True:
            await self._woken.wait()
            # At most one pass every `every_s`: under a stream of deliveries the wake-ups of the
            # interval are folded into one pass (one transaction for their items); a wake-up after
            # a quiet interval is taken at once.
            if (due := last + self.every_s - loop.time()) > 0:
                await asyncio.sleep(due)
            self._woken.clear()  # a wake-up during the pass below runs one more pass
            last = loop.time()
            try:
                await self._on_wake()
            except Exception:
                log.exception("inbox_apply_failed")  # the background sweep applies it later
                await asyncio.sleep(1.0)

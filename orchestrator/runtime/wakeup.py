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

Statuses wait longer. The notification's payload is the kind of item stored (`message`,
`status`). A pass woken by messages applies messages only; the statuses are applied by a pass of
their own `STATUSES_AFTER_S` (1 s) after the first of them arrived, with all those that came
meanwhile, up to `turns.STATUS_BATCH` a transaction; a notification for statuses that arrives while
such a pass is due brings one more pass `STATUSES_AFTER_S` after it (the API process's next
notification may be up to `STATUS_WAKE_EVERY_S` away, and the statuses it stores until then
announce themselves through none). A status batch costs a worker about 3 ms of CPU
whatever its size and each status in it about 0.1 ms more, and Meta sends three statuses for every
reply, each in a webhook of its own: applied as they came, four or five a pass, they cost the worker
half a millisecond each. An acknowledge-only API process sends a notification for statuses alone at
most every `inbox.STATUS_WAKE_EVERY_S` (0.5 s), as the workers take the rest with the first. A
delivered or read tick reaches the reps' workspace up to a second or so later; messages are not
delayed.

Nothing depends on the notification arriving: the background sweep (`Service.tick`, every
`HANDOFF_TIMER_INTERVAL_S`) applies anything left unapplied, and a lost LISTEN connection is opened
again and followed by one pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from orchestrator.channels.whatsapp.inbound import ItemKind
from orchestrator.core.aio import being_cancelled, cancel_and_wait, finish_or_cancel
from orchestrator.core.listen import listen_forever
from orchestrator.inbox import Take

log = structlog.get_logger(__name__)

CHANNEL = "handoff_inbox"
# The shortest interval between two passes of a worker's applier (`InboxListener`).
PASS_EVERY_S = 0.05
# How long after the first of them a worker applies the statuses that arrived (`InboxListener`).
STATUSES_AFTER_S = 1.0
# On stop, a pass under way is given this long to finish its transaction before it is cancelled.
STOP_PASS_S = 10.0


class InboxListener:
    """LISTEN on `handoff_inbox` and run `on_wake` for the items its notifications announce: a pass
    for messages at once (wake-ups coalesced while one runs, and at most one pass every `every_s`),
    and one for statuses `statuses_after_s` after the first of them arrived, so they are applied in
    batches of many. A notification of another payload (an API process of an earlier release sends
    none), and (re)connecting, bring a pass that takes everything."""

    def __init__(
        self,
        database_url: str,
        on_wake: Callable[[Take], Awaitable[object]],
        *,
        every_s: float = PASS_EVERY_S,
        statuses_after_s: float = STATUSES_AFTER_S,
    ) -> None:
        self._url = database_url
        self._on_wake = on_wake
        self.every_s = every_s
        self.statuses_after_s = statuses_after_s
        self._woken = asyncio.Event()
        self._messages = False  # a pass for messages is due
        self._statuses = False  # a pass for statuses is due
        self._statuses_timer: asyncio.TimerHandle | None = None  # when statuses wait for their pass
        self._statuses_again = False  # statuses were announced while their pass was due: one more
        self._tasks: list[asyncio.Task[None]] = []
        self._passing = False  # a pass runs now
        self._passed = asyncio.Event()  # set at the end of each pass
        self._stopping = False
        self.listening = asyncio.Event()

    async def start(self, *, timeout_s: float = 10.0) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="inbox-listen"),
            asyncio.create_task(self._apply(), name="inbox-apply"),
        ]
        await asyncio.wait_for(self.listening.wait(), timeout=timeout_s)

    async def settled(self) -> None:
        """Wait until no pass runs and none is due now (a statuses pass waiting for its delay does
        not count). The tests' harness waits for it after each delivery: the pass that (re)connecting
        brings may take an item the webhook handed to the applier, which then skips it as locked."""
        while self._tasks and (self._passing or self._woken.is_set()):
            self._passed.clear()
            await self._passed.wait()

    async def stop(self, *, pass_within_s: float = STOP_PASS_S) -> None:
        """Stop listening; a pass under way finishes (up to `pass_within_s`) rather than being
        cancelled in the middle of its transaction, then the applier ends."""
        self._stopping = True
        if not self._tasks:
            return
        listen, *apply = self._tasks
        await cancel_and_wait([listen])
        self._woken.set()  # the applier wakes, sees the stop, and returns
        await finish_or_cancel(apply, within_s=pass_within_s)
        self._tasks = []
        if self._statuses_timer is not None:
            self._statuses_timer.cancel()
            self._statuses_timer = None

    def _notified(self, payload: str) -> None:
        if payload == ItemKind.MESSAGE:
            self._messages = True
            self._woken.set()
        elif payload != ItemKind.STATUS:  # items of any kind
            self._everything()
        elif self._statuses_timer is None and not self._statuses:
            self._statuses_timer = asyncio.get_running_loop().call_later(
                self.statuses_after_s, self._statuses_due
            )
        else:
            # A statuses pass is already due, and may come before this notification's statuses
            # and those an API process stores after it without notifying again (at most one
            # notification per `STATUS_WAKE_EVERY_S`): one more pass follows it.
            self._statuses_again = True

    def _statuses_follow_up(self) -> None:
        """After a statuses pass is taken: another, `statuses_after_s` later, if a notification for
        statuses arrived while it was due."""
        if self._statuses_again and self._statuses_timer is None:
            self._statuses_again = False
            self._statuses_timer = asyncio.get_running_loop().call_later(
                self.statuses_after_s, self._statuses_due
            )

    def _statuses_due(self) -> None:
        self._statuses_timer = None
        self._statuses = True
        self._woken.set()

    def _everything(self) -> None:
        """A pass for every kind, at once."""
        if self._statuses_timer is not None:
            self._statuses_timer.cancel()
        self._statuses_timer = None
        self._messages = self._statuses = True
        self._woken.set()

    async def _listen(self) -> None:
        async def connected(_again: bool) -> None:
            self._everything()  # what arrived before (or while the connection was lost)

        await listen_forever(
            self._url, CHANNEL, on_notify=self._notified, on_connect=connected, listening=self.listening
        )

    async def _apply(self) -> None:
        loop = asyncio.get_running_loop()
        last = -self.every_s
        while True:
            await self._woken.wait()
            if self._stopping:
                return
            # At most one pass every `every_s`: under a stream of deliveries the wake-ups of the
            # interval are folded into one pass (one transaction for their items); a wake-up after
            # a quiet interval is taken at once.
            if (due := last + self.every_s - loop.time()) > 0:
                await asyncio.sleep(due)
            self._woken.clear()  # a wake-up during the pass below runs one more pass
            messages, statuses = self._messages, self._statuses
            self._messages = self._statuses = False
            if statuses:
                self._statuses_follow_up()
            take = Take.ALL if statuses and messages else Take.STATUSES if statuses else Take.MESSAGES
            last = loop.time()
            self._passing = True
            try:
                await self._on_wake(take)
            except Exception:
                if being_cancelled():  # an error as the pass unwound from a cancellation
                    raise asyncio.CancelledError from None
                log.exception("inbox_apply_failed")  # the background sweep applies it later
                await asyncio.sleep(1.0)
            finally:
                self._passing = False
                self._passed.set()

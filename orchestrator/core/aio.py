"""Small asyncio helpers shared by the service's background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Iterable, Iterator

import structlog

log = structlog.get_logger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[None]], *, again_every_s: float = 1.0) -> None:
    """Cancel every task, then wait until each has finished unwinding. A task still running
    `again_every_s` later is cancelled again: one whose cancellation an error replaced as it unwound
    (a rollback on a connection the cancellation interrupted, then handled as an error of its work)
    would otherwise go on, and this wait with it, without end. A task that ends with an error
    instead of the cancellation has it logged."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=again_every_s)
    for task in tasks:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("task_ended_with_an_error", task=task.get_name(), error=repr(error)[:300])


async def finish_or_cancel(tasks: Iterable[asyncio.Task[None]], *, within_s: float) -> None:
    """Let the tasks finish what they are doing for up to `within_s` (a pass that is in the middle
    of its transaction commits rather than being interrupted), then cancel those still running and
    wait for them (`cancel_and_wait`). The tasks must have been told to stop before this: it only
    bounds how long their stop may take."""
    tasks = list(tasks)
    if pending := [task for task in tasks if not task.done()]:
        await asyncio.wait(pending, timeout=within_s)
    await cancel_and_wait(tasks)


def being_cancelled() -> bool:
    """Whether the running task has been asked to stop (`Task.cancelling`). A loop that handles its
    work's errors and goes on checks this first: an error raised while the task unwound from its
    cancellation must end it as the cancellation would have (`raise asyncio.CancelledError`)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def sleep_until(deadline: float) -> None:
    """Sleep until the running loop's clock (`loop.time()`) reaches `deadline`. Sleepers wake in
    the order of their deadlines, however late each got to set its timer: `asyncio.sleep(deadline -
    now)` with a `now` read earlier adds whatever ran in between (another task, or the process
    descheduled) to that sleeper's wake-up, so it could wake after one whose deadline was later."""
    loop = asyncio.get_running_loop()
    woken: asyncio.Future[None] = loop.create_future()
    timer = loop.call_at(deadline, _let_go, woken)
    try:
        await woken
    finally:
        timer.cancel()


class LoopLag:
    """How late the event loop runs what is due. A task of its own (`run`) sleeps `every_s` at a
    time and measures how much later than asked it woke: work that holds the loop (a long
    computation, a synchronous call) delays every request and turn of the process by as much.
    `take_max` returns the longest delay since it was last called and starts over (the heartbeat
    writes it, once an interval); a single delay of `warn_after_s` or more is logged when it ends
    (`event_loop_lagged`), long before the parent of forked processes takes a silent loop for a
    hung one (`HANDOFF_PROCESS_HANG_S`)."""

    def __init__(self, *, every_s: float = 0.1, warn_after_s: float = 1.0) -> None:
        self.every_s = every_s
        self.warn_after_s = warn_after_s
        self._max = 0.0

    async def run(self, *, until: asyncio.Event | None = None) -> None:
        """Measure until `until` is set (returning at once then: a stopping process does not wait
        for the next wake-up), or until cancelled."""
        loop = asyncio.get_running_loop()
        stop = until or asyncio.Event()
        while not stop.is_set():
            due = loop.time() + self.every_s
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(due):
                    await stop.wait()
            late = max(0.0, loop.time() - due)
            self._max = max(self._max, late)
            if late >= self.warn_after_s:
                log.warning("event_loop_lagged", seconds=round(late, 3))

    def take_max(self) -> float:
        longest, self._max = self._max, 0.0
        return longest


class Foreground:
    """Acknowledgements before background work, in one process. Requests that a caller waits on
    (a webhook delivery, which Meta retries when it is slow) are counted while they run
    (`serving`); background work (applying the inbox, bot turns, their sends) calls `yield_to`
    between its steps and waits while any is running, for at most `max_wait_s` at a time, so it
    slows down under a burst but never stops. The event loop runs whatever is ready in turn:
    without this, an acknowledgement waited behind every turn step queued before it. Once nothing
    is being served, the waiting steps are let go one per pass of the event loop, in arrival order,
    so a delivery arriving meanwhile waits for one step at most, not for all of them at once."""

    def __init__(self, *, max_wait_s: float = 0.25, recent_s: float = 0.05) -> None:
        self.max_wait_s = max_wait_s
        self.recent_s = recent_s
        self._busy = 0
        self._last_served = -math.inf  # monotonic time the last request was answered
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._releasing = False
        self._unresumed = 0  # steps waiting or let go whose task has not run on yet

    @property
    def busy(self) -> int:
        return self._busy

    @property
    def active(self) -> bool:
        """A request is being served, or one was answered within `recent_s`: more are likely to
        come while a background step runs."""
        return bool(self._busy) or time.monotonic() - self._last_served < self.recent_s

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            self._last_served = time.monotonic()
            if not self._busy and not self._releasing:
                self._release_next()

    async def yield_to(self, *, max_wait_s: float | None = None) -> None:
        """Return at once when nothing is being served and no step waits (or has been let go and
        not run on yet); else once this step's turn comes, or after `max_wait_s` (this step's own
        bound, if given: a step that is overdue waits less)."""
        # A step let go resumes on a later pass of the loop: one arriving meanwhile queues behind
        # it rather than overtaking it (its conversation would take the turn slot first).
        if not self._busy and not self._waiters and not self._unresumed:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        self._unresumed += 1
        if not self._busy and not self._releasing:
            # On the next pass: after the steps let go before this one have run on (a waiter
            # done here would not even suspend this step).
            self._releasing = True
            loop.call_soon(self._release_next)
        # Timed out: let go in place (the release passes over a waiter already done).
        wait = self.max_wait_s if max_wait_s is None else max_wait_s
        timer = loop.call_later(wait, _let_go, waiter)
        try:
            await waiter
        finally:
            self._unresumed -= 1
            timer.cancel()

    def _release_next(self) -> None:
        self._releasing = False
        if self._busy:
            return  # `serving` lets the rest go once the requests have been answered
        while self._waiters:
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            waiter.set_result(None)
            if self._waiters:
                self._releasing = True
                asyncio.get_running_loop().call_soon(self._release_next)
            return


def _let_go(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class GroupAdmission:
    """At most `capacity` holders at once, the others waiting in arrival order; once some wait,
    places freed are handed out in groups: the waiting are let in when `group` places are free (or
    as many as are waiting, when fewer wait), all of them in the same pass of the event loop. So
    what the admitted do first (a bot turn's lease and read) arrives together and can be done
    together (one transaction for the group), instead of one at a time as each place frees. A
    caller that finds no one waiting and a place free enters at once (a lone message waits for
    nothing)."""

    def __init__(self, capacity: int, *, group: int = 1) -> None:
        self.capacity = max(1, capacity)
        self.group = max(1, min(group, self.capacity))
        self.inside = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return sum(1 for waiter in self._waiting if not waiter.done())

    async def __aenter__(self) -> None:
        if not self._waiting and self.inside < self.capacity:
            self.inside += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # let in, then cancelled: give it back
                self._leave()
            else:
                self._waiting.remove(waiter)
                self._admit()  # a smaller group may be enough now
            raise

    async def __aexit__(self, *_exc: object) -> None:
        self._leave()

    def _leave(self) -> None:
        self.inside -= 1
        self._admit()

    def _admit(self) -> None:
        while self._waiting and self._waiting[0].done():
            self._waiting.popleft()
        free = self.capacity - self.inside
        if not self._waiting or free < min(self.group, len(self._waiting)):
            return
        while self._waiting and self.inside < self.capacity:
            waiter = self._waiting.popleft()
            if waiter.done():
                continue
            self.inside += 1
            waiter.set_result(None)

"""Worker processes forked from one parent that has loaded the libraries and the agents first.

A `handoff worker` started on its own imports LangGraph, SQLAlchemy, psycopg, the agents and their
lexicons for itself: about 150 MB of resident memory each, most of it the same in every process.
`handoff worker --processes N` loads them once, in a parent, and forks the N workers from it: the
processes share those pages copy-on-write for as long as none of them writes to one. The parent
freezes its heap just before forking (`gc.freeze`, as CPython's documentation advises for pre-fork
servers), so that a worker's garbage collector does not write to every inherited object it would
otherwise walk. What a worker writes (the reference counts of what it uses, its connections, its
compiled graph, its caches) becomes its own; `bench/fleet_memory.py` measures what stays shared.

The parent does nothing else. It starts a new worker when one dies (kill -9, the kernel's
out-of-memory killer, a crash), waiting longer each time one dies soon after starting, so that a
database that refuses every start is not hammered. Each worker's event loop beats on a pipe to the
parent every second (`start_beating`); a worker whose loop has been silent for longer than its
deadline (a call that blocks forever, a loop that never yields, SIGSTOP) is killed with SIGKILL and
replaced: its conversations' leases lapse and another worker resumes them. On SIGTERM or SIGINT
the parent passes the signal on and waits for the workers to finish their turns. A worker whose
parent is gone stops itself as SIGTERM would (`watch_parent`), so a parent killed with kill -9
leaves no orphans claiming work.

`handoff serve --workers N` runs its API processes the same way, each a uvicorn server on the
socket the parent bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

import structlog

log = structlog.get_logger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)
# A worker that exits sooner than this after it started is failing at start (the database refuses
# connections, a setting is wrong): the next one waits, twice as long each time, up to `MAX_PAUSE_S`.
QUICK_EXIT_S = 10.0
FIRST_PAUSE_S = 0.5
MAX_PAUSE_S = 30.0
# A forked process's event loop tells the parent it runs every `BEAT_EVERY_S`; one silent for
# `hang_after_s` (by default `DEFAULT_HANG_AFTER_S`, `HANDOFF_PROCESS_HANG_S`) is killed and replaced.
BEAT_EVERY_S = 1.0
DEFAULT_HANG_AFTER_S = 30.0
# A process sent SIGTERM (a stop, a reload) that has not exited this long after is killed (SIGKILL);
# one whose parent is gone ends itself as long after (`HANDOFF_STOP_GRACE_S`).
DEFAULT_STOP_WITHIN_S = 25.0
BEAT, READY = b".", b"!"
# A reload's new process that is not ready this long after it was forked ends the reload.
READY_WITHIN_S = 60.0

_beat_fd: int | None = None  # in a forked process: the pipe its event loop beats on


class _Child:
    """A forked process as the parent sees it."""

    __slots__ = ("beats", "heard", "killed", "ready", "retiring", "started", "told_to_stop")

    def __init__(self, beats: int, now: float) -> None:
        self.started = now
        self.beats: int | None = beats  # the read end of the pipe its event loop beats on
        self.heard = now  # its last beat (or its start)
        self.ready = False  # it said so (`ready`): serving, or claiming work
        self.killed = False  # as hung
        self.retiring = False  # replaced by a reload: stopping, not to be replaced again
        self.told_to_stop: float | None = None  # when it was sent SIGTERM (monotonic)


class Supervisor:
    """Forks `count` processes that each run `work()` (their exit code) and keeps that many
    running until told to stop. `run` returns 0 once they have all stopped cleanly after SIGTERM or
    SIGINT, 1 if one of them did not exit with 0 then.

    A process whose event loop has not beaten (`start_beating`) for `hang_after_s` seconds is killed
    with SIGKILL and replaced like any other that died: stuck in a call that blocks, in a loop that
    never yields, or stopped (SIGSTOP); `None` turns that off. The beat comes from the event loop
    itself, not from a thread, so a process whose threads run but whose loop is stuck counts as hung.

    SIGHUP replaces the processes one at a time (a reload: each new process reads the configuration
    file again as it starts): `check()` first, which names what is wrong with the configuration (the
    processes are then left as they are), then for each process a new one is forked, and once it is
    ready (`ready`) the old one is sent SIGTERM and finishes what it has in flight. A new process
    that dies, or is not ready within `READY_WITHIN_S`, ends the reload; the old ones go on.
    """

    def __init__(
        self,
        count: int,
        work: Callable[[], int],
        *,
        role: str = "worker",
        hang_after_s: float | None = DEFAULT_HANG_AFTER_S,
        stop_within_s: float = DEFAULT_STOP_WITHIN_S,
        check: Callable[[], str | None] | None = None,
    ) -> None:
        self.count = count
        self.work = work
        self.role = role
        self.hang_after_s = hang_after_s
        self.stop_within_s = stop_within_s
        self.children: dict[int, _Child] = {}
        self.stopping: int | None = None  # the signal that asked the fleet to stop
        self.quick_exits = 0  # in a row
        self.due: list[float] = []  # a heap: when the replacements of dead processes are forked
        self.clean = True
        self.check = check
        self.reload_asked = False
        self.rolling: list[int] = []  # the processes a reload has still to replace
        self.incoming: int | None = None  # the reload's new process, until it is ready
        self._wake = (-1, -1)  # the pipe signals wake the parent's wait on: read end, write end

    def run(self) -> int:
        wake, wake_write = self._wake = os.pipe()
        for fd in self._wake:
            os.set_blocking(fd, False)
        previous = {sig: signal.signal(sig, self._stop) for sig in SIGNALS}
        # SIGCHLD only has to interrupt the wait below: its handler does nothing, and the signal's
        # number written to the wake-up pipe ends the wait.
        previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, _ignore)
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._reload)
        previous_wakeup = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        try:
            # The heap as it is now is shared with every worker: collect the garbage once, then keep
            # the collector off in the parent (it allocates next to nothing from here) and freeze
            # what there is, so that no collection writes to the shared objects' pages.
            gc.disable()
            gc.collect()
            gc.freeze()
            for _ in range(self.count):
                self._fork()
            log.info(f"{self.role}_processes_started", processes=self.count, pids=sorted(self.children))
            while self.children or (self.due and self.stopping is None):
                self._wait()
                self._reap()
                self._kill_stuck()
                self._fork_due()
                self._roll()
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for child in self.children.values():  # left only if the loop above failed
                if child.beats is not None:
                    os.close(child.beats)
            os.close(wake)
            os.close(wake_write)
        signal_name = signal.Signals(self.stopping).name if self.stopping is not None else None
        log.info(f"{self.role}_processes_stopped", clean=self.clean, signal=signal_name)
        return 0 if self.clean else 1

    def _wait(self) -> None:
        """Until a signal arrives (a child exited, a stop), a process beats, the next replacement is
        due or a second has passed (to look for hung processes)."""
        timeout = 1.0
        if self.due and self.stopping is None:
            timeout = min(timeout, max(0.0, self.due[0] - time.monotonic()))
        beats = {child.beats: child for child in self.children.values() if child.beats is not None}
        ready, _, _ = select.select([self._wake[0], *beats], [], [], timeout)
        now = time.monotonic()
        for fd in ready:
            got, closed = _drain(fd)
            child = beats.get(fd)
            if child is None:
                continue
            if got:
                child.heard = now
                child.ready = child.ready or READY in got
            if closed:  # the process is exiting; it is reaped once it has
                os.close(fd)
                child.beats = None

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:  # none left
                return
            if pid == 0:  # none has exited
                return
            child = self.children.pop(pid, None)
            if child is None:
                continue
            if child.beats is not None:
                os.close(child.beats)
            code = os.waitstatus_to_exitcode(status)
            if self.stopping is not None:
                self.clean = self.clean and code == 0
                log.info(f"{self.role}_process_stopped", pid=pid, exit_code=code)
                continue
            if child.retiring:
                log.info(f"{self.role}_process_retired", pid=pid, exit_code=code)
                continue
            if pid == self.incoming:
                log.error(f"{self.role}_reload_failed", pid=pid, exit_code=code, left=len(self.rolling))
                self.incoming = None
                self.rolling.clear()
                continue
            if pid in self.rolling:  # died while a reload was on its way to it
                self.rolling.remove(pid)
                if self.incoming is not None:  # the reload's new process takes its place
                    self.incoming = None
                    self._rolled()
                    continue
            lived = time.monotonic() - child.started
            log.warning(f"{self.role}_process_exited", pid=pid, exit_code=code, lived_s=round(lived, 1))
            heapq.heappush(self.due, time.monotonic() + self._pause(lived))

    def _kill_stuck(self) -> None:
        """SIGKILL for a process whose loop is silent (hung), and for one told to stop that is
        still there `stop_within_s` later (a stop, or a reload's retirement, that does not end)."""
        now = time.monotonic()
        for pid, child in self.children.items():
            if child.killed:
                continue
            silent = now - child.heard
            if self.hang_after_s is not None and silent >= self.hang_after_s:
                log.error(f"{self.role}_process_hung", pid=pid, silent_s=round(silent, 1))
            elif child.told_to_stop is not None and now - child.told_to_stop >= self.stop_within_s:
                log.error(f"{self.role}_process_stop_overdue", pid=pid, waited_s=self.stop_within_s)
            else:
                continue
            with contextlib.suppress(ProcessLookupError):  # exited, not reaped yet
                os.kill(pid, signal.SIGKILL)
            child.killed = True  # reaped, then replaced (unless stopping), as any process that died

    def _roll(self) -> None:
        """A reload's next step: start one, fork the next new process, or retire an old one for the
        new process that is ready."""
        if self.stopping is not None:
            self.reload_asked, self.incoming = False, None
            self.rolling.clear()
            return
        if self.reload_asked:
            self.reload_asked = False
            if self.rolling or self.incoming is not None:
                log.warning(f"{self.role}_reload_ignored", reason="a reload is under way")
            else:
                problem = self.check() if self.check is not None else None
                if problem is not None:
                    log.error(f"{self.role}_reload_refused", error=problem)
                    return
                self.rolling = sorted(pid for pid, child in self.children.items() if not child.retiring)
                log.info(f"{self.role}_reload_started", processes=len(self.rolling))
        if self.incoming is not None:
            new = self.children[self.incoming]
            if not new.ready:
                waited = time.monotonic() - new.started
                if waited >= READY_WITHIN_S and not new.killed:
                    log.error(f"{self.role}_reload_not_ready", pid=self.incoming, waited_s=round(waited, 1))
                    os.kill(self.incoming, signal.SIGKILL)
                    new.killed = True  # reaped as the reload's failure
                return
            old = self.rolling.pop(0)
            self.children[old].retiring = True
            self.children[old].told_to_stop = time.monotonic()
            os.kill(old, signal.SIGTERM)
            self.incoming = None
            self._rolled()
        if self.rolling and self.incoming is None:
            try:
                self.incoming = self._fork()
            except OSError as exc:
                log.error(f"{self.role}_reload_failed", error=str(exc), left=len(self.rolling))
                self.rolling.clear()

    def _rolled(self) -> None:
        if not self.rolling:
            log.info(f"{self.role}_reload_finished", pids=sorted(self.children))

    def _fork_due(self) -> None:
        if self.stopping is not None:
            self.due.clear()
            return
        while self.due and self.due[0] <= time.monotonic():
            heapq.heappop(self.due)
            try:
                self._fork()
            except OSError as exc:  # out of processes or memory for now: tried again after a pause
                log.error(f"{self.role}_process_fork_failed", error=str(exc))
                heapq.heappush(self.due, time.monotonic() + self._pause(0.0))
                return

    def _fork(self) -> int:
        parent = os.getpid()
        beats, beat = os.pipe()
        for fd in (beats, beat):
            os.set_blocking(fd, False)
        # Signals are held across the fork: a SIGTERM landing in the child before it has reset the
        # parent's handler would have it signal its siblings.
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            os.close(beats)
            os.close(beat)
            raise
        if pid == 0:
            os.close(beats)
            self._child(parent, beat)  # never returns
        os.close(beat)
        self.children[pid] = _Child(beats, time.monotonic())
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        log.info(f"{self.role}_process_forked", pid=pid)
        return pid

    def _child(self, parent: int, beat: int) -> None:
        global _beat_fd
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for sig in (*SIGNALS, signal.SIGCHLD, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            for child in self.children.values():  # the parent's ends of the siblings' pipes
                if child.beats is not None:
                    os.close(child.beats)
            for fd in self._wake:
                os.close(fd)
            self.children.clear()
            _beat_fd = beat
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            gc.enable()
            watch_parent(parent, role=self.role, stop_within_s=self.stop_within_s)
            code = self.work()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # a worker's crash: its traceback, then the parent starts another
            log.exception(f"{self.role}_process_failed")
        finally:
            # Nothing may keep a child from ending here: returning, it would go on as a second
            # supervisor of its siblings.
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):  # a closed or broken stream
                    stream.flush()
            os._exit(code)

    def _pause(self, lived: float) -> float:
        """Before replacing a worker: nothing if it ran for a while, a pause that doubles each time
        if it died at start. A stop during the pause ends it."""
        if lived >= QUICK_EXIT_S:
            self.quick_exits = 0
            return 0.0
        self.quick_exits += 1
        pause = min(MAX_PAUSE_S, FIRST_PAUSE_S * 2.0 ** (self.quick_exits - 1))
        log.warning(f"{self.role}_process_restart_paused", seconds=pause, quick_exits=self.quick_exits)
        return pause

    def _reload(self, _sig: int, _frame: FrameType | None) -> None:
        self.reload_asked = True  # the main loop acts on it (no logging in a handler, see `_stop`)

    def _stop(self, sig: int, _frame: FrameType | None) -> None:
        # No logging here: the handler may run while the main thread is writing a line, and a
        # buffered stream refuses to be written to from inside its own write.
        self.stopping = sig
        now = time.monotonic()
        for pid, child in self.children.items():
            if child.told_to_stop is None:
                child.told_to_stop = now
            with contextlib.suppress(ProcessLookupError):  # exited, not reaped yet
                os.kill(pid, signal.SIGTERM)


def _ignore(_sig: int, _frame: FrameType | None) -> None:
    """SIGCHLD's handler in the parent: the wake-up pipe does the work."""


def _drain(fd: int) -> tuple[bytes, bool]:
    """What a non-blocking pipe held, and whether its writer has closed it."""
    got = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return got, False
        if not chunk:
            return got, True
        got += chunk


def start_beating(every_s: float = BEAT_EVERY_S) -> asyncio.Task[None] | None:
    """In a process a `Supervisor` forked, and from its event loop: a task that tells the parent,
    every `every_s`, that the loop runs. Nothing elsewhere (a process started on its own)."""
    fd = _beat_fd
    if fd is None:
        return None

    async def beat() -> None:
        while True:
            with contextlib.suppress(BlockingIOError, BrokenPipeError):  # full; the parent gone
                os.write(fd, BEAT)
            await asyncio.sleep(every_s)

    return asyncio.get_running_loop().create_task(beat(), name="beat-parent")


def watch_parent(
    parent: int,
    *,
    role: str = "worker",
    every_s: float = 1.0,
    stop_within_s: float = DEFAULT_STOP_WITHIN_S,
) -> threading.Thread:
    """Send this process SIGTERM (a graceful stop) once `parent`, which forked it, has ended: the
    process was then handed to another parent, which is how a process learns of it (no signal or
    event tells it). If it is still there `stop_within_s` later (its stop does not end, and no
    parent is left to kill it), it ends itself."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        log.warning(f"{role}_parent_gone", parent=parent)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(stop_within_s)
        log.error(f"{role}_stop_overdue", waited_s=stop_within_s)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(1)

    thread = threading.Thread(target=watch, name="watch-parent", daemon=True)
    thread.start()
    return thread


def ready() -> None:
    """In a process a `Supervisor` forked: tell the parent it is ready (serving, or claiming work),
    which a reload waits for before it stops the process this one replaces. Nothing elsewhere."""
    if _beat_fd is not None:
        with contextlib.suppress(BlockingIOError, BrokenPipeError):
            os.write(_beat_fd, READY)

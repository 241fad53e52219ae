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
database that refuses every start is not hammered. On SIGTERM or SIGINT it passes the signal on
and waits for the workers to finish their turns. A worker whose parent is gone stops itself as
SIGTERM would (`watch_parent`), so a parent killed with kill -9 leaves no orphans claiming work.

`handoff serve --workers N` runs its API processes the same way, each a uvicorn server on the
socket the parent bound.
"""

from __future__ import annotations

import contextlib
import gc
import os
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


class Supervisor:
    """Forks `count` processes that each run `work()` (their exit code) and keeps that many
    running until told to stop. `run` returns 0 once they have all stopped cleanly after SIGTERM or
    SIGINT, 1 if one of them did not exit with 0 then."""

    def __init__(self, count: int, work: Callable[[], int], *, role: str = "worker") -> None:
        self.count = count
        self.work = work
        self.role = role
        self.children: dict[int, float] = {}  # pid: when it started (monotonic)
        self.stopping: int | None = None  # the signal that asked the fleet to stop
        self.quick_exits = 0  # in a row

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._stop) for sig in SIGNALS}
        clean = True
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
            while self.children:
                pid, status = os.waitpid(-1, 0)  # resumed after a signal's handler (PEP 475)
                started = self.children.pop(pid, None)
                if started is None:
                    continue
                code = os.waitstatus_to_exitcode(status)
                if self.stopping is not None:
                    clean = clean and code == 0
                    log.info(f"{self.role}_process_stopped", pid=pid, exit_code=code)
                    continue
                lived = time.monotonic() - started
                log.warning(f"{self.role}_process_exited", pid=pid, exit_code=code, lived_s=round(lived, 1))
                self._pause(lived)
                if self.stopping is None:
                    self._fork()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        signal_name = signal.Signals(self.stopping).name if self.stopping is not None else None
        log.info(f"{self.role}_processes_stopped", clean=clean, signal=signal_name)
        return 0 if clean else 1

    def _fork(self) -> None:
        parent = os.getpid()
        # Signals are held across the fork: a SIGTERM landing in the child before it has reset the
        # parent's handler would have it signal its siblings.
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        pid = os.fork()
        if pid == 0:
            self._child(parent)  # never returns
        self.children[pid] = time.monotonic()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        log.info(f"{self.role}_process_forked", pid=pid)

    def _child(self, parent: int) -> None:
        code = 1
        try:
            for sig in SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            gc.enable()
            watch_parent(parent, role=self.role)
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

    def _pause(self, lived: float) -> None:
        """Before replacing a worker: nothing if it ran for a while, a growing pause if it died at
        start. The pause ends early on SIGTERM or SIGINT."""
        if lived >= QUICK_EXIT_S:
            self.quick_exits = 0
            return
        self.quick_exits += 1
        pause = min(MAX_PAUSE_S, FIRST_PAUSE_S * 2 ** (self.quick_exits - 1))
        log.warning(f"{self.role}_process_restart_paused", seconds=pause, quick_exits=self.quick_exits)
        until = time.monotonic() + pause
        while self.stopping is None and time.monotonic() < until:
            time.sleep(min(0.1, max(0.0, until - time.monotonic())))

    def _stop(self, sig: int, _frame: FrameType | None) -> None:
        # No logging here: the handler may run while the main thread is writing a line, and a
        # buffered stream refuses to be written to from inside its own write.
        self.stopping = sig
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):  # exited, not reaped yet
                os.kill(pid, signal.SIGTERM)


def watch_parent(parent: int, *, role: str = "worker", every_s: float = 1.0) -> threading.Thread:
    """Send this process SIGTERM (a graceful stop) once `parent`, which forked it, has ended: the
    process was then handed to another parent, which is how a process learns of it (no signal or
    event tells it)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        log.warning(f"{role}_parent_gone", parent=parent)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="watch-parent", daemon=True)
    thread.start()
    return thread

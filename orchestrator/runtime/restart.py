"""A reload (SIGHUP) of a process started on its own, and the listening socket it keeps across it.

`handoff serve --workers N` and `handoff worker --processes N` reload by replacing their forked
processes one at a time (`runtime.prefork`). A process started on its own (`handoff serve`, the
embedded default on SQLite; `handoff worker`; one process per container) has nobody to hand its
work to, so it starts again in place:

1. the configuration file is loaded and checked first; a file that does not load is refused
   (`api_reload_refused`, `worker_reload_refused`, with the reason) and the process goes on as it
   was;
2. the process stops as on SIGTERM: the open requests are answered and the turns in flight finish;
3. it replaces its program with a new run of the same command line (`execve`): the same process
   id (a container's first process stays its first process, a service manager keeps tracking it),
   the same environment, the configuration file and the `.env` file read again.

An API process keeps its listening socket open across the new start and hands it to the new run
as systemd's socket activation does (`LISTEN_PID`, `LISTEN_FDS`, the socket at descriptor 3):
connections that arrive while it starts again wait in the socket's queue, and are answered once it
serves, instead of being refused. The same protocol lets systemd hand the socket to `handoff
serve` in the first place (a `.socket` unit). From the end of one run to the start of the next,
SIGHUP is ignored (a disposition `execve` keeps): a second one sent meanwhile does not end the
process, and the new run reads the files as they are when it starts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import NoReturn

import structlog

log = structlog.get_logger(__name__)

# sd_listen_fds(3): the first socket a service manager hands over is descriptor 3.
FIRST_LISTEN_FD = 3
_LISTEN_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


class ListenError(Exception):
    """The service manager's sockets cannot be served (more than one, or not a listening socket)."""


def inherited_socket() -> socket.socket | None:
    """The listening socket handed to this process (`LISTEN_PID` is this process, `LISTEN_FDS` is
    1), or None. The variables are removed from the environment either way, as systemd advises, so
    that no process started from this one takes them for its own."""
    pid, count, _names = (os.environ.pop(name, None) for name in _LISTEN_VARIABLES)
    if pid is None or count is None or pid != str(os.getpid()):
        return None  # none, or meant for another process
    if count != "1":
        raise ListenError(f"LISTEN_FDS={count}: handoff serve listens on exactly one socket")
    sock = socket.socket(fileno=FIRST_LISTEN_FD)  # family and type read from the descriptor
    sock.set_inheritable(False)
    if sock.type != socket.SOCK_STREAM or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        sock.detach()
        raise ListenError(f"descriptor {FIRST_LISTEN_FD} is not a listening stream socket")
    return sock


class Reload:
    """What SIGHUP asks of a process started on its own. `hangup` (the loop's signal handler) checks
    the configuration with `check` (what is wrong with it, None if nothing) and, if it loads, asks
    the process to stop with `stop`; once it has stopped, `asked` tells the caller to `start_again`.
    """

    def __init__(self, role: str, check: Callable[[], str | None], stop: Callable[[], None]) -> None:
        self.role = role
        self.check = check
        self.stop = stop
        self.asked = False

    def listen(self, loop: asyncio.AbstractEventLoop) -> None:
        """SIGHUP calls `hangup` on `loop` from now on."""
        loop.add_signal_handler(signal.SIGHUP, self.hangup)

    def stop_listening(self, loop: asyncio.AbstractEventLoop) -> None:
        """SIGHUP is ignored from now on, across `start_again` too, until the next run listens (the
        loop's own handler would fall back to the default, which ends the process, as it closes)."""
        loop.remove_signal_handler(signal.SIGHUP)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def hangup(self) -> None:
        if self.asked:
            log.warning(f"{self.role}_reload_ignored", reason="a reload is under way")
            return
        problem = self.check()
        if problem is not None:
            log.error(f"{self.role}_reload_refused", error=problem)
            return
        self.asked = True
        log.info(f"{self.role}_reload_started", pid=os.getpid())
        self.stop()


def start_again(listening: socket.socket | None = None) -> NoReturn:
    """Replaces this process's program with a new run of the command line it was started with,
    handing it `listening` (kept open, so that connections wait in its queue meanwhile)."""
    env = {name: value for name, value in os.environ.items() if name not in _LISTEN_VARIABLES}
    if listening is not None:
        if listening.fileno() == FIRST_LISTEN_FD:
            os.set_inheritable(FIRST_LISTEN_FD, True)
        else:
            # The copy is inheritable; Python opens every other descriptor non-inheritable, and the
            # stopped run has closed its connections and files.
            os.dup2(listening.fileno(), FIRST_LISTEN_FD)
        env.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1")
    log.info("process_starting_again", pid=os.getpid())
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, env)

"""The supervisor of forked processes (`orchestrator.runtime.prefork`) in a real parent process:
processes that fail at start are replaced after pauses that double, a crash is logged with its
traceback, and SIGTERM ends the parent during a pause."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.faults.processes import alive, children

# Each forked process crashes at once, as one would whose database refuses every connection.
CRASHING = """
import sys
from orchestrator.runtime.prefork import Supervisor

def work() -> int:
    raise RuntimeError("the database refused the connection")

sys.exit(Supervisor(2, work).run())
"""


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)  # the console renderer's colours


def _supervise(
    tmp_path: Path, args: list[str], *, until: Callable[[str], bool], then_s: float = 0.0
) -> tuple[str, int]:
    """Run a supervisor's script (`python -c`) until its log satisfies `until`, `then_s` more, then
    SIGTERM it: its log (colours removed) and exit code."""
    log = tmp_path / "supervisor.log"
    with log.open("wb") as out:
        parent = subprocess.Popen([sys.executable, "-c", *args], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30  # a bound on the test, not a speed assertion
        while not until(_plain(log.read_text())):
            assert parent.poll() is None, _plain(log.read_text())[-3000:]
            assert time.monotonic() < deadline, _plain(log.read_text())[-3000:]
            time.sleep(0.05)
        time.sleep(then_s)
        parent.send_signal(signal.SIGTERM)
        code = parent.wait(timeout=10)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    return _plain(log.read_text()), code


def test_processes_failing_at_start_are_replaced_after_pauses_that_double(tmp_path: Path) -> None:
    # SIGTERM during the fourth pause, 4 s long.
    text, _ = _supervise(tmp_path, [CRASHING], until=lambda t: t.count("worker_process_restart_paused") >= 4)
    pauses = [float(s) for s in re.findall(r"worker_process_restart_paused\s+.*?seconds=([\d.]+)", text)]
    assert pauses[:4] == [0.5, 1.0, 2.0, 4.0]
    assert "RuntimeError: the database refused the connection" in text  # each crash with its traceback
    assert text.count("worker_process_failed") >= 4
    forked = re.findall(r"worker_process_forked\s+.*?pid=(\d+)", text)
    # The first two, then one after each of the first two pauses (the others, 2 and 4 s long, were
    # still running when the stop came).
    assert len(set(forked)) == len(forked) >= 4
    assert "worker_processes_stopped" in text


# The first process forked beats for a second, then blocks its event loop in a call that never
# returns (its threads go on running); the processes forked after it keep their loops running and
# stop on SIGTERM.
HANGING = """
import asyncio, os, signal, sys, time
from orchestrator.runtime.prefork import Supervisor, start_beating

FIRST = sys.argv[1]

def work() -> int:
    async def main() -> None:
        beating = start_beating(every_s=0.2)
        assert beating is not None
        try:
            os.close(os.open(FIRST, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            stop = asyncio.Event()
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()
            return
        await asyncio.sleep(1.0)
        time.sleep(3600)

    asyncio.run(main())
    return 0

sys.exit(Supervisor(1, work, hang_after_s=2.0).run())
"""


def test_a_process_whose_event_loop_is_stuck_is_killed_and_replaced(tmp_path: Path) -> None:
    # Then twice the deadline: the replacement, whose loop runs, is left alone.
    text, code = _supervise(
        tmp_path,
        [HANGING, str(tmp_path / "first")],
        until=lambda t: "worker_process_hung" in t,
        then_s=4.0,
    )
    forked = re.findall(r"worker_process_forked\s+.*?pid=(\d+)", text)
    hung = re.findall(r"worker_process_hung\s+.*?pid=(\d+)", text)
    assert hung == forked[:1], text  # the first process only, once
    assert re.search(rf"worker_process_exited\s+.*?exit_code=-9.*?pid={hung[0]}", text), text
    assert len(forked) == 2, text  # and one in its place
    assert code == 0, text  # the replacement stopped cleanly on SIGTERM


# The first process exits after a moment; forking its replacement fails once (as when the machine
# is out of processes), then succeeds. The replacement runs until SIGTERM.
FORK_FAILS_ONCE = """
import errno, os, signal, sys, time
from orchestrator.runtime.prefork import Supervisor

FIRST = sys.argv[1]
real_fork, forks = os.fork, []

def fork() -> int:
    forks.append(1)
    if len(forks) == 2:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
    return real_fork()

os.fork = fork

def work() -> int:
    try:
        os.close(os.open(FIRST, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            time.sleep(1)
    time.sleep(0.3)
    return 0

sys.exit(Supervisor(1, work, hang_after_s=None).run())
"""


def test_a_replacement_that_cannot_be_forked_is_tried_again_after_a_pause(tmp_path: Path) -> None:
    text, code = _supervise(
        tmp_path,
        [FORK_FAILS_ONCE, str(tmp_path / "first")],
        until=lambda t: t.count("worker_process_forked") >= 2,
        then_s=0.5,  # the replacement's own SIGTERM handler set
    )
    assert "worker_process_fork_failed" in text, text
    assert "Resource temporarily unavailable" in text
    failed = text.index("worker_process_fork_failed")
    assert text.index("worker_process_restart_paused", failed) > failed
    assert len(re.findall(r"worker_process_forked\s+.*?pid=(\d+)", text)) == 2, text
    assert code == 0, text  # the parent carried on, and its replacement stopped cleanly


# A process that ignores SIGTERM (a stop that never ends: shutdown waiting on something forever).
STUBBORN = """
import signal, sys, time
from orchestrator.runtime.prefork import Supervisor

def work() -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("stubborn_started", flush=True)
    while True:
        time.sleep(1)

sys.exit(Supervisor(1, work, hang_after_s=None, stop_within_s=1.0).run())
"""


def test_a_process_that_does_not_stop_in_time_is_killed_and_the_parent_says_so(tmp_path: Path) -> None:
    text, code = _supervise(tmp_path, [STUBBORN], until=lambda t: "stubborn_started" in t)
    assert "worker_process_stop_overdue" in text, text
    assert re.search(r"worker_process_stopped\s+.*?exit_code=-9", text), text
    assert code == 1, "a stop that had to kill is not a clean one"


def test_a_process_whose_parent_is_gone_ends_itself_if_its_stop_does_not(tmp_path: Path) -> None:
    log = tmp_path / "supervisor.log"
    with log.open("wb") as out:
        parent = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30  # a bound on the test, not a speed assertion
        while "stubborn_started" not in log.read_text():
            assert time.monotonic() < deadline, _plain(log.read_text())
            time.sleep(0.05)
        (child,) = children(parent.pid)
        parent.kill()
        parent.wait()
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    left = alive(child)
    if left:
        os.kill(child, signal.SIGKILL)
    text = _plain(log.read_text())
    assert not left, text
    assert "worker_parent_gone" in text
    assert "worker_stop_overdue" in text

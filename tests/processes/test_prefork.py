"""The supervisor of forked processes (`orchestrator.runtime.prefork`) in a real parent process:
processes that fail at start are replaced after pauses that double, a crash is logged with its
traceback, and SIGTERM ends the parent during a pause."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def test_processes_failing_at_start_are_replaced_after_pauses_that_double(tmp_path: Path) -> None:
    log = tmp_path / "supervisor.log"
    with log.open("wb") as out:
        parent = subprocess.Popen([sys.executable, "-c", CRASHING], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30  # 0.5 + 1 + 2 s of pauses, and the starts
        while _plain(log.read_text()).count("worker_process_restart_paused") < 4:
            assert parent.poll() is None, _plain(log.read_text())[-3000:]
            assert time.monotonic() < deadline, _plain(log.read_text())[-3000:]
            time.sleep(0.05)
        parent.send_signal(signal.SIGTERM)  # during the fourth pause, 4 s long
        parent.wait(timeout=10)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    text = _plain(log.read_text())
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
    log = tmp_path / "supervisor.log"
    first = tmp_path / "first"
    with log.open("wb") as out:
        parent = subprocess.Popen(
            [sys.executable, "-c", HANGING, str(first)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30  # a bound on the test, not a speed assertion
        while "worker_process_hung" not in _plain(log.read_text()):
            assert parent.poll() is None, _plain(log.read_text())[-3000:]
            assert time.monotonic() < deadline, _plain(log.read_text())[-3000:]
            time.sleep(0.05)
        time.sleep(4.0)  # twice the deadline: the replacement, whose loop runs, is left alone
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=10)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    text = _plain(log.read_text())
    forked = re.findall(r"worker_process_forked\s+.*?pid=(\d+)", text)
    hung = re.findall(r"worker_process_hung\s+.*?pid=(\d+)", text)
    assert hung == forked[:1], text  # the first process only, once
    assert re.search(rf"worker_process_exited\s+.*?exit_code=-9.*?pid={hung[0]}", text), text
    assert len(forked) == 2, text  # and one in its place
    assert parent.returncode == 0, text  # the replacement stopped cleanly on SIGTERM

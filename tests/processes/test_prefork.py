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
    assert len(set(forked)) == len(forked) >= 5  # the first two, then one after each pause
    assert "worker_processes_stopped" in text

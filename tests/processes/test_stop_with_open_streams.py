"""`handoff serve` asked to stop while reps have the workspace open: a real OS process, its event
streams open over real HTTP, stopped by SIGTERM as a deployment stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.fakes.servers import free_port
from tests.processes.test_worker import _wait_healthy

STOP_BOUND_S = 30  # a bound on stopping (a deployment's grace period), not a speed assertion


def test_sigterm_ends_the_open_event_streams_and_the_process_stops(tmp_path: Path) -> None:
    env = {**os.environ, "HANDOFF_DATABASE_URL": f"sqlite:///{tmp_path / 'handoff.db'}"}
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.runtime.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    opened = threading.Barrier(3, timeout=30)
    ended: list[str] = []

    def read_stream(rep: str) -> None:
        # As a browser's EventSource: no read timeout, open for as long as the server keeps it.
        headers = {"Authorization": f"Bearer demo-{rep}"}
        timeout = httpx.Timeout(10.0, read=None)
        with httpx.stream("GET", f"{url}/api/stream", headers=headers, timeout=timeout) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")
            opened.wait()
            for _ in lines:  # until the server ends the stream
                pass
        ended.append(rep)

    readers = [threading.Thread(target=read_stream, args=(rep,), daemon=True) for rep in ("tara", "diego")]
    try:
        _wait_healthy(process, url)
        for reader in readers:
            reader.start()
        opened.wait()
        process.send_signal(signal.SIGTERM)
        # uvicorn raises the signal again once it has shut down: the process ends by it.
        assert process.wait(timeout=STOP_BOUND_S) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    for reader in readers:
        reader.join(timeout=10)
    assert sorted(ended) == ["diego", "tara"], "each stream was ended by the server, not cut"
    assert "Application shutdown complete" in log.read_text()

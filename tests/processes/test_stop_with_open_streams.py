"""`handoff serve` asked to stop while reps have the workspace open: a real OS process, its event
streams open over real HTTP, stopped by SIGTERM as a deployment stops it."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import httpx

from tests.processes.serving import serving

STOP_BOUND_S = 30  # a bound on stopping (a deployment's grace period), not a speed assertion


def test_sigterm_ends_the_open_event_streams_and_the_process_stops(tmp_path: Path) -> None:
    env = {**os.environ, "HANDOFF_DATABASE_URL": f"sqlite:///{tmp_path / 'handoff.db'}"}
    opened = threading.Barrier(3, timeout=30)
    ended: list[str] = []

    def read_stream(url: str, rep: str) -> None:
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

    with serving(tmp_path, env) as served:
        readers = [
            threading.Thread(target=read_stream, args=(served.url, rep), daemon=True)
            for rep in ("tara", "diego")
        ]
        for reader in readers:
            reader.start()
        opened.wait()
        served.process.send_signal(signal.SIGTERM)
        # uvicorn raises the signal again once it has shut down: the process ends by it.
        assert served.process.wait(timeout=STOP_BOUND_S) in (0, -signal.SIGTERM)
    for reader in readers:
        reader.join(timeout=10)
    assert sorted(ended) == ["diego", "tara"], "each stream was ended by the server, not cut"
    assert "Application shutdown complete" in served.log.read_text()

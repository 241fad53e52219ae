"""`handoff serve` as one real process on SQLite, the embedded default: a stop on SIGTERM is a clean
exit (status 0, what a container engine and `make run` report), and a port already taken is said in
one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.processes.serving import serving


def test_sigterm_stops_a_process_on_its_own_with_status_0_and_a_taken_port_is_named(
    sqlite_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "HANDOFF_DATABASE_URL": sqlite_url}
    with serving(tmp_path, env) as served:
        port = served.url.rsplit(":", 1)[1]
        second = subprocess.run(
            [sys.executable, "-m", "orchestrator.runtime.cli", "serve", "--port", port],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        served.process.terminate()
        code = served.process.wait(timeout=30)
    assert code == 0, served.log.read_text()[-2000:]
    assert second.returncode == 2
    assert second.stderr.strip().splitlines()[-1] == f"cannot start: cannot listen on 127.0.0.1:{port}"

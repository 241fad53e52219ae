"""`handoff serve` as one real process on SQLite, the embedded default: a stop on SIGTERM is a clean
exit (status 0, what a container engine and `make run` report), and a port already taken is said in
one line."""

from __future__ import annotations

import os
from pathlib import Path

from tests.processes.serving import run_handoff, serving


def test_sigterm_stops_a_process_on_its_own_with_status_0_and_a_taken_port_is_named(
    sqlite_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "HANDOFF_DATABASE_URL": sqlite_url}
    with serving(tmp_path, env) as served:
        port = served.url.rsplit(":", 1)[1]
        second = run_handoff(env, "serve", "--port", port)
        served.process.terminate()
        code = served.process.wait(timeout=30)
    assert code == 0, served.log.read_text()[-2000:]
    assert second.returncode == 2
    assert second.stderr.strip().splitlines()[-1] == f"cannot start: cannot listen on 127.0.0.1:{port}"

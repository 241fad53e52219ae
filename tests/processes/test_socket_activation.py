"""`handoff serve` given its listening socket by a service manager, as systemd's socket activation
does (the socket at descriptor 3, `LISTEN_PID` the process, `LISTEN_FDS=1`), as a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.fakes.servers import free_port
from tests.processes.serving import json_events
from tests.processes.test_worker import _wait_healthy

# What a service manager does in the process it forked, before it starts the service: the socket
# at descriptor 3, LISTEN_PID set to that process's own id (which `exec` keeps), LISTEN_FDS.
_LAUNCHER = """
import os, sys
fd, count, *command = sys.argv[1:]
os.dup2(int(fd), 3)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=count)
os.execv(command[0], command)
"""


def _activated(sock: socket.socket, count: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`handoff serve` started as a service manager starts an activated service, `sock` handed over."""
    command = [sys.executable, "-m", "orchestrator.runtime.cli", "serve", "--port", str(free_port())]
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(sock.fileno()), count, *command],
            env=env,
            pass_fds=(sock.fileno(),),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_serve_listens_on_the_socket_a_service_manager_hands_it(sqlite_url: str, tmp_path: Path) -> None:
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    log = tmp_path / "serve.log"
    process = _activated(
        listening, "1", {**os.environ, "HANDOFF_DATABASE_URL": sqlite_url, "HANDOFF_LOG_JSON": "true"}, log
    )
    listening.close()  # the service's own copy is the one that listens now
    try:
        _wait_healthy(process, f"http://127.0.0.1:{port}")
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert answer.status_code == 200
    assert "Uvicorn running on" not in log.read_text(), "it bound no socket of its own"
    listening_on = [e for e in json_events(log) if e["event"] == "listening_on_inherited_socket"]
    assert [e["address"] for e in listening_on] == [f"127.0.0.1:{port}"]


def test_serve_refuses_more_than_one_socket_handed_to_it(sqlite_url: str, tmp_path: Path) -> None:
    listening = socket.create_server(("127.0.0.1", 0))
    log = tmp_path / "serve.log"
    process = _activated(
        listening, "2", {**os.environ, "HANDOFF_DATABASE_URL": sqlite_url, "HANDOFF_LOG_JSON": "true"}, log
    )
    listening.close()
    code = process.wait(timeout=60)
    assert code == 2
    assert "cannot start: LISTEN_FDS=2: handoff serve listens on exactly one socket" in log.read_text()

"""`handoff serve` as a real OS process for the process tests: started on a free port with its log
in a file, stopped (SIGTERM) when the test is done with it, if it has not stopped already; another
`handoff` command run to its end; and what those tests read of a running service: its JSON log, the
hand-off message its configuration gives."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.servers import free_port
from tests.processes.test_worker import _wait_healthy


@dataclass(frozen=True)
class Serving:
    process: subprocess.Popen[bytes]
    url: str
    log: Path


@contextmanager
def serving(tmp_path: Path, env: Mapping[str, str], *args: str, cwd: Path | None = None) -> Iterator[Serving]:
    """`handoff serve *args` with `env` (and the `.env` file of `cwd`, if given), healthy; its log
    (stdout and stderr) in `tmp_path/serve.log`."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:  # a file: a pipe nobody reads would block the process once full
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.runtime.cli", "serve", *args, "--port", str(port)],
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(process, url)
        yield Serving(process, url, log)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_handoff(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`handoff *args` run to its end with `env`, its output captured as text (bounded)."""
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.runtime.cli", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def json_events(log: Path) -> list[dict[str, Any]]:
    """The JSON lines of a log written with `HANDOFF_LOG_JSON=true` (uvicorn's and the service's), in
    order; other lines (a warning printed before logging was set up) are left out."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def handoff_message(url: str) -> str:
    """The English hand-off message in force in the process a new connection reaches."""
    with httpx.Client() as client:
        response = client.get(f"{url}/api/admin/config", headers={"Authorization": "Bearer demo-admin"})
    response.raise_for_status()
    return str(response.json()["messages"]["handoff_assigned"]["en"])


def english_handoff_message(config_text: str) -> str:
    """The English hand-off message a configuration file's text gives (to edit it in a test)."""
    line = next(
        line for line in config_text.splitlines() if line.strip().startswith("en: \"Thanks! I've passed")
    )
    return line.split('"')[1]

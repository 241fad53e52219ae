"""`handoff serve` as a real OS process for the tests of this folder: started on a free port with
its log in a file, stopped (SIGTERM) when the test is done with it, if it has not stopped already."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.servers import free_port
from tests.processes.test_worker import _wait_healthy


@dataclass(frozen=True)
class Serving:
    process: subprocess.Popen[bytes]
    url: str
    log: Path


@contextmanager
def serving(tmp_path: Path, env: Mapping[str, str], *args: str) -> Iterator[Serving]:
    """`handoff serve *args` with `env`, healthy; its log (stdout and stderr) in `tmp_path/serve.log`."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:  # a file: a pipe nobody reads would block the process once full
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.runtime.cli", "serve", *args, "--port", str(port)],
            env=dict(env),
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

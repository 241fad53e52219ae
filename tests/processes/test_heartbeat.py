"""`handoff worker` and `handoff serve` processes watched through their heartbeats, as a container's
health check sees them (`handoff alive`): alive while it runs, silent once killed with `kill -9`,
and gone from the list once it stops on SIGTERM; acknowledge-only API processes beat too."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.processes.serving import run_handoff, serving
from tests.processes.test_worker import _start

pytestmark = pytest.mark.postgres
INTERVAL_S = 0.3


def _alive(env: dict[str, str], role: str = "worker") -> tuple[int, str]:
    done = run_handoff(env, "alive", "--role", role)
    return done.returncode, done.stdout.strip()


def _until(check: str, env: dict[str, str], *, within: float = 30.0, role: str = "worker") -> str:
    """`handoff alive`'s line once it starts with `check` (bounded)."""
    deadline = time.monotonic() + within
    while True:
        code, line = _alive(env, role)
        if line.startswith(check):
            return line
        assert time.monotonic() < deadline, f"still {line!r} (exit {code})"
        time.sleep(0.2)


def _rows(url: str) -> list[tuple[str, int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [(r.role, r.pid) for r in conn.execute(text("SELECT role, pid FROM processbeat"))]
    finally:
        engine.dispose()


def test_a_killed_worker_goes_silent_and_a_stopped_one_leaves(postgres_url: str) -> None:
    env = {**os.environ, "HANDOFF_DATABASE_URL": postgres_url, "HANDOFF_TIMER_INTERVAL_S": str(INTERVAL_S)}
    assert _alive(env) == (1, f"not running: no worker process on {os.uname().nodename} has beaten")

    killed = _start(["worker"], env)
    try:
        assert _until("alive:", env).startswith("alive: 1 worker process(es)")
        assert _rows(postgres_url) == [("worker", killed.pid)]
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
    assert _until("silent:", env).startswith("silent: no worker process")
    assert _alive(env)[0] == 1
    assert _rows(postgres_url) == [("worker", killed.pid)]  # it could not say it was going

    stopped = _start(["worker"], env)
    try:
        _until("alive:", env)
    finally:
        stopped.send_signal(signal.SIGTERM)
        assert stopped.wait(timeout=30) == 0
    assert _rows(postgres_url) == [("worker", killed.pid)]  # the stopped one removed itself


def test_acknowledge_only_api_processes_beat_for_the_api_containers_health_check(
    postgres_url: str, tmp_path: Path
) -> None:
    """The layout of `compose.yaml`: API processes without a background loop or turns."""
    env = {
        **os.environ,
        "HANDOFF_DATABASE_URL": postgres_url,
        "HANDOFF_TIMER_INTERVAL_S": str(INTERVAL_S),
        "HANDOFF_RUN_BACKGROUND": "false",
        "HANDOFF_RUN_TURNS": "false",
    }
    with serving(tmp_path, env, "--workers", "2") as served:
        line = _until("alive: 2", env, role="api")
        assert line.startswith("alive: 2 api process(es)")
        assert sorted(role for role, _ in _rows(postgres_url)) == ["api", "api"]
        served.process.terminate()
        assert served.process.wait(timeout=30) == 0
    assert _rows(postgres_url) == []  # each removed its row as it stopped
    assert _alive(env, "api")[0] == 1

"""SIGHUP to a process started on its own (`handoff serve` on SQLite, `handoff worker` on
PostgreSQL), as real OS processes under a load of signed deliveries: it starts again in place (the
same process id) with the edited configuration file, nothing delivered is lost or answered twice,
no new connection is refused or reset while it starts again, and a configuration that does not load
is refused with the process left as it was."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.core.config import default_config_text
from tests.fakes.graph import FakeGraphAPI
from tests.faults.processes import SECRET, Server, acknowledge_only_api, deliveries, post_all, wait_quiet
from tests.processes.serving import english_handoff_message, handoff_message, json_events

DELIVERIES = 120
SENDERS = 30
EDITED = "Thanks! ${rep_name} of ${queue_name} takes it from here."


def _named(log: Path, event: str) -> list[dict[str, Any]]:
    return [e for e in json_events(log) if e["event"] == event]


def _starts(log: Path) -> list[str]:
    """uvicorn's "Started server process [pid]" lines, one per start of the program."""
    return [e["event"] for e in _starts_logged(log)]


def _starts_logged(log: Path) -> list[dict[str, Any]]:
    return [e for e in json_events(log) if e["event"].startswith("Started server process")]


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


async def _until(condition: Any, log: Path, *, within: float = 60) -> None:
    """Waits for `condition()` (a bound on a start, not a speed assertion)."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, _tail(log)
        await asyncio.sleep(0.1)


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


def _edited_config(path: Path) -> None:
    """The default configuration with the English hand-off message replaced by `EDITED`."""
    original = default_config_text()
    path.write_text(original.replace(english_handoff_message(original), EDITED, 1))


class _NewConnections:
    """A thread asking `/healthz` on a new connection each time, counting what was not answered 200
    (a refused connection, a reset, an error status)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answered = 0
        self.spans: list[tuple[float, float]] = []  # each request answered 200: sent, answered
        self.failures: list[str] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._ask)

    def _ask(self) -> None:
        while not self._done.is_set():
            sent = time.time()
            try:
                with httpx.Client(timeout=30) as client:
                    status = client.get(f"{self.url}/healthz").status_code
                self.answered += 1
                if status != 200:
                    self.failures.append(str(status))
                else:
                    self.spans.append((sent, time.time()))
            except httpx.HTTPError as exc:
                self.failures.append(repr(exc))
            time.sleep(0.01)

    def __enter__(self) -> _NewConnections:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


def _configured(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A configuration file (the default's text, to be edited) and the settings that name it."""
    config = tmp_path / "config.yaml"
    config.write_text(default_config_text())
    return config, {"HANDOFF_CONFIG": str(config), "HANDOFF_LOG_JSON": "true"}


async def _reloaded_under_load(
    pid: int,
    api: Server,
    fake: FakeGraphAPI,
    database_url: str,
    config: Path,
    log: Path,
    started_again: Callable[[], bool],
    meanwhile: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, int]:
    """Posts the deliveries to `api`; a third of the way in, edits `config` and sends `pid` SIGHUP
    (then `meanwhile`), waits for `started_again` and the load's end; the counts once quiet."""
    fake.status_webhooks, fake.app_secret = [api.url], SECRET
    acked: set[str] = set()
    items = deliveries(DELIVERIES, senders=SENDERS, at=int(time.time()))
    load = asyncio.create_task(post_all([api], items, concurrency=8, acked=acked))
    await _until(lambda: len(acked) >= DELIVERIES // 3, log)
    _edited_config(config)
    os.kill(pid, signal.SIGHUP)
    if meanwhile is not None:
        await meanwhile()
    await _until(started_again, log)
    await load
    return (await wait_quiet(database_url, fake, acked, within=30)).as_dict()


def _check(result: dict[str, int]) -> None:
    assert result["delivered"] == DELIVERIES, "every delivery was retried until answered 200"
    assert result["stored"] == result["delivered"]
    assert result["answered"] == result["stored"]
    assert result["doubled"] == 0, "a stop that finishes its turns and sends resends nothing"
    assert result["resent"] == 0
    assert result["stuck"] == 0
    assert result["orphaned"] == 0


async def test_sighup_starts_a_lone_serve_again_in_place_without_losing_or_refusing_anything(
    sqlite_url: str, graph: tuple[FakeGraphAPI, str], tmp_path: Path
) -> None:
    fake, graph_url = graph
    config, env = _configured(tmp_path)
    log = tmp_path / "serve.log"
    server = Server(sqlite_url, graph_url, log, env=env)
    await asyncio.to_thread(server.start)
    assert server.process is not None
    pid = server.process.pid

    async def more_hangups() -> None:
        # More SIGHUPs while the process stops, and while its new run starts, are ignored, not
        # fatal (the new run takes a second to import before it listens).
        await _until(lambda: _named(log, "api_reload_started"), log)
        os.kill(pid, signal.SIGHUP)
        await _until(lambda: _named(log, "process_starting_again"), log)
        os.kill(pid, signal.SIGHUP)

    try:
        with _NewConnections(server.url) as asking:
            result = await _reloaded_under_load(
                pid, server, fake, sqlite_url, config, log, lambda: len(_starts(log)) == 2, more_hangups
            )
        message_after = await asyncio.to_thread(handoff_message, server.url)

        # A configuration that does not load is refused: the process goes on as it was.
        config.write_text("queues: [not, a, mapping")
        os.kill(pid, signal.SIGHUP)
        await _until(lambda: _named(log, "api_reload_refused"), log)
        still = (await asyncio.to_thread(httpx.get, f"{server.url}/healthz")).status_code
        message_kept = await asyncio.to_thread(handoff_message, server.url)
    finally:
        server.stop()
    print("\nreload counts:", json.dumps(result), "new connections:", asking.answered)
    _check(result)
    assert asking.failures == [], asking.failures[:5]
    # A request waited in the socket's queue while no program served it, and was answered by the new
    # run: sent before the new run served, answered after the old one had gone.
    gone, serving_again = _at(_named(log, "process_starting_again")[0]), _at(_starts_logged(log)[1])
    assert any(sent < serving_again and answered > gone for sent, answered in asking.spans), asking.spans
    assert _starts(log) == [f"Started server process [{pid}]"] * 2, "started again as the same process"
    assert len(_named(log, "api_reload_started")) == 1
    assert _named(log, "api_reload_ignored"), "the SIGHUP sent while it stopped"
    assert message_after == EDITED, "the new start read the edited configuration"
    assert still == 200
    assert message_kept == EDITED
    assert "not valid YAML" in _named(log, "api_reload_refused")[0]["error"]
    assert len(_starts(log)) == 2, "a refused reload does not start the process again"


@pytest.mark.postgres
async def test_sighup_starts_a_lone_worker_again_in_place_and_it_answers_everything(
    postgres_url: str, graph: tuple[FakeGraphAPI, str], tmp_path: Path
) -> None:
    fake, graph_url = graph
    config, env = _configured(tmp_path)
    api = acknowledge_only_api(postgres_url, tmp_path / "api.log", env=env)
    log = tmp_path / "worker.log"
    worker = Server(postgres_url, graph_url, log, role="worker", env=env)
    await asyncio.to_thread(api.start)
    await asyncio.to_thread(worker.start)
    assert worker.process is not None
    pid = worker.process.pid
    try:
        result = await _reloaded_under_load(
            pid, api, fake, postgres_url, config, log, lambda: len(_named(log, "worker_started")) == 2
        )

        config.write_text("queues: [not, a, mapping")
        os.kill(pid, signal.SIGHUP)
        await _until(lambda: _named(log, "worker_reload_refused"), log)
        running = worker.running
        assert worker.process is not None
        worker.process.terminate()
        code = await asyncio.to_thread(worker.process.wait, 30)
    finally:
        worker.stop()
        api.stop()
    print("\nworker reload counts:", json.dumps(result))
    _check(result)
    assert [e["pid"] for e in _named(log, "worker_started")] == [pid, pid], "the same process"
    assert len(_named(log, "worker_reload_started")) == 1
    assert _named(log, "worker_stopped"), "the first run stopped as on SIGTERM before starting again"
    assert running, "a refused reload leaves the worker running"
    assert len(_named(log, "worker_started")) == 2
    assert code == 0, _tail(log)

"""`handoff worker --processes N` as real OS processes on PostgreSQL, behind an acknowledge-only
API: a parent that loaded the agents forks the workers. One of them killed with kill -9 under load,
or hung (stopped with SIGSTOP: its event loop no longer runs), is replaced and nothing is lost,
doubled or stuck; SIGTERM stops them all after their turns; a parent killed with kill -9 leaves no
worker behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from orchestrator.core.db import sync_url
from orchestrator.runtime.turns import INTERRUPTED_TURNS_LIMIT
from tests.fakes.graph import FakeGraphAPI
from tests.fakes.openai_server import ScriptedOpenAI
from tests.fakes.servers import serve_in_thread
from tests.faults.processes import (
    SECRET,
    Server,
    acknowledge_only_api,
    alive,
    children,
    deliveries,
    post_all,
    wait_quiet,
)
from tests.faults.test_dependencies import Outage
from tests.faults.test_kill9 import DELIVERIES, SENDERS, _check

pytestmark = pytest.mark.postgres
PROCESSES = 2
HANG_S = 5  # a worker whose event loop is silent this long is killed and replaced


def _fleet(
    postgres_url: str, graph_url: str, tmp_path: Path, *, env: dict[str, str] | None = None
) -> tuple[Server, Server]:
    api = acknowledge_only_api(postgres_url, tmp_path / "api.log")
    workers = Server(
        postgres_url,
        graph_url,
        tmp_path / "workers.log",
        role="worker",
        processes=PROCESSES,
        env={"HANDOFF_TIMER_INTERVAL_S": "0.5", "HANDOFF_PROCESS_HANG_S": str(HANG_S), **(env or {})},
        timeout_s=60.0,
    )
    return api, workers


async def _forked(workers: Server) -> tuple[int, set[int]]:
    """Start the workers: the parent's pid and the workers it forked."""
    await asyncio.to_thread(workers.start)
    assert workers.process is not None
    forked = children(workers.process.pid)
    assert len(forked) == PROCESSES
    return workers.process.pid, forked


@dataclass
class Loaded:
    """A fleet after a load answered in full (or its wait given up): the counts, the parent, the
    workers it forked first, and the workers' server."""

    result: dict[str, Any]
    parent: int
    first: set[int]
    workers: Server


@asynccontextmanager
async def _loaded(
    postgres_url: str,
    graph: tuple[FakeGraphAPI, str],
    tmp_path: Path,
    midway: Callable[[int, set[int]], None],
    *,
    within: float,
) -> AsyncIterator[Loaded]:
    """240 deliveries from 60 customers through an acknowledge-only API to the forked workers;
    `midway(parent, first workers)` once a third are acknowledged; then the wait until everything is
    answered (at most `within` s). The fleet is stopped (SIGTERM) on leaving."""
    fake, graph_url = graph
    api, workers = _fleet(postgres_url, graph_url, tmp_path)
    parent, first = await _forked(workers)
    try:
        await asyncio.to_thread(api.start)
        acked: set[str] = set()
        fake.status_webhooks, fake.app_secret = [api.url], SECRET
        items = deliveries(DELIVERIES, senders=SENDERS, at=int(time.time()))

        async def at_a_third() -> None:
            while len(acked) < DELIVERIES // 3:  # noqa: ASYNC110 (watches the load's progress)
                await asyncio.sleep(0.01)
            midway(parent, first)

        third = asyncio.create_task(at_a_third())
        await post_all([api], items, concurrency=10, acked=acked)
        await third
        result = (await wait_quiet(postgres_url, fake, acked, within=within)).as_dict()
        yield Loaded(result, parent, first, workers)
    finally:
        api.stop()
        workers.stop()


@pytest.mark.parametrize("fault", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "hung"])
async def test_a_forked_worker_killed_or_hung_under_load_is_replaced_and_nothing_is_lost_or_doubled(
    fault: signal.Signals, postgres_url: str, graph: tuple[FakeGraphAPI, str], tmp_path: Path
) -> None:
    victims: list[int] = []

    def hit(_parent: int, first: set[int]) -> None:
        victims.append(min(first))
        os.kill(min(first), fault)  # SIGSTOP: alive, its leases held, its loop stopped

    # A hung worker's conversations resume once it was killed and their leases lapsed.
    async with _loaded(postgres_url, graph, tmp_path, hit, within=45) as loaded:
        print(f"\nforked workers, one {fault.name}:", json.dumps(loaded.result))
        # The load can be answered by the other worker before a hung one is found silent.
        deadline = time.monotonic() + 30  # a bound on the replacement, not a speed assertion
        while (alive(victims[0]) or len(children(loaded.parent)) < PROCESSES) and (  # noqa: ASYNC110
            time.monotonic() < deadline
        ):
            await asyncio.sleep(0.1)
        now = children(loaded.parent)
    _check(loaded.result)
    assert victims[0] not in now
    assert len(now) == PROCESSES, "the parent started a worker in the killed one's place"
    log = loaded.workers.log.read_text()
    assert "worker_process_exited" in log
    # Killed by the parent when hung, after HANG_S of silence; no busy worker is taken for hung.
    assert log.count("worker_process_hung") == (1 if fault == signal.SIGSTOP else 0), log[-3000:]
    assert log.count("worker_started") == PROCESSES + 1
    assert loaded.workers.process is not None
    assert loaded.workers.process.returncode == 0, "SIGTERM: every worker finished its turns and exited 0"
    assert log.count("worker_stopped") == PROCESSES
    assert not any(alive(pid) for pid in now)


async def test_workers_stop_by_themselves_when_their_parent_is_killed(
    postgres_url: str, graph: tuple[FakeGraphAPI, str], tmp_path: Path
) -> None:
    _, graph_url = graph
    _, workers = _fleet(postgres_url, graph_url, tmp_path)
    _, forked = await _forked(workers)
    workers.kill()
    deadline = time.monotonic() + 20  # a bound on stopping, not a speed assertion
    while any(alive(pid) for pid in forked) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    left = {pid for pid in forked if alive(pid)}
    for pid in left:  # not to leave them running after a failure
        os.kill(pid, signal.SIGKILL)
    assert left == set(), "no worker goes on claiming work without its parent"
    log = workers.log.read_text()
    assert log.count("worker_parent_gone") == PROCESSES
    assert log.count("worker_stopped") == PROCESSES


def _lease_of_the_conversation(database_url: str) -> tuple[str | None, str, int]:
    """The one conversation's lease holder, owner and lapsed leases (none yet: no holder, the bot's)."""
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT lease_owner, owner, lease_lapses FROM conversation")).first()
    finally:
        engine.dispose()
    if row is None:  # the delivery not applied yet
        return None, "bot", 0
    return row.lease_owner, row.owner, row.lease_lapses


async def test_a_message_that_hangs_every_worker_running_it_is_handed_to_a_person_after_three(
    postgres_url: str, graph: tuple[FakeGraphAPI, str], tmp_path: Path
) -> None:
    """The model is down, so each try of the turn waits on its retries; the test stops with SIGSTOP
    whichever worker holds the conversation's lease, as a message the agents choke on would hang it.
    The parent kills each hung worker, the lease lapses, another worker takes the turn over. The
    fourth does not run it: the customer is handed to a person."""
    fake, graph_url = graph
    with serve_in_thread(Outage(ScriptedOpenAI().app)) as model:
        model_env = {"HANDOFF_OPENAI_API_KEY": "sk-test", "HANDOFF_OPENAI_BASE_URL": f"{model}/v1"}
        api, workers = _fleet(postgres_url, graph_url, tmp_path, env=model_env)
        parent, _ = await _forked(workers)
        await asyncio.to_thread(api.start)
        stopped: list[int] = []
        try:
            await post_all([api], deliveries(1, senders=1, at=int(time.time())), concurrency=1, acked=set())
            deadline = time.monotonic() + 90  # a bound on the test, not a speed assertion
            while True:
                holder, owner, lapses = await asyncio.to_thread(_lease_of_the_conversation, postgres_url)
                if owner != "bot" or time.monotonic() > deadline:
                    break
                pid = int(holder.split("-")[0]) if holder else 0
                if pid and pid not in stopped and lapses < INTERRUPTED_TURNS_LIMIT and alive(pid):
                    os.kill(pid, signal.SIGSTOP)  # hung in the middle of the turn
                    stopped.append(pid)
                await asyncio.sleep(0.05)
            # The last hung worker may still be stopped (its lease lapses sooner than it is found hung).
            while any(alive(pid) for pid in stopped) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # its replacement forked
            now = children(parent)
        finally:
            api.stop()
            workers.stop()
    log = workers.log.read_text()
    assert owner in ("queued", "human"), log[-3000:]
    assert lapses == INTERRUPTED_TURNS_LIMIT == 3
    assert len(stopped) == 3, "three tries, each hung"
    assert log.count("worker_process_hung") == 3
    assert log.count("turn_abandoned") == 1
    assert not any(pid in now for pid in stopped), "every hung worker was killed and replaced"
    assert len(now) == PROCESSES
    sent = [r["json"] for r in fake.sent if str(r["json"].get("to")).lstrip("+") == "12025550000"]
    assert len(sent) == 1, f"the customer is told a person will answer, once: {fake.sent}"


async def test_a_reload_under_load_replaces_every_worker_and_nothing_is_lost_or_doubled(
    postgres_url: str, graph: tuple[FakeGraphAPI, str], tmp_path: Path
) -> None:
    def reload(parent: int, _first: set[int]) -> None:
        os.kill(parent, signal.SIGHUP)

    async with _loaded(postgres_url, graph, tmp_path, reload, within=30) as loaded:
        log = loaded.workers.log
        deadline = time.monotonic() + 30  # a bound on the reload, not a speed assertion
        while "worker_reload_finished" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.1)
        while len(now := children(loaded.parent)) > PROCESSES and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # the last one retired finishes its turns
    print("\nforked workers, reloaded under load:", json.dumps(loaded.result))
    _check(loaded.result)
    assert len(now) == PROCESSES
    assert not now & loaded.first, "every worker was replaced"
    text = log.read_text()
    assert text.count("worker_process_retired") == PROCESSES
    assert "worker_process_exited" not in text
    assert text.count("worker_started") == 2 * PROCESSES
    assert loaded.workers.process is not None
    assert loaded.workers.process.returncode == 0

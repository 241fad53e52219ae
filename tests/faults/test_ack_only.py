"""Acknowledge-only API processes (`HANDOFF_RUN_TURNS=false`) and `handoff worker` processes on
PostgreSQL, as real OS processes: the API process stores each delivery and wakes the workers
(NOTIFY); the workers apply the deliveries and run the turns. The API process is given a Graph API
address where nothing listens, so a reply it sent itself would fail and the run would not go quiet:
every reply that arrives was sent by a worker."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from tests.fakes.graph import FakeGraphAPI
from tests.faults.processes import SECRET, Server, acknowledge_only_api, deliveries, post_all, wait_quiet
from tests.faults.test_kill9 import _check, _kill_when

DELIVERIES = 240
SENDERS = 60
pytestmark = pytest.mark.postgres


def _fleet(postgres_url: str, graph_url: str, tmp_path: Path, *, sweep_s: str) -> tuple[Server, list[Server]]:
    api = acknowledge_only_api(postgres_url, tmp_path / "api.log")
    workers = [
        Server(
            postgres_url,
            graph_url,
            tmp_path / f"worker{i}.log",
            role="worker",
            env={"HANDOFF_TIMER_INTERVAL_S": sweep_s},
        )
        for i in range(2)
    ]
    return api, workers


async def _load(api: Server, postgres_url: str, fake: FakeGraphAPI, kill: Server | None) -> dict[str, int]:
    acked: set[str] = set()
    fake.status_webhooks, fake.app_secret = [api.url], SECRET  # Meta's status webhooks, to the API
    items = deliveries(DELIVERIES, senders=SENDERS, at=int(time.time()))
    killer = (
        asyncio.create_task(_kill_when(acked, kill, after=DELIVERIES // 3, restart=False)) if kill else None
    )
    await post_all([api], items, concurrency=10, acked=acked)
    if killer is not None:
        await killer
    result = (await wait_quiet(postgres_url, fake, acked, within=30)).as_dict()
    print(f"\nacknowledge-only API, two workers{', one killed' if kill else ''}:", json.dumps(result))
    return result


async def _run(
    api: Server, workers: list[Server], postgres_url: str, fake: FakeGraphAPI, kill: Server | None
) -> dict[str, int]:
    """Start the workers and the API, run the load, stop them all."""
    for server in (*workers, api):
        await asyncio.to_thread(server.start)
    try:
        return await _load(api, postgres_url, fake, kill=kill)
    finally:
        for server in (api, *workers):
            server.stop()


async def test_workers_woken_by_an_acknowledge_only_api_answer_every_message_once(
    postgres_url: str, graph: tuple[FakeGraphAPI, str], tmp_path: Path
) -> None:
    fake, graph_url = graph
    # The workers' background sweep runs at start and then once a minute: what they apply during the
    # load they were woken for.
    api, workers = _fleet(postgres_url, graph_url, tmp_path, sweep_s="60")
    result = await _run(api, workers, postgres_url, fake, kill=None)
    _check(result)
    assert result["doubled"] == 0, "without a crash, nothing is ever sent twice"
    assert result["sends"] >= DELIVERIES // 4
    woken = [worker.log.read_text().count("turn_refused") for worker in workers]
    assert woken == [0, 0], "two workers sharing the deliveries never ran a conversation at once"
    started = [
        next(line for line in worker.log.read_text().splitlines() if "worker_started" in line)
        for worker in workers
    ]
    assert all("uvloop" in line for line in started), f"the workers run on uvloop, as the API does: {started}"


async def test_kill_9_of_a_worker_behind_an_acknowledge_only_api_loses_and_doubles_nothing(
    postgres_url: str, graph: tuple[FakeGraphAPI, str], tmp_path: Path
) -> None:
    fake, graph_url = graph
    api, workers = _fleet(postgres_url, graph_url, tmp_path, sweep_s="0.5")
    _check(await _run(api, workers, postgres_url, fake, kill=workers[0]))

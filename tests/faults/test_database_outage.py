"""The database lost for a few seconds under load, with real processes on PostgreSQL: an
acknowledge-only API process and two workers reach the database through a proxy that is cut (every
connection ended, new ones refused) while customers write, then restored. Deliveries made while it
is gone are answered 503 and retried, as Meta retries, and the rep API answers 503 too; the
workers' connections, their LISTEN included, come back by themselves. Every delivery answered 200
is stored and answered once, and nothing is left stuck."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.fakes.graph import FakeGraphAPI
from tests.fakes.tcp_proxy import CuttableProxy
from tests.faults.processes import SECRET, Server, deliveries, post_all, wait_quiet
from tests.faults.test_ack_only import _fleet
from tests.faults.test_kill9 import DELIVERIES, SENDERS, _check

pytestmark = pytest.mark.postgres
OUTAGE_S = 3.0


async def _cut_when(acked: set[str], proxy: CuttableProxy, api: Server, *, after: int) -> httpx.Response:
    """Cut the database once `after` deliveries are acknowledged; restore it `OUTAGE_S` later. What
    the rep API answered meanwhile is returned."""
    while len(acked) < after:  # noqa: ASYNC110 (watches the load's progress)
        await asyncio.sleep(0.01)
    proxy.cut()
    await asyncio.sleep(OUTAGE_S / 3)
    async with httpx.AsyncClient(timeout=10) as http:
        during = await http.get(
            f"{api.url}/api/conversations", headers={"Authorization": "Bearer demo-admin"}
        )
    await asyncio.sleep(OUTAGE_S * 2 / 3)
    proxy.restore()
    return during


async def _logged_by_all(servers: list[Server], event: str, *, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(event in server.log.read_text() for server in servers):
            return True
        await asyncio.sleep(0.2)
    return False


async def test_a_database_outage_under_load_loses_doubles_and_strands_nothing(
    postgres_url: str, graph: tuple[FakeGraphAPI, str], tmp_path: Path
) -> None:
    fake, graph_url = graph
    database = make_url(postgres_url)
    with CuttableProxy(database.host or "127.0.0.1", database.port or 5432).running() as proxy:
        through_proxy = database.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        # The workers' sweep at its default interval: a turn that failed because the database went
        # away mid-turn is left pending, and the next sweep (or the customer's next message) runs it.
        api, workers = _fleet(through_proxy, graph_url, tmp_path, sweep_s="5")
        for server in (*workers, api):
            await asyncio.to_thread(server.start)
        try:
            acked: set[str] = set()
            refused: list[int] = []
            fake.status_webhooks, fake.app_secret = [api.url], SECRET
            items = deliveries(DELIVERIES, senders=SENDERS, at=int(time.time()))
            outage = asyncio.create_task(_cut_when(acked, proxy, api, after=DELIVERIES // 3))
            await post_all([api], items, concurrency=10, acked=acked, refused=refused)
            during = await outage
            result = (await wait_quiet(postgres_url, fake, acked, within=30)).as_dict()
            relistening = await _logged_by_all(workers, "listen_restored", within=20)
            still_running = [server.running for server in (api, *workers)]
        finally:
            for server in (api, *workers):
                server.stop()
    print(
        f"\ndatabase cut for {OUTAGE_S} s:",
        json.dumps({**result, "refused": dict(Counter(refused)), "connections_cut": proxy.cut_count}),
    )
    assert proxy.cut_count > 0, "the outage ended connections in use"
    assert refused, "deliveries made while the database was gone were refused, to be retried"
    assert set(refused) == {503}, "each refused with 503: the database is unavailable"
    assert during.status_code == 503, during.text
    assert during.headers["retry-after"] == "5"
    assert "database is unavailable" in during.json()["detail"]
    api_log = api.log.read_text()
    assert "Traceback" not in api_log, "an unavailable database is a 503 and one log line, not a crash"
    assert "webhook_database_unavailable" in api_log
    assert still_running == [True, True, True], "no process gave up on the database"
    _check(result)
    assert relistening, "each worker's LISTEN came back once the database did"

"""The fleet watched through heartbeats: each process with a background loop beats, one that stops
beating is counted silent (in `/metrics` and `GET /api/admin/processes`), one that stops removes
itself, and retention forgets the silent ones after a day."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from orchestrator.core import heartbeat
from orchestrator.core.heartbeat import Me
from orchestrator.core.settings import Settings
from orchestrator.core.tables import ProcessBeat
from orchestrator.runtime.container import Service
from orchestrator.runtime.retention import prune
from tests.api.helpers import bearer
from tests.fakes.graph import TestHarness


def _me(host: str, pid: int, role: str = "worker") -> Me:
    return Me(role=role, runs_turns=role == "worker", interval_s=5.0, host=host, pid=pid)


async def _processes_metric(h: TestHarness) -> dict[tuple[str, str], float]:
    response = await h.http.get("/metrics")
    return {
        (s.labels["role"], s.labels["state"]): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
        if s.name == "handoff_processes"
    }


async def test_a_process_that_stops_beating_is_counted_silent_and_listed_for_admins(h: TestHarness) -> None:
    started = h.clock.now()
    for me in (_me("box-a", 11), _me("box-b", 12), _me("box-a", 20, role="api")):
        await heartbeat.beat(h.service.sessions, me, started_at=started, at=started)
    h.clock.advance(seconds=12)  # within three intervals of 5 s: every one is live
    await heartbeat.beat(h.service.sessions, _me("box-a", 11), started_at=started, at=h.clock.now())
    assert (await _processes_metric(h))[("worker", "live")] == 2
    h.clock.advance(seconds=6)  # box-b's worker last beat 18 s ago, the api process too
    metric = await _processes_metric(h)
    assert metric == {
        ("worker", "live"): 1,
        ("worker", "silent"): 1,
        ("api", "live"): 0,
        ("api", "silent"): 1,
    }

    listed = await h.http.get("/api/admin/processes", headers=bearer("admin"))
    assert listed.status_code == 200
    states = {(p["id"], p["role"], p["state"]) for p in listed.json()}
    assert states == {
        ("box-a/11", "worker", "live"),
        ("box-b/12", "worker", "silent"),
        ("box-a/20", "api", "silent"),
    }
    refused = await h.http.get("/api/admin/processes", headers=bearer("lena"))
    assert refused.status_code == 403


async def test_a_process_that_stops_removes_itself_and_retention_forgets_the_silent_after_a_day(
    h: TestHarness,
) -> None:
    started = h.clock.now()
    stopping, dead = _me("box-a", 11), _me("box-b", 12)
    for me in (stopping, dead):
        await heartbeat.beat(h.service.sessions, me, started_at=started, at=started)
    await heartbeat.forget(h.service.sessions, stopping)
    h.clock.advance(hours=23)
    await prune(h.service.sessions, settings=h.service.settings, at=h.clock.now())
    async with h.service.sessions() as session:
        assert [b.id for b in (await session.execute(select(ProcessBeat))).scalars()] == ["box-b/12"]
    h.clock.advance(hours=2)
    pruned = await prune(h.service.sessions, settings=h.service.settings, at=h.clock.now())
    assert pruned.processes == 1
    async with h.service.sessions() as session:
        assert (await session.execute(select(ProcessBeat))).scalars().all() == []


async def test_a_beat_keeps_the_row_and_moves_its_time(h: TestHarness) -> None:
    started = h.clock.now()
    me = _me("box-a", 11)
    await heartbeat.beat(h.service.sessions, me, started_at=started, at=started)
    h.clock.advance(seconds=5)
    await heartbeat.beat(h.service.sessions, me, started_at=h.clock.now(), at=h.clock.now())
    async with h.service.sessions() as session:
        (row,) = (await session.execute(select(ProcessBeat))).scalars()
    assert (row.started_at, row.beat_at) == (started, started + timedelta(seconds=5))


@pytest.mark.postgres
async def test_a_worker_whose_host_clock_runs_behind_is_judged_by_the_databases_clock(
    pg_h: TestHarness,
) -> None:
    # Its host's clock an hour behind the reader's: written and judged by PostgreSQL's clock, it is live.
    behind = pg_h.clock.now() - timedelta(hours=1)
    await heartbeat.beat(pg_h.service.sessions, _me("slow-clock", 7), started_at=behind, at=behind)
    assert (await _processes_metric(pg_h))[("worker", "live")] == 1
    assert (
        heartbeat.Me.here(role="worker", runs_turns=True, interval_s=5).id
        != heartbeat.Me.here(role="worker", runs_turns=True, interval_s=5).id
    ), "each start of a process has its own row"


async def test_a_long_background_pass_does_not_stop_the_beats(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Media fetches or retention can hold one pass for long: the process is alive and says so.
    settings = Settings(
        database_url=sqlite_url,
        run_background=True,
        timer_interval_s=0.05,
        whatsapp_api_url="http://graph.invalid",
    )
    stuck = asyncio.Event()

    async def a_long_pass(_service: Service) -> None:
        stuck.set()
        await asyncio.sleep(3600)

    monkeypatch.setattr(Service, "tick", a_long_pass)
    async with Service.running(settings, migrate=False) as service:
        await asyncio.wait_for(stuck.wait(), timeout=5)
        beats = []
        for _ in range(3):
            await asyncio.sleep(0.2)
            async with service.sessions() as session:
                (row,) = (await session.execute(select(ProcessBeat))).scalars()
            beats.append(row.beat_at)
    assert beats[0] < beats[1] < beats[2], beats


async def test_a_process_beats_how_long_its_event_loop_was_held(sqlite_url: str) -> None:
    settings = Settings(
        database_url=sqlite_url,
        run_background=True,
        timer_interval_s=0.2,
        whatsapp_api_url="http://graph.invalid",
    )
    async with Service.running(settings, migrate=False) as service:
        await asyncio.sleep(0.3)
        time.sleep(0.4)  # noqa: ASYNC251 (a synchronous call holds the loop)
        written: list[float | None] = []  # each beat's figure, as the row changes
        beat_at = None
        for _ in range(100):
            await asyncio.sleep(0.02)
            async with service.sessions() as session:
                (row,) = (await session.execute(select(ProcessBeat))).scalars()
            if row.beat_at != beat_at:
                written.append(row.loop_lag_s)
                beat_at = row.beat_at
            if len(written) >= 4:
                break
    assert any(lag is not None and lag >= 0.35 for lag in written), written
    assert written[-1] is not None
    assert written[-1] < 0.35, f"each beat writes its own interval's: {written}"


async def test_admins_see_each_live_process_loop_lag_in_metrics_and_the_process_list(h: TestHarness) -> None:
    started = h.clock.now()
    await heartbeat.beat(
        h.service.sessions, _me("box-a", 11), started_at=started, at=started, loop_lag_s=0.012
    )
    await heartbeat.beat(h.service.sessions, _me("box-b", 12), started_at=started, at=started, loop_lag_s=2.5)
    h.clock.advance(seconds=12)
    await heartbeat.beat(
        h.service.sessions, _me("box-a", 11), started_at=started, at=h.clock.now(), loop_lag_s=0.034
    )
    h.clock.advance(seconds=6)  # box-b silent: its last figure is not a live process's
    response = await h.http.get("/metrics")
    lags = {
        (s.labels["role"], s.labels["process"]): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
        if s.name == "handoff_process_loop_lag_seconds"
    }
    assert lags == {("worker", "box-a/11"): 0.034}
    listed = await h.http.get("/api/admin/processes", headers=bearer("admin"))
    assert {p["id"]: p["loop_lag_s"] for p in listed.json()} == {"box-a/11": 0.034, "box-b/12": 2.5}

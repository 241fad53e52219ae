"""Readiness: a process that runs turns loads the agents' graph right after startup, not at its
first customer's turn, and says so at `GET /readyz`, so a load balancer sends it traffic once the
imports (which slow the event loop while they run) are over. `/healthz` stays the liveness check."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from orchestrator.core.clock import FrozenClock
from orchestrator.core.settings import Settings
from orchestrator.runtime.app import create_app
from orchestrator.runtime.container import Service

AT = datetime(2026, 1, 5, 10, tzinfo=UTC)


def _settings(database_url: str, **overrides: object) -> Settings:
    return Settings(
        database_url=database_url,
        run_background=False,
        whatsapp_api_url="http://graph.invalid",
        **overrides,  # type: ignore[arg-type]
    )


async def _readyz(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://handoff.local") as http:
        return await http.get("/readyz")


async def test_readyz_answers_503_until_the_graph_is_loaded_then_200(sqlite_url: str) -> None:
    async with Service.running(_settings(sqlite_url), clock=FrozenClock(AT), migrate=False) as service:
        app = create_app(service=service)
        before = await _readyz(app)
        assert before.status_code == 503
        assert before.json() == {"status": "starting", "waiting_for": "graph"}
        assert not service.graph.loaded, "a service run inside another program loads it at first use"

        await service.graph.get()
        after = await _readyz(app)
        assert after.status_code == 200
        assert after.json() == {"status": "ready"}


async def test_the_app_served_on_its_own_loads_the_graph_before_any_message(sqlite_url: str) -> None:
    app = create_app(settings=_settings(sqlite_url), migrate=False, clock=FrozenClock(AT))
    async with app.router.lifespan_context(app):
        service: Service = app.state.service
        for _ in range(600):  # the imports run in a thread; a fresh interpreter takes about a second
            if (await _readyz(app)).status_code == 200:
                break
            await asyncio.sleep(0.05)
        assert (await _readyz(app)).status_code == 200
        assert service.graph.loaded
        assert service.turns.handed_over == 0, "no delivery was needed to load it"


async def test_an_acknowledge_only_api_is_ready_without_loading_the_graph(postgres_url: str) -> None:
    app = create_app(settings=_settings(postgres_url, run_turns=False), migrate=False, clock=FrozenClock(AT))
    async with app.router.lifespan_context(app):
        response = await _readyz(app)
        assert response.status_code == 200
        await asyncio.sleep(0.2)  # time enough for a load, had one been started
        assert not app.state.service.graph.loaded, "its turns run in the workers"

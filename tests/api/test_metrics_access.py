"""`GET /metrics` names every user (the sign-in names) and their workload: outside development mode
it is served to the bearer of `HANDOFF_METRICS_TOKEN` only."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from pydantic import SecretStr

from orchestrator.core.clock import FrozenClock
from orchestrator.core.settings import Settings
from orchestrator.runtime.app import create_app
from orchestrator.runtime.container import Service

AT = datetime(2026, 1, 5, 10, tzinfo=UTC)


async def _scrape(database_url: str, headers: dict[str, str], **settings: object) -> httpx.Response:
    configured = Settings(
        database_url=database_url,
        run_background=False,
        whatsapp_api_url="http://graph.invalid",
        **{"dev_mode": False, **settings},  # type: ignore[arg-type]
    )
    async with Service.running(configured, clock=FrozenClock(AT), migrate=False) as service:
        transport = httpx.ASGITransport(app=create_app(service=service))
        async with httpx.AsyncClient(transport=transport, base_url="http://handoff.local") as http:
            return await http.get("/metrics", headers=headers)


async def test_a_deployment_serves_its_metrics_to_the_bearer_of_the_metrics_token_only(
    sqlite_url: str,
) -> None:
    token = {"metrics_token": SecretStr("scrape-me-0123456789")}
    anonymous = await _scrape(sqlite_url, {}, **token)
    wrong = await _scrape(sqlite_url, {"Authorization": "Bearer demo-admin"}, **token)
    right = await _scrape(sqlite_url, {"Authorization": "Bearer scrape-me-0123456789"}, **token)
    assert (anonymous.status_code, wrong.status_code) == (401, 401)
    assert anonymous.json() == {"detail": "the metrics need the bearer token of HANDOFF_METRICS_TOKEN"}
    assert right.status_code == 200
    assert 'handoff_rep_presence{presence="offline",rep="admin"}' in right.text


async def test_a_deployment_without_a_metrics_token_says_how_to_get_its_metrics(sqlite_url: str) -> None:
    refused = await _scrape(sqlite_url, {})
    assert refused.status_code == 401
    assert "HANDOFF_METRICS_TOKEN" in refused.json()["detail"]
    assert "admin" not in refused.text


async def test_development_mode_serves_the_metrics_without_a_token(sqlite_url: str) -> None:
    assert (await _scrape(sqlite_url, {}, dev_mode=True)).status_code == 200

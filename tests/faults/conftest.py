"""Fault tests: the service driven through its real entry points under hostile input and crashes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from orchestrator.core.config import AppConfig
from tests.conftest import service_on
from tests.fakes.graph import FakeGraphAPI, TestHarness
from tests.faults.processes import STARTED


@pytest.fixture(autouse=True)
def stop_left_running() -> Iterator[None]:
    """Stop every `handoff` process a test started and did not stop (a test that failed half-way)."""
    yield
    while STARTED:
        STARTED.pop().stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_h(
    request: pytest.FixtureRequest, config: AppConfig, fake_graph: FakeGraphAPI, graph_api_url: str
) -> AsyncIterator[TestHarness]:
    """The service on a clean SQLite database and on a clean PostgreSQL database."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    async with service_on(url, config, fake_graph, graph_api_url) as running:
        yield running

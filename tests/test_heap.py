"""A process's own service freezes what it holds after startup and after loading the graph, so the
garbage collector's full passes under traffic walk only what requests and turns allocate (their
pauses were the tail of the acknowledgement's latency); a service run inside another program
(tests, replay) leaves that program's collector alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from orchestrator.core.clock import FrozenClock
from orchestrator.core.settings import Settings
from orchestrator.runtime.container import Service

AT = datetime(2026, 1, 5, 10, tzinfo=UTC)


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # what a test froze goes back to the collector of the test process


def _settings(sqlite_url: str) -> Settings:
    return Settings(database_url=sqlite_url, run_background=False, whatsapp_api_url="http://graph.invalid")


async def test_a_process_service_freezes_its_heap_at_startup_and_again_when_the_graph_loads(
    sqlite_url: str, unfrozen: None
) -> None:
    async with Service.running(
        _settings(sqlite_url), clock=FrozenClock(AT), migrate=False, freeze_heap=True
    ) as service:
        at_startup = gc.get_freeze_count()
        assert at_startup > 10_000, "the modules and the service's objects are frozen"
        await service.graph.get()
        assert gc.get_freeze_count() > at_startup, "the graph and the agents are frozen once loaded"


async def test_a_service_run_inside_another_program_leaves_its_collector_alone(
    sqlite_url: str, unfrozen: None
) -> None:
    async with Service.running(_settings(sqlite_url), clock=FrozenClock(AT), migrate=False) as service:
        await service.graph.get()
        assert gc.get_freeze_count() == 0


async def test_the_app_served_on_its_own_freezes_its_heap_at_startup(sqlite_url: str, unfrozen: None) -> None:
    from orchestrator.runtime.app import create_app

    app = create_app(settings=_settings(sqlite_url), migrate=False, clock=FrozenClock(AT))
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 10_000, "`handoff serve` runs the app's own service"

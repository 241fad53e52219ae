"""Shared fixtures: a clean database per test (a copy of a migrated template, or a reset PostgreSQL
schema), a fake Graph API on a real local port, and a running service driven through its webhook."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.llm import LLMClient
from orchestrator.core.config import AppConfig, load_config
from orchestrator.migrations import run_migrations
from orchestrator.runtime.replay import harness
from tests.fakes.graph import FakeGraphAPI, TestHarness
from tests.fakes.openai_server import ScriptedOpenAI
from tests.fakes.servers import serve_in_thread

POSTGRES_URL = os.environ.get(
    "HANDOFF_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# The tests run the service in development mode (the shipped demo accounts and development secrets);
# processes they start inherit it. Tests of the production refusals unset it.
os.environ.setdefault("HANDOFF_DEV_MODE", "true")
# A Tuesday, 10:00 UTC: every default queue is open.
OPEN_HOURS = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), connect_timeout=2):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_migrations(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "handoff.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def empty_postgres(url: str) -> None:
    """The database's public schema dropped and created again, without tables."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def reset_postgres(url: str) -> None:
    empty_postgres(url)
    run_migrations(url)


@pytest.fixture
def postgres_url() -> str:
    if not _postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL} (required in CI)")
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def config() -> AppConfig:
    return load_config(None)


@pytest.fixture
def fake_graph() -> FakeGraphAPI:
    return FakeGraphAPI()


@pytest.fixture
def graph_api_url(fake_graph: FakeGraphAPI) -> Iterator[str]:
    with serve_in_thread(fake_graph.app) as url:
        yield url


@pytest.fixture
def graph() -> Iterator[tuple[FakeGraphAPI, str]]:
    """A fake Graph API of its own on a real port, for tests that start the service's processes:
    the fake and its base URL."""
    fake = FakeGraphAPI()
    with serve_in_thread(fake.app) as url:
        yield fake, url


def service_on(
    database_url: str, config: AppConfig, fake_graph: FakeGraphAPI, graph_api_url: str
) -> contextlib.AbstractAsyncContextManager[TestHarness]:
    """The service on an already migrated, clean database, at opening hours, sending to the fake
    Graph API over HTTP: what the `h`, `pg_h` and `db_h` fixtures run."""
    return harness(
        database_url=database_url,
        config=config,
        at=OPEN_HOURS,
        migrate=False,
        fake_graph=fake_graph,
        graph_api_url=graph_api_url,
    )


@pytest.fixture
async def h(
    sqlite_url: str, config: AppConfig, fake_graph: FakeGraphAPI, graph_api_url: str
) -> AsyncIterator[TestHarness]:
    """The service on a clean SQLite database, sends going over HTTP to the fake Graph API."""
    async with service_on(sqlite_url, config, fake_graph, graph_api_url) as running:
        yield running


@pytest.fixture
async def pg_h(
    postgres_url: str, config: AppConfig, fake_graph: FakeGraphAPI, graph_api_url: str
) -> AsyncIterator[TestHarness]:
    """The service on a clean PostgreSQL database (races between processes need its locking)."""
    async with service_on(postgres_url, config, fake_graph, graph_api_url) as running:
        yield running


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_h(
    request: pytest.FixtureRequest, config: AppConfig, fake_graph: FakeGraphAPI, graph_api_url: str
) -> AsyncIterator[TestHarness]:
    """The service on a clean SQLite database and on a clean PostgreSQL database."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    async with service_on(url, config, fake_graph, graph_api_url) as running:
        yield running


@pytest.fixture
def scripted() -> ScriptedOpenAI:
    """A scripted OpenAI-compatible server (the model engine's tests)."""
    return ScriptedOpenAI()


@pytest.fixture
def model_url(scripted: ScriptedOpenAI) -> Iterator[str]:
    with serve_in_thread(scripted.app) as url:
        yield url + "/v1"


@pytest.fixture
async def mh(
    sqlite_url: str, config: AppConfig, fake_graph: FakeGraphAPI, model_url: str
) -> AsyncIterator[TestHarness]:
    """The service with the model engine: the real `openai` client talking to `scripted`."""
    llm = LLMClient(
        api_key="test-key",
        model="test-model",
        base_url=model_url,
        timeout=0.5,
        max_attempts=3,
        deadline=3.0,
        wait_min=0,
        wait_max=0.01,
    )
    async with harness(
        database_url=sqlite_url, config=config, at=OPEN_HOURS, migrate=False, fake_graph=fake_graph, llm=llm
    ) as running:
        yield running

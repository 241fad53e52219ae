"""PostgreSQL connections in the pool: one idle for a while is pinged before use, and a dead one
(the server restarted, a failover, an administrator) is replaced without the caller seeing an
error; one back in the pool a moment ago is used without a ping (a round trip more for each of a
turn's transactions)."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from orchestrator.core import db
from orchestrator.core.db import make_engine

pytestmark = pytest.mark.postgres


async def _backend_pid(engine: Any) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_killed_while_idle_is_replaced_before_the_caller_uses_it(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.2)
    engine = make_engine(postgres_url)
    try:
        killed = await _backend_pid(engine)
        conninfo = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (killed,))
        await asyncio.sleep(0.3)
        assert await _backend_pid(engine) != killed, "a new connection answered"
    finally:
        await engine.dispose()


async def test_a_connection_used_a_moment_ago_is_not_pinged_and_one_idle_is(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.2)
    engine = make_engine(postgres_url)
    pings: list[object] = []
    dialect = engine.sync_engine.dialect
    ping = dialect.do_ping

    def counted(connection: Any) -> bool:
        pings.append(connection)
        return ping(connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    try:
        first = await _backend_pid(engine)
        for _ in range(5):
            assert await _backend_pid(engine) == first
        assert pings == [], "the pool's connection was in use a moment ago each time"
        await asyncio.sleep(0.3)
        assert await _backend_pid(engine) == first, "alive after its idle spell"
        assert len(pings) == 1
    finally:
        await engine.dispose()

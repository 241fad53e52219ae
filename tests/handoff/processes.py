"""Functions run in separate OS processes by the multi-process tests (spawned: importable by name)."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import Any

from sqlalchemy import select

from handoff.assignment import run_due_timers
from orchestrator.core.config import parse_config
from orchestrator.core.db import make_engine, make_sessionmaker


def fire_due_timers(url: str, config_data: dict[str, Any], at_iso: str, barrier: Any) -> list[int]:
    """Open an engine, wait for the other processes, fire what is due. Returns the ids it fired."""

    async def run() -> list[int]:
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        try:
            async with sessions() as session:
                await session.execute(select(1))
            await asyncio.to_thread(barrier.wait)
            fired = await run_due_timers(
                sessions,
                config=parse_config(config_data),
                at=datetime.fromisoformat(at_iso),
                worker=f"process-{os.getpid()}",
            )
            return [f.timer_id for f in fired if f.ok]
        finally:
            await engine.dispose()

    return asyncio.run(run())

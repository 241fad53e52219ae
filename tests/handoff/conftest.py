"""A service-level world for the assignment engine: a clean SQLite database, the shipped
configuration (optionally overridden), a frozen clock, reps created per test, and handoffs made
through the real path (`perform_handoff`, in one transaction, the conversation locked)."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from handoff.assignment import BackgroundReport, run_background
from handoff.flows import HandoffResult, perform_handoff
from handoff.flows_rep import heartbeat
from handoff.models import Assignment, AuditEntry, Rep, RepQueue, Timer
from orchestrator.channels.whatsapp.inbound import ContactRef
from orchestrator.conversations import current_conversation, upsert_contact
from orchestrator.core.clock import FrozenClock
from orchestrator.core.config import AppConfig, default_config_text, parse_config
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.db import make_engine, make_sessionmaker
from orchestrator.core.enums import EventType, HandoffReason, Presence, Role
from orchestrator.core.state import HandoffRequest
from orchestrator.core.tables import Conversation
from tests.conftest import OPEN_HOURS

T = TypeVar("T")
_numbers = itertools.count(1)


def configured(**overrides: Any) -> AppConfig:
    """The shipped configuration with top-level sections replaced or merged (dicts merge one level)."""
    data = yaml.safe_load(default_config_text())
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_config(data, source="test config")


def us_number() -> str:
    return f"1202555{next(_numbers):04d}"


def uk_number() -> str:
    return f"44770090{next(_numbers):04d}"


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    config: AppConfig
    clock: FrozenClock
    worker: str = "test-worker"
    results: list[HandoffResult] = field(default_factory=list)

    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, **delta: float) -> datetime:
        return self.clock.advance(**delta)

    async def add_rep(
        self,
        rep_id: str,
        *queues: str,
        capacity: int = 5,
        presence: Presence = Presence.ONLINE,
        role: Role = Role.REP,
        auto_assign: bool = True,
    ) -> None:
        async with self.sessions() as session, session.begin():
            session.add(
                Rep(
                    id=rep_id,
                    name=f"{rep_id.title()} Test",
                    role=role,
                    capacity=capacity,
                    presence=presence,
                    auto_assign=auto_assign,
                    last_seen_at=self.now(),
                    offline_since=self.now() if presence == Presence.OFFLINE else None,
                    created_at=self.now(),
                )
            )
            await session.flush()
            for queue in queues:
                session.add(RepQueue(rep_id=rep_id, queue=queue))

    async def handoff(
        self,
        wa_id: str | None = None,
        *,
        reason: HandoffReason = HandoffReason.EXPLICIT_REQUEST,
        choice: str | None = None,
        referral: dict[str, Any] | None = None,
        language: str = "en",
    ) -> HandoffResult:
        """A bot-owned conversation handed off through `perform_handoff` (one transaction)."""
        at = self.now()
        async with self.sessions() as session, session.begin():
            contact = await upsert_contact(
                session, ref=ContactRef(wa_id=wa_id or us_number(), name="Cus"), at=at
            )
            conversation = await current_conversation(session, contact=contact, at=at, referral=referral)
            locked = await session.get(Conversation, conversation.id, with_for_update=True)
            assert locked is not None
            request: HandoffRequest = {
                "reason": str(reason),
                "department_choice": choice,
                "evidence": {"message_id": None, "text": "help", "signals": []},
                "summary": "test handoff",
                "open_questions": [],
                "promises": [],
            }
            result = await perform_handoff(
                session,
                config=self.config,
                conversation=locked,
                contact=contact,
                request=request,
                fields={},
                language=language,
                llm_calls=0,
                at=at,
            )
        self.results.append(result)
        return result

    async def act(self, action: Callable[..., Awaitable[T]], **kwargs: Any) -> T:
        """Run a flow function (keyword-only, caller owns the transaction) at the clock's time."""
        async with self.sessions() as session, session.begin():
            return await action(session, at=self.now(), **kwargs)

    async def heartbeat(self, *rep_ids: str) -> None:
        """The reps' clients say they are alive (as a real client does every few seconds)."""
        for rep_id in rep_ids:
            await self.act(heartbeat, config=self.config, rep_id=rep_id)

    async def tick(self) -> BackgroundReport:
        return await run_background(self.sessions, config=self.config, at=self.now(), worker=self.worker)

    async def rep(self, rep_id: str) -> Rep:
        async with self.sessions() as session:
            rep = await session.get(Rep, rep_id)
            assert rep is not None
            return rep

    async def conversation(self, conversation_id: int) -> Conversation:
        async with self.sessions() as session:
            found = await session.get(Conversation, conversation_id)
            assert found is not None
            return found

    async def owner_of(self, conversation_id: int) -> str | None:
        return (await self.conversation(conversation_id)).assignee_id

    async def assignments(self, conversation_id: int) -> list[Assignment]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(Assignment)
                .where(col(Assignment.conversation_id) == conversation_id)
                .order_by(col(Assignment.id))
            )
            return list(rows.scalars())

    async def events(
        self, conversation_id: int | None = None, type: EventType | None = None
    ) -> list[ContextEvent]:
        query = select(ContextEvent).order_by(col(ContextEvent.id))
        if conversation_id is not None:
            query = query.where(col(ContextEvent.conversation_id) == conversation_id)
        if type is not None:
            query = query.where(col(ContextEvent.type) == type)
        async with self.sessions() as session:
            return list((await session.execute(query)).scalars())

    async def timers(self, kind: str | None = None) -> list[Timer]:
        query = select(Timer).order_by(col(Timer.id))
        if kind is not None:
            query = query.where(col(Timer.kind) == kind)
        async with self.sessions() as session:
            return list((await session.execute(query)).scalars())

    async def audit(self) -> list[AuditEntry]:
        async with self.sessions() as session:
            return list((await session.execute(select(AuditEntry).order_by(col(AuditEntry.id)))).scalars())

    async def load(self, rep_ids: list[str]) -> dict[str, int]:
        """Open conversations per rep."""
        return {r: (await self.rep(r)).open_count for r in rep_ids}


WorldFactory = Callable[..., Awaitable[World]]


@pytest.fixture
async def make_world(request: pytest.FixtureRequest) -> AsyncIterator[WorldFactory]:
    """Worlds on a clean SQLite database; on PostgreSQL with `HANDOFF_TEST_WORLD_DATABASE=postgres`
    (the engine's other path: the claim writes a new assignment in its own statement there)."""
    engines = []
    on_postgres = os.environ.get("HANDOFF_TEST_WORLD_DATABASE") == "postgres"
    url: str = request.getfixturevalue("postgres_url" if on_postgres else "sqlite_url")

    async def make(config: AppConfig | None = None, at: datetime = OPEN_HOURS) -> World:
        engine = make_engine(url)
        engines.append(engine)
        return World(sessions=make_sessionmaker(engine), config=config or configured(), clock=FrozenClock(at))

    yield make
    for engine in engines:
        await engine.dispose()


@pytest.fixture
async def world(make_world: WorldFactory) -> World:
    """The shipped configuration, Tuesday 10:00 UTC (every default queue open), no reps yet."""
    return await make_world()

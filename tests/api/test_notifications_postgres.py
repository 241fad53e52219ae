"""Notifications across API processes on PostgreSQL: the context-log trigger (migration 0003) NOTIFYs,
every process LISTENs, so an event committed by one process reaches streams served by another."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text as sql

from handoff.models import Rep
from handoff.notify import StreamEvent, load_events
from handoff.policy import viewer_of
from orchestrator.core.clock import FrozenClock
from orchestrator.core.contextlog import log_event
from orchestrator.core.enums import EventType, Owner
from orchestrator.core.settings import Settings
from orchestrator.core.tables import Contact, Conversation
from orchestrator.runtime.container import Service
from tests.api.helpers import live_server, open_stream
from tests.fakes.servers import free_port

pytestmark = pytest.mark.postgres
AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@asynccontextmanager
async def service_on(url: str) -> AsyncIterator[Service]:
    settings = Settings(database_url=url, run_background=False, whatsapp_api_url="http://graph.invalid")
    async with Service.running(settings, clock=FrozenClock(AT), migrate=False) as service:
        yield service


async def new_conversation(service: Service) -> int:
    async with service.sessions() as session, session.begin():
        contact = Contact(wa_id="447700900001", created_at=AT)
        session.add(contact)
        await session.flush()
        assert contact.id is not None
        conversation = Conversation(
            contact_id=contact.id, owner=Owner.QUEUED, queue="support", created_at=AT, updated_at=AT
        )
        session.add(conversation)
        await session.flush()
        assert conversation.id is not None
        return conversation.id


async def commit_event(service: Service, conversation_id: int, event_type: EventType) -> int:
    async with service.sessions() as session, session.begin():
        event = await log_event(
            session,
            conversation_id=conversation_id,
            type=event_type,
            source="test",
            description=str(event_type),
            at=AT,
        )
    assert event.id is not None
    return event.id


async def next_event(queue: asyncio.Queue[StreamEvent]) -> StreamEvent:
    async with asyncio.timeout(5):
        return await queue.get()


async def test_migration_installs_the_notify_trigger(postgres_url: str) -> None:
    async with service_on(postgres_url) as service, service.sessions() as session:
        names = (
            await session.execute(
                sql("SELECT tgname FROM pg_trigger WHERE tgrelid = 'contextevent'::regclass")
            )
        ).scalars()
        assert "contextevent_notify" in set(names)


async def test_event_committed_by_one_process_reaches_subscribers_of_another_once(postgres_url: str) -> None:
    async with service_on(postgres_url) as a, service_on(postgres_url) as b:
        assert a.notifier is not None
        assert b.notifier is not None
        async with a.sessions() as session:
            admin = await session.get(Rep, "admin")
            assert admin is not None
            viewer = await viewer_of(session, rep=admin)
        on_a, on_b = a.notifier.subscribe(viewer), b.notifier.subscribe(viewer)
        conversation_id = await new_conversation(a)
        first = await commit_event(b, conversation_id, EventType.SLA_WARNING)  # reaches A by LISTEN only
        second = await commit_event(a, conversation_id, EventType.ESCALATED)  # by its hook and LISTEN
        third = await commit_event(b, conversation_id, EventType.ASSIGNMENT_REVOKED)
        # NOTIFY delivers in commit order, so by the third the second's LISTEN copy was handled too.
        received_a = [(await next_event(on_a.queue)).id for _ in range(3)]
        received_b = [(await next_event(on_b.queue)).id for _ in range(3)]
        assert received_a == [first, second, third]
        assert received_b == [first, second, third]
        assert on_a.queue.empty()


async def test_a_resumed_rep_is_replayed_what_is_addressed_to_them_about_a_conversation_they_cannot_see(
    postgres_url: str,
) -> None:
    # The conversation waits in another queue (tara cannot see it); one of its events names her.
    async with service_on(postgres_url) as service:
        conversation_id = await new_conversation(service)
        async with service.sessions() as session, session.begin():
            (await session.get_one(Conversation, conversation_id)).queue = "billing"
        start = await commit_event(service, conversation_id, EventType.SLA_WARNING)
        async with service.sessions() as session, session.begin():
            addressed = await log_event(
                session,
                conversation_id=conversation_id,
                type=EventType.TRANSFERRED,
                source="test",
                description="taken from tara",
                at=AT,
                details={"from_rep_id": "tara", "queue": "billing"},
            )
        await commit_event(service, conversation_id, EventType.ESCALATED)  # not hers: not replayed
        async with service.sessions() as session:
            tara = await viewer_of(session, rep=await session.get_one(Rep, "tara"))
        replayed = await load_events(service.sessions, after=start, viewer=tara)
    assert [e.id for e in replayed] == [addressed.id]


@dataclass
class Running:
    service: Service
    clock: FrozenClock


async def test_event_committed_after_a_later_id_still_reaches_the_stream(postgres_url: str) -> None:
    # On PostgreSQL ids come from a sequence at insert time: the first insert may commit last.
    async with service_on(postgres_url) as service, live_server(Running(service, FrozenClock(AT))) as url:
        conversation_id = await new_conversation(service)
        async with open_stream(url, "admin") as admin:
            async with service.sessions() as slow:
                await slow.begin()
                early = await log_event(
                    slow,
                    conversation_id=conversation_id,
                    type=EventType.ESCALATED,
                    source="test",
                    description="inserted first, committed last",
                    at=AT,
                )
                await slow.flush()  # the insert takes its id from the sequence now
                later = await commit_event(service, conversation_id, EventType.SLA_WARNING)
                await slow.commit()
            received = [(await admin.next()).id, (await admin.next()).id]
    assert early.id is not None
    assert early.id < later
    assert received == [later, early.id]


@pytest.fixture
def serve_process(postgres_url: str) -> Iterator[str]:
    """`handoff serve` in a separate OS process on the same PostgreSQL database."""
    port = free_port()
    env = {
        **os.environ,
        "HANDOFF_DATABASE_URL": postgres_url,
        "HANDOFF_RUN_BACKGROUND": "false",
        "HANDOFF_WHATSAPP_API_URL": "http://graph.invalid",
    }
    # The server's log goes to a file: a pipe nobody reads would block it once full.
    errors = tempfile.TemporaryFile()  # noqa: SIM115  (closed in the finally below)
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.runtime.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client() as client:
            for _ in range(300):  # bounded: up to 30 s for the process to migrate and listen
                if process.poll() is not None:
                    errors.seek(0)
                    problem = errors.read().decode(errors="replace")
                    raise RuntimeError(f"handoff serve exited: {problem}")
                try:
                    if client.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            else:
                raise RuntimeError("handoff serve did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        errors.close()


async def test_stream_served_by_another_os_process_receives_the_commit(
    postgres_url: str, serve_process: str
) -> None:
    async with service_on(postgres_url) as here:
        conversation_id = await new_conversation(here)
        async with open_stream(serve_process, "lena") as lena:
            event_id = await commit_event(here, conversation_id, EventType.SLA_WARNING)
            received = await lena.next()
    assert (received.type, received.id, received.data["conversation_id"]) == (
        "sla_warning",
        event_id,
        conversation_id,
    )

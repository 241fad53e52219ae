"""Helpers of the rep API tests: conversations seeded in a known state, a live HTTP server for the
event stream, and a small Server-Sent Events reader."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx
from sqlalchemy import update
from sqlmodel import col

from handoff.models import Assignment, Rep
from orchestrator.core.clock import FrozenClock
from orchestrator.core.contextlog import log_event
from orchestrator.core.enums import AssignmentStatus, Direction, EventType, HandoffReason, Owner
from orchestrator.core.tables import Contact, Conversation, Message
from orchestrator.runtime.app import create_app
from orchestrator.runtime.container import Service
from tests.fakes.servers import serve_in_loop

_numbers = itertools.count(1)


class Running(Protocol):
    """A running service and its clock (the `h` harness, or a service started by a test)."""

    @property
    def service(self) -> Service: ...

    @property
    def clock(self) -> FrozenClock: ...


class Served(Running, Protocol):
    """A running service with a client of its API (the `h` harness)."""

    @property
    def http(self) -> httpx.AsyncClient: ...


# The cast of the default configuration, by role and department.
TOKENS = {
    "tara": "demo-tara",  # rep, support
    "diego": "demo-diego",  # rep, support
    "farah": "demo-farah",  # rep, billing
    "lena": "demo-lena",  # lead, support + senior_engineering
    "sam": "demo-sam",  # lead, sales + uk_sales
    "admin": "demo-admin",
}
ACTORS = tuple(TOKENS)


def bearer(actor: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS.get(actor, actor)}"}


@dataclass(frozen=True)
class Kind:
    """A conversation state the tests seed: who owns it, in which queue, assigned to whom."""

    name: str
    owner: Owner
    queue: str | None
    assignee: str | None


KINDS = {
    k.name: k
    for k in (
        Kind("waiting_support", Owner.QUEUED, "support", None),
        Kind("tara_support", Owner.HUMAN, "support", "tara"),
        Kind("farah_billing", Owner.HUMAN, "billing", "farah"),
        Kind("bot", Owner.BOT, None, None),
        Kind("closed_tara", Owner.CLOSED, "support", "tara"),
    )
}


async def seed_conversation(
    h: Running,
    kind: Kind | str,
    *,
    last_inbound_at: datetime | None = None,
    name: str = "Seeded Customer",
) -> int:
    """A conversation in `kind`'s state, written the way the handoff and assignment engine write it
    (handoff event, assignment with its routing explanation, the rep's open count)."""
    kind = KINDS[kind] if isinstance(kind, str) else kind
    now = h.clock.now()
    async with h.service.sessions() as session, session.begin():
        contact = Contact(wa_id=f"1202555{next(_numbers):04d}", name=name, country="US", created_at=now)
        session.add(contact)
        await session.flush()
        assert contact.id is not None
        handed_off = kind.queue is not None
        conversation = Conversation(
            contact_id=contact.id,
            owner=kind.owner,
            queue=kind.queue,
            assignee_id=kind.assignee,
            handoff_reason=HandoffReason.MENU_SELECTION if handed_off else None,
            handed_off_at=now if handed_off else None,
            waiting_since=now if kind.owner == Owner.QUEUED else None,
            last_inbound_at=last_inbound_at or now,
            created_at=now,
            updated_at=now,
            closed_at=now if kind.owner == Owner.CLOSED else None,
        )
        session.add(conversation)
        await session.flush()
        assert conversation.id is not None
        session.add(
            Message(
                conversation_id=conversation.id,
                direction=Direction.INBOUND,
                kind="text",
                text="I need help with my account",
                sender_type="customer",
                status="received",
                sent_at=last_inbound_at or now,
                created_at=now,
                updated_at=now,
            )
        )
        if handed_off:
            assert kind.queue is not None
            await log_event(
                session,
                conversation_id=conversation.id,
                type=EventType.HANDOFF,
                source="handover",
                description="handed off (seeded)",
                at=now,
                details={"reason": "menu_selection", "summary": "seeded", "version": 1},
            )
            status = {
                Owner.QUEUED: AssignmentStatus.WAITING,
                Owner.HUMAN: AssignmentStatus.ACTIVE,
                Owner.CLOSED: AssignmentStatus.RESOLVED,
            }[kind.owner]
            session.add(
                Assignment(
                    conversation_id=conversation.id,
                    queue=kind.queue,
                    rep_id=kind.assignee,
                    status=status,
                    reason="menu_selection",
                    routing={"rule": "department_choice", "queue": kind.queue},
                    candidates=[{"rep_id": kind.assignee, "eligible": True, "skipped": None}]
                    if kind.assignee
                    else [],
                    queued_at=now,
                    assigned_at=now if kind.assignee else None,
                    ended_at=now if kind.owner == Owner.CLOSED else None,
                )
            )
            if kind.owner == Owner.HUMAN and kind.assignee:
                await session.execute(
                    update(Rep).where(col(Rep.id) == kind.assignee).values(open_count=col(Rep.open_count) + 1)
                )
                await log_event(
                    session,
                    conversation_id=conversation.id,
                    type=EventType.ASSIGNED,
                    source="assignment_engine",
                    description=f"assigned to {kind.assignee} (seeded)",
                    at=now,
                    details={"rep_id": kind.assignee, "queue": kind.queue},
                )
    return conversation.id


async def reassigned_by_the_lead(h: Served, *, name: str = "Seeded Customer") -> int:
    """Tara's conversation in support, which Lena (the lead) gives to Diego (set online for it)."""
    conversation_id = await seed_conversation(h, "tara_support", name=name)
    await h.http.post("/api/me/presence", json={"presence": "online"}, headers=bearer("diego"))
    moved = await h.http.post(
        f"/api/conversations/{conversation_id}/reassign", json={"rep_id": "diego"}, headers=bearer("lena")
    )
    assert moved.status_code == 200, moved.text
    return conversation_id


async def add_event(h: Running, conversation_id: int, event_type: EventType, **details: Any) -> int:
    """Append one context-log entry in its own transaction (what the engines do), return its id."""
    async with h.service.sessions() as session, session.begin():
        written = await log_event(
            session,
            conversation_id=conversation_id,
            type=event_type,
            source="test",
            description=f"{event_type} (test)",
            at=h.clock.now(),
            details=details or None,
        )
    assert written.id is not None
    return written.id


@asynccontextmanager
async def live_server(h: Running) -> AsyncIterator[str]:
    """The app over real HTTP on a local port, in this event loop."""
    async with serve_in_loop(create_app(service=h.service)) as url:
        yield url


@dataclass
class SSEEvent:
    type: str
    id: int | None
    data: dict[str, Any]


class EventStream:
    """Reads `text/event-stream` one event at a time, every wait bounded."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def until_closed(self, *, within: float = 5.0) -> list[str]:
        """The lines the server sends until it ends the stream."""
        async with asyncio.timeout(within):
            return [line async for line in self._lines]

    async def next(self, *, within: float = 5.0) -> SSEEvent:
        fields: dict[str, str] = {}
        async with asyncio.timeout(within):
            async for line in self._lines:
                if line == "":
                    if "data" in fields:
                        event_id = fields.get("id")
                        return SSEEvent(
                            type=fields.get("event", "message"),
                            id=int(event_id) if event_id else None,
                            data=json.loads(fields["data"]),
                        )
                    fields.clear()
                    continue
                if line.startswith(":"):
                    continue
                key, _, value = line.partition(":")
                fields[key] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    async def until(
        self, event_type: str, *, conversation_id: int | None = None, within: float = 5.0
    ) -> SSEEvent:
        """The next event of `event_type` (for `conversation_id`), skipping others."""
        async with asyncio.timeout(within):
            while True:
                event = await self.next(within=within)
                if event.type == event_type and (
                    conversation_id is None or event.data.get("conversation_id") == conversation_id
                ):
                    return event


@asynccontextmanager
async def open_stream(
    base_url: str, actor: str, *, last_event_id: int | None = None, params: dict[str, Any] | None = None
) -> AsyncIterator[EventStream]:
    """An SSE subscription as `actor`, returned once the server says it is subscribed (`ready`)."""
    headers = bearer(actor)
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10.0)) as client,
        client.stream("GET", "/api/stream", headers=headers, params=params) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = EventStream(response)
        ready = await stream.next()
        assert ready.type == "ready", ready
        yield stream


# Who sees which kind of conversation (DESIGN.md: a rep their own and their queues' waiting ones, a
# lead everything in their queues, an admin everything). Written out by hand on purpose.
VISIBLE: dict[str, set[str]] = {
    "tara": {"waiting_support", "tara_support", "closed_tara"},
    "diego": {"waiting_support"},
    "farah": {"farah_billing"},
    "lena": {"waiting_support", "tara_support", "closed_tara"},
    "sam": set(),
    "admin": set(KINDS),
}

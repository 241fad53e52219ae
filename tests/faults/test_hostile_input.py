"""Hostile webhook input: every case answered without a 5xx, and every usable item of a delivery
stored whatever its neighbours hold (lone surrogates, NUL, over-long ids, bad items, deep nesting,
huge bodies), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlmodel import col

from orchestrator.channels.whatsapp.inbound import split_webhook
from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.enums import InboxOutcome
from orchestrator.core.tables import Contact, InboxItem, Message, MessageStatusEvent
from orchestrator.inbox import accept_deliveries, prepare_delivery
from orchestrator.runtime.app import create_app
from orchestrator.runtime.simulator import encode_webhook
from orchestrator.runtime.webhook import MAX_BODY_BYTES
from tests.conftest import OPEN_HOURS
from tests.factories import webhook_scope
from tests.fakes.graph import TestHarness

LONG_WAMID = "wamid." + "X" * 400
LONG_FROM = "1" * 40


def delivery(
    *messages: Any, statuses: list[dict[str, Any]] | None = None, contacts: bool = True
) -> dict[str, Any]:
    """One delivery carrying these raw message objects (and statuses) in a single change."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": "000000000000000"},
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": "447700900001"}] if contacts else [],
        "messages": list(messages),
    }
    if statuses:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }


def msg(wamid: str, body: str, *, sender: str | None = "447700900001", **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": wamid, "timestamp": str(int(OPEN_HOURS.timestamp())), "type": "text"}
    raw["text"] = {"body": body}
    if sender is not None:
        raw["from"] = sender
    raw.update(extra)
    return raw


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@dataclass
class Case:
    name: str
    body: bytes
    status: int
    stored: list[str] = field(default_factory=list)  # wamids whose message must be stored
    check: Callable[[list[Message]], None] | None = None


def _text_of(wamid_prefix: str, expected: str) -> Callable[[list[Message]], None]:
    def check(messages: list[Message]) -> None:
        [m] = [m for m in messages if (m.wa_message_id or "").startswith(wamid_prefix)]
        assert m.text == expected

    return check


def _long_wamid_kept(messages: list[Message]) -> None:
    [m] = [m for m in messages if (m.wa_message_id or "").startswith("wamid.XXX")]
    assert m.wa_message_id is not None
    assert len(m.wa_message_id) <= 255
    assert m.payload is not None
    assert m.payload["message"]["id"] == LONG_WAMID


def _rejected_shown(messages: list[Message]) -> None:
    rejected = [m for m in messages if m.kind == "rejected"]
    assert len(rejected) == 1, "the message without a timestamp is kept for the rep"
    assert rejected[0].payload is not None
    assert rejected[0].payload["message"]["id"] == "wamid.hostile.notime"


CASES = [
    Case(
        "lone surrogate in one message",
        encode_webhook(delivery(msg("wamid.hostile.s1", "bad \ud800 char"), msg("wamid.hostile.s2", "fine"))),
        200,
        stored=["wamid.hostile.s1", "wamid.hostile.s2"],
        check=_text_of("wamid.hostile.s1", "bad \ufffd char"),
    ),
    Case(
        "NUL in text and name",
        encode_webhook(
            delivery(msg("wamid.hostile.n1", "nul\x00here"), msg("wamid.hostile.n2", "fine"))
        ).replace(b'"Ana"', b'"A\\u0000na"'),
        200,
        stored=["wamid.hostile.n1", "wamid.hostile.n2"],
        check=_text_of("wamid.hostile.n1", "nul\ufffdhere"),
    ),
    Case(
        "surrogate in a key",
        encode_webhook(delivery(msg("wamid.hostile.k1", "key", **{"x\udc00": "y"}))),
        200,
        stored=["wamid.hostile.k1"],
    ),
    Case(
        "over-long message id and sender",
        encode_webhook(
            delivery(msg(LONG_WAMID, "long id"), msg("wamid.hostile.f1", "long from", sender=LONG_FROM))
        ),
        200,
        stored=["wamid.XXX", "wamid.hostile.f1"],
        check=_long_wamid_kept,
    ),
    Case(
        "over-long status and status id",
        encode_webhook(
            delivery(
                msg("wamid.hostile.st", "with statuses"),
                statuses=[
                    {
                        "id": LONG_WAMID,
                        "status": "delivered" * 5,
                        "timestamp": "1764000000",
                        "recipient_id": "1",
                    }
                ],
            )
        ),
        200,
        stored=["wamid.hostile.st"],
    ),
    Case(
        "unusable items among good ones",
        encode_webhook(
            delivery(
                msg("wamid.hostile.ok1", "first good"),
                {"type": "text", "text": {"body": "no id"}},
                msg("wamid.hostile.nosender", "nobody", sender=None),
                "not an object",
                msg("wamid.hostile.notime", "no time", timestamp=None),
                msg("wamid.hostile.overflow", "far future", timestamp="9" * 30),
                msg("wamid.hostile.ok2", "second good"),
            )
        ),
        200,
        stored=["wamid.hostile.ok1", "wamid.hostile.ok2"],
    ),
    Case(
        "NaN and a 30-digit integer, which JSON allows and not every database's JSON type holds",
        encode_webhook(
            delivery(
                msg("wamid.hostile.nan", "odd numbers", extra={"score": 1}), msg("wamid.hostile.ok3", "fine")
            )
        )
        .replace(b'{"score": 1}', b'{"score": NaN, "big": 123456789012345678901234567890}')
        .replace(b'{"score":1}', b'{"score":NaN,"big":123456789012345678901234567890}'),
        200,
        stored=["wamid.hostile.nan", "wamid.hostile.ok3"],
    ),
    Case(
        "a message without timestamp is kept for the rep",
        encode_webhook(
            delivery({k: v for k, v in msg("wamid.hostile.notime", "x").items() if k != "timestamp"})
        ),
        200,
        check=_rejected_shown,
    ),
    Case("nesting far beyond the interpreter's limit", nested(100_000), 400),
    Case(
        "nesting beyond a sane depth inside a message",
        encode_webhook(delivery(msg("wamid.d", "x", deep=json.loads(nested(80))))),
        400,
    ),
    Case("invalid UTF-8", b'{"object": "whatsapp_business_account", "entry": ["\xff\xfe"]}', 400),
    Case("not JSON at all", b"\x00" * 64, 400),
    Case("an envelope that is a list", b"[]", 400),
    Case("entry is not a list", b'{"object": "whatsapp_business_account", "entry": {}}', 400),
    Case(
        "a body over the limit",
        b'{"object": "whatsapp_business_account", "entry": []}'.ljust(MAX_BODY_BYTES + 1),
        413,
    ),
]


async def _messages(h: TestHarness) -> list[Message]:
    async with h.service.sessions() as session:
        return list((await session.execute(select(Message).order_by(col(Message.id)))).scalars())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_hostile_delivery_is_answered_without_a_server_error(db_h: TestHarness, case: Case) -> None:
    response = await db_h.post_body(case.body)
    await db_h.service.turns.drain()
    assert response.status_code == case.status, response.text
    messages = await _messages(db_h)
    stored = [m.wa_message_id or "" for m in messages]
    for wamid in case.stored:
        assert any(s.startswith(wamid) for s in stored), (wamid, stored)
    if case.check is not None:
        case.check(messages)


async def test_unusable_items_are_kept_in_the_inbox_with_their_error(db_h: TestHarness) -> None:
    body = encode_webhook(
        delivery(
            msg("wamid.hostile.good", "good"),
            {"type": "text"},
            msg("wamid.hostile.anon", "x", sender=None),
            contacts=False,
        )
    )
    response = await db_h.post_body(body)
    assert response.status_code == 200
    async with db_h.service.sessions() as session:
        items = list((await session.execute(select(InboxItem).order_by(col(InboxItem.id)))).scalars())
    assert [i.outcome for i in items] == [InboxOutcome.STORED, InboxOutcome.REJECTED, InboxOutcome.REJECTED]
    assert items[1].error is not None
    assert "has no id" in items[1].error
    assert items[2].error is not None
    assert "no sender" in items[2].error
    assert all(i.applied_at is not None for i in items)


async def test_a_body_over_the_limit_is_refused_while_streaming(db_h: TestHarness) -> None:
    chunk = b" " * 65536
    sent = 0

    async def stream() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(MAX_BODY_BYTES // len(chunk) * 4):  # 16 MB offered, no Content-Length
            sent += len(chunk)
            yield chunk

    response = await db_h.http.post(
        "/webhooks/whatsapp",
        content=stream(),
        headers={"content-type": "application/json", "x-hub-signature-256": "sha256=00"},
    )
    assert response.status_code == 413
    assert sent < 2 * MAX_BODY_BYTES, "reading stops at the limit"


async def test_a_thousand_message_delivery_is_stored_whole(db_h: TestHarness) -> None:
    # Ten senders, so the turns that follow stay few; each message is still stored on its own.
    messages = [msg(f"wamid.bulk.{i}", f"message {i}", sender=f"44770090{i % 10:04d}") for i in range(1000)]
    body = encode_webhook(delivery(*messages))
    response = await db_h.post_body(body)
    assert response.status_code == 200
    assert response.json() == {"messages": 1000, "duplicates": 0, "statuses": 0}
    again = await db_h.post_body(body)
    assert again.json() == {"messages": 0, "duplicates": 1000, "statuses": 0}
    async with db_h.service.sessions() as session:
        inbound = (
            (
                await session.execute(
                    select(col(Message.wa_message_id)).where(col(Message.direction) == "inbound")
                )
            )
            .scalars()
            .all()
        )
        contacts = (await session.execute(select(Contact))).scalars().all()
    assert sorted(str(i) for i in inbound) == sorted(f"wamid.bulk.{i}" for i in range(1000))
    assert len(contacts) == 10


async def test_statuses_survive_a_neighbour_that_cannot_be_stored(db_h: TestHarness) -> None:
    body = encode_webhook(
        delivery(
            msg("wamid.hostile.x", "x", timestamp="not-a-time"),
            statuses=[
                {"id": "wamid.out.1", "status": "delivered", "timestamp": "1764000000", "recipient_id": "1"}
            ],
        )
    )
    assert (await db_h.post_body(body)).status_code == 200
    async with db_h.service.sessions() as session:
        statuses = (await session.execute(select(MessageStatusEvent))).scalars().all()
    assert [(s.wa_message_id, s.status) for s in statuses] == [("wamid.out.1", "delivered")]


async def test_a_transient_database_error_defers_an_item_instead_of_rejecting_it(
    db_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import orchestrator.conversations as conversations
    import orchestrator.inbox as inbox

    real = conversations.store_inbound_run  # how a worker's batch stores its messages
    failures = [OperationalError("UPDATE conversation ...", {}, Exception("deadlock detected"))]

    async def deadlocking_once(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real(*args, **kwargs)

    monkeypatch.setattr(inbox, "store_inbound_run", deadlocking_once)
    response = await db_h.post_body(encode_webhook(delivery(msg("wamid.hostile.deadlock", "hello"))))
    assert response.status_code == 200
    async with db_h.service.sessions() as session:
        [item] = (await session.execute(select(InboxItem))).scalars().all()
    assert item.applied_at is None, "left for the next pass"
    assert item.outcome is None
    await db_h.service.tick()
    await db_h.service.turns.drain()
    async with db_h.service.sessions() as session:
        [item] = (await session.execute(select(InboxItem))).scalars().all()
        stored = (await session.execute(select(Message).where(col(Message.kind) == "text"))).scalars().all()
    assert item.outcome == InboxOutcome.STORED
    assert [m.wa_message_id for m in stored] == ["wamid.hostile.deadlock"]


@pytest.mark.postgres
async def test_a_status_that_cannot_be_used_costs_none_of_the_statuses_applied_with_it(
    pg_h: TestHarness,
) -> None:
    statuses = [
        {"id": "wamid.out.1", "status": "delivered", "timestamp": "1764000000", "recipient_id": "1"},
        {"id": "wamid.out.2", "timestamp": "1764000000", "recipient_id": "1"},  # no status
        {"id": "wamid.out.3", "status": "read", "timestamp": "1764000000", "recipient_id": "1"},
    ]
    body = encode_webhook(delivery(statuses=statuses))
    # Stored as an acknowledge-only API process stores it; applied as a worker's wake-up applies the
    # oldest items (on PostgreSQL, statuses together in one transaction).
    async with pg_h.service.engine.begin() as conn:
        await accept_deliveries(conn, [prepare_delivery(body, split_webhook(body), at=pg_h.clock.now())])
    applied = await pg_h.service.turns.apply_inbox()

    assert (applied.stored, applied.rejected) == (2, 1)
    async with pg_h.service.sessions() as session:
        events = (await session.execute(select(MessageStatusEvent))).scalars().all()
        items = (await session.execute(select(InboxItem).order_by(col(InboxItem.id)))).scalars().all()
    assert sorted((e.wa_message_id, e.status) for e in events) == [
        ("wamid.out.1", "delivered"),
        ("wamid.out.3", "read"),
    ]
    assert [i.outcome for i in items] == [InboxOutcome.STORED, InboxOutcome.REJECTED, InboxOutcome.STORED]


async def test_a_sender_that_goes_away_before_its_body_arrived_gets_nothing_stored(db_h: TestHarness) -> None:
    body = encode_webhook(delivery(msg("wamid.hostile.gone", "hello")))
    secret = db_h.service.settings.whatsapp_app_secret.get_secret_value()
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[:40], "more_body": True},
        {"type": "http.disconnect"},
    ]
    answered: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        answered.append(dict(message))

    scope = webhook_scope(body, compute_signature(secret, body).encode())
    await create_app(service=db_h.service)(scope, receive, send)

    assert answered == [], "nobody is left to answer"
    async with db_h.service.sessions() as session:
        assert (await session.execute(select(InboxItem))).scalars().all() == []

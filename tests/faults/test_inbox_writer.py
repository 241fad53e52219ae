"""The webhook's inbox writer: deliveries that arrive while one is being stored share the next
transaction, each is answered only once that has committed, and one that cannot be stored fails
alone, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import select, text
from sqlmodel import col

from orchestrator import inbox
from orchestrator.channels.whatsapp.inbound import split_webhook
from orchestrator.core.db import UTCDateTime, sqlite_path
from orchestrator.core.tables import InboxItem, Message, WebhookDelivery
from orchestrator.inbox import Accepted, Delivery, InboxWriter, accept_deliveries, prepare_delivery
from orchestrator.runtime.simulator import build_text_webhook, encode_webhook
from tests.conftest import OPEN_HOURS
from tests.factories import counting, loop_ticks
from tests.fakes.graph import TestHarness, status_webhook


def body(n: int) -> bytes:
    return encode_webhook(
        build_text_webhook(
            wa_id=f"44770090{n:04d}", message_id=f"wamid.writer.{n}", timestamp=OPEN_HOURS, text=f"hello {n}"
        )
    )


def delivery(n: int) -> Delivery:
    raw = body(n)
    return prepare_delivery(raw, split_webhook(raw), at=OPEN_HOURS)


async def stored_keys(h: TestHarness) -> list[str]:
    async with h.service.sessions() as session:
        return list(
            (await session.execute(select(col(InboxItem.key)).order_by(col(InboxItem.key)))).scalars()
        )


async def inbound_ids(h: TestHarness) -> list[str]:
    async with h.service.sessions() as session:
        rows = await session.execute(
            select(col(Message.wa_message_id)).where(col(Message.direction) == "inbound")
        )
        return sorted(str(m) for m in rows.scalars())


@contextmanager
def writes_of(h: TestHarness, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The deliveries of each write of items in the block, as they are written: on SQLite by
    `accept_on_sqlite` (each call one transaction), on PostgreSQL by the transactions that inserted
    the inbox's rows, read at the end (the writer's statements run on its own connections)."""
    writes: list[int] = []
    if h.service.engine.dialect.name == "sqlite":
        real = inbox.accept_on_sqlite

        def counted(db: sqlite3.Connection, deliveries: Sequence[Delivery]) -> list[Accepted]:
            writes.append(len(deliveries))
            return real(db, deliveries)

        monkeypatch.setattr(inbox, "accept_on_sqlite", counted)
    yield writes


async def postgresql_writes(h: TestHarness) -> int:
    async with h.service.sessions() as session:
        found = await session.execute(text("SELECT count(DISTINCT xmin::text) FROM inboxitem"))
        return int(found.scalar_one())


@asynccontextmanager
async def database_busy(h: TestHarness) -> AsyncIterator[None]:
    """On SQLite another writer of the process holds the write gate (a transaction of the engine, as
    a turn's) for the block, so deliveries arriving meanwhile wait; on PostgreSQL nothing: the
    writer's own round trips are the wait."""
    if h.service.engine.dialect.name != "sqlite":
        yield
        return
    async with h.service.engine.begin() as conn:
        await conn.execute(text("SELECT 1"))
        yield


async def writes_and_groups(h: TestHarness, writes: list[int]) -> int:
    return await postgresql_writes(h) if h.service.engine.dialect.name == "postgresql" else len(writes)


async def test_concurrent_deliveries_share_a_transaction(
    db_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliveries = [delivery(n) for n in range(8)] + [delivery(2)]  # the last repeats the third
    async with InboxWriter(db_h.service.engine, transactions=2, min_group=1, gather=False) as writer:
        with writes_of(db_h, monkeypatch) as writes:
            async with database_busy(db_h):
                stores = [asyncio.create_task(writer.store(d)) for d in deliveries]
                await asyncio.sleep(0.1)
            results = await asyncio.gather(*stores)
    # The first two are stored at once, each alone; the seven that arrived meanwhile share one
    # write (one statement on PostgreSQL, one transaction on SQLite).
    assert await writes_and_groups(db_h, writes) == 3
    if writes:
        assert writes == [1, 1, 7]
    assert [(r.messages, r.duplicates, len(r.new_ids)) for r in results] == [(1, 0, 1)] * 8 + [(0, 1, 0)]
    assert await stored_keys(db_h) == sorted(f"m:wamid.writer.{n}" for n in range(8))
    async with db_h.service.sessions() as session:
        bodies = (await session.execute(select(col(WebhookDelivery.body)))).scalars().all()
    assert sorted(bodies) == sorted(body(n).decode() for n in [*range(8), 2])


async def test_by_default_postgresql_shares_a_write_among_waiting_deliveries_and_sqlite_gathers_a_pass(
    db_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with InboxWriter(db_h.service.engine) as writer:
        with writes_of(db_h, monkeypatch) as writes:
            async with database_busy(db_h):
                stores = [asyncio.create_task(writer.store(delivery(n))) for n in range(10)]
                await asyncio.sleep(0.1)
            results = await asyncio.gather(*stores)
    # PostgreSQL: the first alone, the nine that arrived during its round trip in one write (the
    # second, started once eight waited, takes all that wait when it starts); SQLite: the ten
    # handed over in one pass of the event loop in one write, once the other writer let go.
    assert await writes_and_groups(db_h, writes) == (
        2 if db_h.service.engine.dialect.name == "postgresql" else 1
    )
    if writes:
        assert writes == [10]
    assert all(r.messages == 1 for r in results)
    assert await stored_keys(db_h) == sorted(f"m:wamid.writer.{n}" for n in range(10))


async def test_on_sqlite_the_deliveries_of_one_pass_share_a_transaction_and_a_lone_one_is_stored_alone(
    h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with InboxWriter(h.service.engine) as writer:
        with writes_of(h, monkeypatch) as writes:
            lone = await writer.store(delivery(0))
            together = await asyncio.gather(*(writer.store(delivery(n)) for n in range(1, 6)))
            later = await writer.store(delivery(6))
    assert writes == [1, 5, 1]
    assert [r.messages for r in [lone, *together, later]] == [1] * 7
    assert await stored_keys(h) == sorted(f"m:wamid.writer.{n}" for n in range(7))


@pytest.mark.postgres
async def test_on_postgresql_a_second_write_starts_only_once_eight_deliveries_wait(
    pg_h: TestHarness, postgres_url: str
) -> None:
    writer = pg_h.service.inbox
    conninfo = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with await psycopg.AsyncConnection.connect(conninfo) as blocker:
        # Another transaction inserting the first delivery's key holds its write until it ends.
        await blocker.execute(
            "INSERT INTO inboxitem (key, kind, item, received_at) VALUES (%s, 'message', '{}', now())",
            ["m:wamid.writer.0"],
        )
        first = asyncio.create_task(writer.store(delivery(0)))
        await asyncio.sleep(0.2)
        lone = [asyncio.create_task(writer.store(delivery(n))) for n in range(1, 8)]
        await asyncio.sleep(0.3)
        assert not first.done()
        assert not any(task.done() for task in lone)  # seven wait for the write under way
        eighth = asyncio.create_task(writer.store(delivery(8)))
        stored = await asyncio.wait_for(asyncio.gather(*lone, eighth), timeout=10)
        assert [r.messages for r in stored] == [1] * 8  # the second write, beside the first
        assert not first.done()
        await blocker.rollback()
    assert (await asyncio.wait_for(first, timeout=10)).messages == 1
    assert await stored_keys(pg_h) == sorted(f"m:wamid.writer.{n}" for n in range(9))


async def test_a_delivery_that_cannot_be_stored_fails_alone(db_h: TestHarness) -> None:
    async with InboxWriter(db_h.service.engine, transactions=1) as writer:
        bad = delivery(99)
        bad.rows[0]["item"] = {"not JSON": {1, 2}}  # no JSON column can hold a set: its INSERT fails
        deliveries = [delivery(0), delivery(1), bad, delivery(2)]
        results: list[Accepted | BaseException] = await asyncio.gather(
            *(writer.store(d) for d in deliveries), return_exceptions=True
        )
        assert isinstance(results[2], Exception)
        good = [r for i, r in enumerate(results) if i != 2]
        assert all(isinstance(r, Accepted) and r.messages == 1 and len(r.new_ids) == 1 for r in good)
        assert await stored_keys(db_h) == [f"m:wamid.writer.{n}" for n in range(3)]
    async with db_h.service.sessions() as session:
        bodies = (await session.execute(select(col(WebhookDelivery.body)))).scalars().all()
    assert sorted(bodies) == sorted(body(n).decode() for n in range(3))  # its body went with it


async def test_webhooks_posted_at_once_are_each_stored_and_answered(db_h: TestHarness) -> None:
    bodies = [body(n) for n in range(12)]
    responses = await asyncio.gather(*(db_h.post_body(b) for b in bodies))
    assert [r.json() for r in responses] == [{"messages": 1, "duplicates": 0, "statuses": 0}] * 12
    await db_h.service.turns.drain()
    assert await inbound_ids(db_h) == sorted(f"wamid.writer.{n}" for n in range(12))


@pytest.mark.parametrize("count", [1, 3])
async def test_each_caller_is_answered_after_its_commit(db_h: TestHarness, count: int) -> None:
    """When `store` returns, its items are visible to another connection (committed)."""
    writer = db_h.service.inbox

    async def store_and_look(n: int) -> bool:
        accepted = await writer.store(delivery(n))
        async with db_h.service.sessions() as session:
            found = await session.execute(
                select(col(InboxItem.id)).where(col(InboxItem.id).in_(accepted.new_ids))
            )
            return len(found.all()) == 1

    assert await asyncio.gather(*(store_and_look(n) for n in range(count))) == [True] * count


@pytest.mark.postgres
async def test_an_acknowledge_only_writer_wakes_the_workers_only_when_it_stored_new_items(
    pg_h: TestHarness, postgres_url: str
) -> None:
    channel = "handoff_test_inbox_writer"
    async with InboxWriter(pg_h.service.engine, notify=channel) as writer:
        conninfo = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as listener:
            await listener.execute(f"LISTEN {channel}")

            async def woken() -> int:
                return len([n async for n in listener.notifies(timeout=0.5)])

            first = await writer.store(delivery(1))
            assert first.messages == 1
            assert await woken() == 1
            again = await writer.store(delivery(1))  # Meta delivering it again: nothing new
            assert again.duplicates == 1
            assert await woken() == 0
            await asyncio.gather(*(writer.store(delivery(n)) for n in range(2, 6)))
            assert 1 <= await woken() <= 4  # once per write that stored items


def status_delivery(n: int) -> Delivery:
    raw = status_webhook(f"wamid.writer.reply.{n}", "447700900001", "delivered", None)
    return prepare_delivery(raw, split_webhook(raw), at=OPEN_HOURS)


@pytest.mark.postgres
async def test_statuses_alone_wake_the_workers_once_an_interval_and_messages_every_time(
    pg_h: TestHarness, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "STATUS_WAKE_EVERY_S", 0.6)
    channel = "handoff_test_inbox_statuses"
    async with InboxWriter(pg_h.service.engine, notify=channel) as writer:
        conninfo = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as listener:
            await listener.execute(f"LISTEN {channel}")

            async def woken() -> list[str]:
                return [n.payload async for n in listener.notifies(timeout=0.3)]

            for n in range(4):  # Meta's statuses of four replies, one webhook each, within the interval
                await writer.store(status_delivery(n))
            assert await woken() == ["status"], "the first one wakes them; the workers take the rest with it"
            await writer.store(delivery(1))
            assert await woken() == ["message"], "a customer's message wakes them every time"
            await asyncio.sleep(0.4)  # the interval is over (0.3 s waited above)
            again = await writer.store(status_delivery(0))  # Meta delivering one again: nothing new
            assert again.new_ids == []
            assert await woken() == []
            await writer.store(status_delivery(9))  # a write that stored nothing began no interval
            assert await woken() == ["status"]


async def test_the_items_of_webhooks_posted_at_once_are_applied_in_shared_transactions(
    h: TestHarness,
) -> None:
    bodies = [body(n) for n in range(12)]
    with counting(h) as statements:
        responses = await asyncio.gather(*(h.post_body(b) for b in bodies))
        await h.service.turns.drain()
    assert all(r.status_code == 200 for r in responses)
    applied = [s for s in statements if s.lstrip().upper().startswith("UPDATE INBOXITEM SET APPLIED_AT")]
    # One statement marks a pass's items applied; the deliveries that arrived while the applier
    # was busy were applied together, not one transaction each.
    assert 1 <= len(applied) < len(bodies)
    assert await inbound_ids(h) == sorted(f"wamid.writer.{n}" for n in range(12))


async def terminate_writer_connections(h: TestHarness) -> int:
    """Server-side end of the connections whose last statement was a webhook write (a restart or a
    failover does the same to idle connections)."""
    async with h.service.sessions() as session, session.begin():
        ended = await session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'WITH doc AS%' AND pid <> pg_backend_pid()"
            )
        )
        return len(ended.all())


@pytest.mark.postgres
async def test_a_write_after_idle_replaces_a_connection_the_server_ended(
    pg_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "PING_AFTER_IDLE_S", 0.0)  # every connection counts as idle
    async with InboxWriter(pg_h.service.engine) as writer:
        assert (await writer.store(delivery(1))).messages == 1
        assert await terminate_writer_connections(pg_h) == 1
        assert (await writer.store(delivery(2))).messages == 1  # the ping failed: a new connection
    assert await stored_keys(pg_h) == ["m:wamid.writer.1", "m:wamid.writer.2"]


@pytest.mark.postgres
async def test_a_write_on_a_connection_ended_while_in_use_fails_and_the_next_one_is_stored(
    pg_h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "PING_AFTER_IDLE_S", 3600.0)  # never pinged: its use finds it dead
    async with InboxWriter(pg_h.service.engine) as writer:
        assert (await writer.store(delivery(1))).messages == 1
        assert await terminate_writer_connections(pg_h) == 1
        with pytest.raises(psycopg.OperationalError):
            await writer.store(delivery(2))  # answered 500: Meta delivers it again
        assert (await writer.store(delivery(2))).messages == 1  # the dead connection was not kept
    assert await stored_keys(pg_h) == ["m:wamid.writer.1", "m:wamid.writer.2"]


async def test_on_sqlite_the_writers_rows_read_back_as_sqlalchemy_writes_them(h: TestHarness) -> None:
    raw = encode_webhook(
        build_text_webhook(
            wa_id="447700900123", message_id="wamid.writer.x", timestamp=OPEN_HOURS, text='olá 👋 "quoted"'
        )
    )
    with counting(h) as statements:
        response = await h.post_body(raw)  # the webhook, through the service's writer
    assert not [s for s in statements if "INSERT INTO inboxitem" in s]  # run by sqlite3, not the engine
    assert response.json() == {"messages": 1, "duplicates": 0, "statuses": 0}
    async with h.service.sessions() as session:
        item = (await session.execute(select(InboxItem))).scalar_one()
        stored_body = (await session.execute(select(col(WebhookDelivery.body)))).scalar_one()
        as_bound = sa.cast(sa.bindparam("at", OPEN_HOURS, type_=UTCDateTime), sa.Text)
        same_text = await session.execute(
            select(sa.func.count()).where(sa.cast(col(InboxItem.received_at), sa.Text) == as_bound)
        )
    assert item.item == split_webhook(raw).items[0].model_dump(mode="json")
    assert item.item["raw"]["text"]["body"] == 'olá 👋 "quoted"'
    assert item.received_at == OPEN_HOURS
    assert same_text.scalar_one() == 1  # the timestamp's text is SQLAlchemy's own, so it sorts with theirs
    assert stored_body == raw.decode()
    await h.service.turns.drain()
    assert await inbound_ids(h) == ["wamid.writer.x"]


async def test_on_sqlite_more_items_than_one_statement_takes_are_all_stored_once(h: TestHarness) -> None:
    deliveries = [delivery(n) for n in range(1203)] + [delivery(7), delivery(1100)]
    async with h.service.engine.begin() as conn:  # in the caller's transaction, as a test or tool does
        results = await accept_deliveries(conn, deliveries)
    assert [len(r.new_ids) for r in results] == [1] * 1203 + [0, 0]
    assert [r.duplicates for r in results[-2:]] == [1, 1]
    async with h.service.sessions() as session:
        rows = (await session.execute(select(col(InboxItem.id), col(InboxItem.key)))).all()
    assert sorted(rows) == sorted((r.new_ids[0], f"m:wamid.writer.{n}") for n, r in enumerate(results[:1203]))


async def test_on_sqlite_a_write_waits_for_another_process_lock_without_stopping_the_loop(
    h: TestHarness,
) -> None:
    path = sqlite_path(h.service.settings.database_url)
    assert path is not None
    other = sqlite3.connect(str(path), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process's writer holds SQLite's write lock
        async with loop_ticks() as ticks:
            store = asyncio.create_task(h.service.inbox.store(delivery(1)))
            await asyncio.sleep(0.4)
            assert not store.done()
            assert ticks[0] >= 10  # the loop went on while the write waited
        other.execute("COMMIT")
        assert (await asyncio.wait_for(store, timeout=5)).messages == 1
    finally:
        other.close()
    assert await stored_keys(h) == ["m:wamid.writer.1"]

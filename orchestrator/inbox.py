"""The webhook inbox: a delivery's items stored before the answer, applied after it.

- `accept_deliveries` is all the acknowledgement does: one batched INSERT of every message and
  status (`ON CONFLICT DO NOTHING` on its key, so Meta's repeated deliveries are stored once) and one
  of the raw bodies: on PostgreSQL both in one statement that commits on its own, run by psycopg
  on the writer's own connections; on SQLite two statements run by `sqlite3` itself, on the
  writer's own connection through the process's write gate (or in the caller's transaction).
  No contact, conversation or status work happens before the 200. `InboxWriter` runs it for the
  webhook: the deliveries that arrive while one is being stored share the next write.
- `apply_items` then applies the items: contact upsert, conversation and message for each message;
  the statuses of a batch together, in two statements (`conversations.apply_statuses`). First as a
  batch in the caller's transaction (`isolate=False`; the webhook's own items need no read, the
  acknowledgement hands them over); if anything in it fails, the caller rolls it back and applies
  the same items again with `isolate=True`, each inside a savepoint. An item that cannot be used
  (no id, no sender, a value no column can hold) never costs the others: it is kept in the inbox
  with its error and, when its sender is known, as a `rejected` message in the sender's
  conversation, so a rep sees that something arrived. A transient database error (a deadlock, a
  lock timeout) is not the item's fault: the item is left for the next pass, never rejected.
The webhook hands its items to the process's applier task (`TurnEngine.apply_soon`), which applies
those of the deliveries that arrived meanwhile together; the background loop applies whatever a
crash left behind. Applying twice is harmless: messages and statuses dedupe on their own keys.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from orchestrator.channels.whatsapp.inbound import (
    ContactRef,
    InboundKind,
    InboundMessage,
    ItemKind,
    RawItem,
    StatusUpdate,
    WebhookEnvelope,
    parse_item,
)
from orchestrator.conversations import (
    StoredInbound,
    apply_status,
    apply_statuses,
    current_conversation,
    follow_number_change,
    store_inbound_run,
    store_one,
    upsert_contact,
)
from orchestrator.core import jsontext
from orchestrator.core.contextlog import log_event
from orchestrator.core.db import (
    PING_AFTER_IDLE_S,
    URGENT,
    InlineSQLite,
    WriteGate,
    fit,
    sqlite_connection,
    sqlite_path,
    sqlite_write,
    write_gate,
)
from orchestrator.core.enums import Direction, EventType, InboxOutcome, Owner
from orchestrator.core.tables import InboxItem, Message, WebhookDelivery
from orchestrator.media import MEDIA_KINDS, register_inbound

if TYPE_CHECKING:
    import psycopg

log = structlog.get_logger(__name__)
KEY_MAX = 255
# An acknowledge-only API process wakes the workers for deliveries of statuses alone at most this
# often (`InboxWriter`); a worker applies the statuses a second after it is woken for them
# (`runtime.wakeup.STATUSES_AFTER_S`), so this is half that. Messages wake them every time.
STATUS_WAKE_EVERY_S = 0.5
REJECTED_KIND = "rejected"


@dataclass
class Accepted:
    """What the acknowledgement stored: the new inbox rows and the counts the webhook answers with."""

    new_ids: list[int] = field(default_factory=list)
    items: dict[int, dict[str, Any]] = field(default_factory=dict)  # the new rows' items, as stored
    messages: int = 0
    duplicates: int = 0
    statuses: int = 0


@dataclass
class Applied:
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    deferred: int = 0  # transient database errors: left for the next pass
    seen: int = 0
    media: int = 0  # messages whose media was registered for a fetch (the fetcher is kicked then)
    to_run: set[int] = field(default_factory=set)  # bot-owned conversations with new messages
    # Reading the oldest items: whether an unapplied item came after the last one read (a pass
    # stops there, without a read that finds nothing).
    more: bool = True

    def merge(self, other: Applied) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.deferred += other.deferred
        self.seen += other.seen
        self.media += other.media
        self.to_run |= other.to_run


def item_key(item: RawItem) -> str:
    """The dedupe key: the message id, or status and message id; a hash of the item without an id."""
    raw = item.raw if isinstance(item.raw, dict) else {}
    wamid = raw.get("id")
    if not isinstance(wamid, str) or not wamid:
        digest = hashlib.sha256(json.dumps(item.raw, sort_keys=True, default=str).encode()).hexdigest()
        return f"{item.kind}:nokey:{digest}"
    if item.kind == ItemKind.STATUS:
        return fit(f"s:{raw.get('status')}:{wamid}", KEY_MAX)
    return fit(f"m:{wamid}", KEY_MAX)


@dataclass
class Delivery:
    """A verified delivery ready to store: its body as text, its items as stored, their counts."""

    body: str
    rows: list[dict[str, Any]]  # key, kind, item, received_at
    messages: int
    statuses: int
    at: datetime
    media: bool  # a message carries media (fetched once the items are applied)


def prepare_delivery(body: bytes, envelope: WebhookEnvelope, *, at: datetime) -> Delivery:
    """What `accept_deliveries` stores for a verified delivery (no database work)."""
    rows: list[dict[str, Any]] = []
    messages = 0
    media = False
    for item in envelope.items:
        kind = str(item.kind)
        is_message = item.kind == ItemKind.MESSAGE
        messages += is_message
        raw = item.raw
        if is_message and isinstance(raw, dict) and raw.get("type") in MEDIA_KINDS:
            media = True
        # As `item.model_dump(mode="json")` would give it: the values come from JSON already.
        stored = {
            "kind": kind,
            "path": item.path,
            "raw": raw,
            "contacts": item.contacts,
            "metadata": item.metadata,
        }
        rows.append({"key": item_key(item), "kind": kind, "item": stored, "received_at": at})
    return Delivery(
        # Text columns cannot hold NUL; the JSON body itself carries it escaped as \u0000.
        body=body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        rows=rows,
        messages=messages,
        statuses=len(rows) - messages,
        at=at,
        media=media,
    )


_DELIVERIES = cast(sa.Table, WebhookDelivery.__table__)  # type: ignore[attr-defined]
_INBOX = cast(sa.Table, InboxItem.__table__)  # type: ignore[attr-defined]
# SQLite: the statements `sqlite3` runs itself (`accept_on_sqlite`). Through SQLAlchemy a lone
# delivery's write cost about 1 ms of CPU, run by `sqlite3` about 0.15 ms. The items go in
# multi-row VALUES of at most `_SQLITE_ROWS` rows (four parameters each, well under SQLite's limit of
# 32,766), whose text is made once per row count; a key already stored, or repeated among the rows,
# is skipped. Timestamps are written as SQLAlchemy writes them (the column type's own processor).
_SQLITE_DELIVERY = (
    f"INSERT INTO {_DELIVERIES.name} (body, messages, statuses, received_at) VALUES (?, ?, ?, ?)"
)
_SQLITE_ROWS = 500
_SQLITE = sqlite_dialect.dialect()
_sqlite_at = cast(
    Callable[[datetime], str], _INBOX.c.received_at.type.dialect_impl(_SQLITE).bind_processor(_SQLITE)
)


@functools.lru_cache(maxsize=64)
def _sqlite_items(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?)"] * rows)
    return (
        f"INSERT INTO {_INBOX.name} (key, kind, item, received_at) VALUES {values} "
        "ON CONFLICT (key) DO NOTHING RETURNING id, key"
    )


# PostgreSQL: the bodies and the items in one statement, which needs no transaction of its own (one
# round trip where BEGIN, two INSERTs, the NOTIFY and COMMIT were five). Its rows come as one JSON
# document (`jsontext.dumps`; the parser has already turned NaN and the infinities into null),
# turned back into rows by `json_to_recordset`, so the statement's text is the same for any number
# of rows (prepared once by psycopg) and the rows are encoded by orjson, not one array per column by
# the driver (which escaped each element with a regular expression).
# `notify` (a channel, or NULL) wakes the workers once the statement commits, with the kind of item
# stored as the payload (`message`, `status`: a worker applies statuses in batches of their own, later
# than messages, `wakeup.InboxListener`); a notification repeated in one transaction is delivered
# once. Run through psycopg itself (`accept_on_postgresql`).
_PG_ACCEPT = (
    "WITH doc AS (SELECT CAST(%(rows)s AS json) AS d), "
    "bodies AS ("
    "INSERT INTO webhookdelivery (body, messages, statuses, received_at) "
    "SELECT b.body, b.messages, b.statuses, b.received_at FROM doc, json_to_recordset(doc.d -> 'bodies') "
    "AS b(body text, messages integer, statuses integer, received_at timestamptz)"
    "), items AS ("
    "INSERT INTO inboxitem (key, kind, item, received_at) "
    "SELECT i.key, i.kind, i.item, i.received_at FROM doc, json_to_recordset(doc.d -> 'items') "
    "AS i(key text, kind text, item json, received_at timestamptz) "
    "ON CONFLICT (key) DO NOTHING RETURNING id, key, kind"
    ") SELECT items.id, items.key, "
    "CASE WHEN CAST(%(notify)s AS text) IS NOT NULL THEN pg_notify(%(notify)s, items.kind) END AS woken "
    "FROM items"
)


@dataclass
class _Batch:
    """The rows of deliveries stored together, and what each delivery's answer will say."""

    deliveries: Sequence[Delivery]
    accepted: list[Accepted] = field(default_factory=list)
    owners: dict[str, tuple[Accepted, dict[str, Any]]] = field(default_factory=dict)  # each key's first row
    rows: list[dict[str, Any]] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for delivery in self.deliveries:
            result = Accepted(statuses=delivery.statuses)
            self.accepted.append(result)
            for row in delivery.rows:
                self.owners.setdefault(row["key"], (result, row))
            self.rows.extend(delivery.rows)
            self.bodies.append(
                {
                    "body": delivery.body,
                    "messages": delivery.messages,
                    "statuses": delivery.statuses,
                    "received_at": delivery.at,
                }
            )

    def stored(self, new: Iterable[tuple[int, str]]) -> list[Accepted]:
        """Each delivery's answer, given the (id, key) of the items that were new."""
        for row_id, key in new:
            result, row = self.owners[key]
            result.new_ids.append(int(row_id))
            result.items[int(row_id)] = row["item"]
            result.messages += row["kind"] == ItemKind.MESSAGE
        for delivery, result in zip(self.deliveries, self.accepted, strict=True):
            result.duplicates = delivery.messages - result.messages
            result.new_ids.sort()
        return self.accepted


async def accept_deliveries(
    conn: AsyncConnection, deliveries: Sequence[Delivery], *, notify: str | None = None
) -> list[Accepted]:
    """Store the raw bodies and every item of verified deliveries, nothing else (see module
    docstring), in the caller's transaction: one statement on PostgreSQL (`accept_on_postgresql`),
    two on SQLite (`accept_on_sqlite`), each run by the driver on the transaction's own connection.
    An item whose key is stored already, or came earlier in `deliveries`, is a duplicate.
    `notify`: a PostgreSQL channel notified when new items were stored."""
    raw = await conn.get_raw_connection()  # the transaction's own driver connection
    if conn.dialect.name == "postgresql":
        assert raw.driver_connection is not None
        return await accept_on_postgresql(raw.driver_connection, deliveries, notify=notify)
    if notify is not None:
        raise ValueError("waking workers needs PostgreSQL")
    assert isinstance(raw.driver_connection, InlineSQLite)
    return accept_on_sqlite(raw.driver_connection.sqlite, deliveries)


def accept_on_sqlite(db: sqlite3.Connection, deliveries: Sequence[Delivery]) -> list[Accepted]:
    """`accept_deliveries` on a `sqlite3` connection, in its transaction: one INSERT of the bodies,
    one of the items (per `_SQLITE_ROWS`)."""
    batch = _Batch(deliveries)
    db.executemany(
        _SQLITE_DELIVERY,
        [(b["body"], b["messages"], b["statuses"], _sqlite_at(b["received_at"])) for b in batch.bodies],
    )
    new: list[tuple[int, str]] = []
    for start in range(0, len(batch.rows), _SQLITE_ROWS):
        rows = batch.rows[start : start + _SQLITE_ROWS]
        values = [
            value
            for row in rows
            for value in (
                row["key"],
                row["kind"],
                jsontext.dumps(row["item"]),
                _sqlite_at(row["received_at"]),
            )
        ]
        new.extend(db.execute(_sqlite_items(len(rows)), values).fetchall())
    return batch.stored(new)


async def accept_on_postgresql(
    conn: psycopg.AsyncConnection[Any], deliveries: Sequence[Delivery], *, notify: str | None = None
) -> list[Accepted]:
    """`accept_deliveries` on a psycopg connection: one statement, committed on its own when the
    connection autocommits (the webhook's writer), else in the connection's transaction."""
    batch = _Batch(deliveries)
    document = jsontext.dumps({"bodies": batch.bodies, "items": batch.rows})
    cursor = await conn.execute(_PG_ACCEPT, {"rows": document, "notify": notify})
    return batch.stored((row_id, key) for row_id, key, _ in await cursor.fetchall())


class _OwnConnections:
    """The webhook writer's own PostgreSQL connections, psycopg in autocommit, one per write under way
    and kept between writes: through the engine's pool and SQLAlchemy a write cost about 270 µs of
    CPU more (the checkout and check-in, the isolation level set and reset, the statement's
    execution), which a lone status webhook pays whole. Like the pool's (`core.db`), a connection
    idle for `PING_AFTER_IDLE_S` is pinged before use and replaced when the ping fails; one whose
    write failed is closed, never reused."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._idle: list[tuple[psycopg.AsyncConnection[Any], float]] = []

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        conn = await self._take()
        try:
            yield conn
        except BaseException:
            await conn.close()
            raise
        self._idle.append((conn, time.monotonic()))

    async def _take(self) -> psycopg.AsyncConnection[Any]:
        import psycopg

        while self._idle:
            conn, since = self._idle.pop()
            if conn.closed:
                continue
            if time.monotonic() - since < PING_AFTER_IDLE_S:
                return conn
            try:
                await conn.execute("SELECT 1")
            except psycopg.Error:
                await conn.close()
                continue
            return conn
        return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            await conn.close()


class _OwnSQLite:
    """The webhook writer's own SQLite connection (`core.db.sqlite_connection`), opened at the first
    write and kept: each write is a transaction on it through the engine's write gate, ahead of the
    process's other writers (`core.db.sqlite_write`), so it never meets the lock of a writer of
    this process, and waits for another process's without blocking the event loop."""

    def __init__(self, path: Path, gate: WriteGate | None) -> None:
        self._path = path
        self._gate = gate
        self._conn: sqlite3.Connection | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[sqlite3.Connection]:
        if self._conn is None:
            self._conn = sqlite_connection(self._path)
        async with sqlite_write(self._conn, self._gate, urgent=True) as conn:
            yield conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class InboxWriter:
    """Stores verified deliveries (`accept_deliveries`), answering each once its transaction has
    committed. A delivery arriving while nothing is being stored is stored at once, in its own
    transaction; the deliveries that arrive while a write is under way wait and are then stored
    together, in one transaction (up to `max_items` items), so under load the commits, and the
    connection and its round trips, are shared. Up to `transactions` writes run at once, a second
    one (and further) only once `min_group` deliveries wait, so a write of their own is worth its
    statement. By default on PostgreSQL, where a write is one statement and the process does little
    else, two writes, the second from eight waiting deliveries: the process works on the next
    group while the database runs and commits the last one (one at a time left it idle for about a
    third of each round trip; a second write for every lone arrival made groups of one).
    On an SQLite file a write runs its statements at once, on the event loop's thread, so nothing
    arrives while it runs and a write of its own for each delivery meant a `BEGIN IMMEDIATE` and a
    `COMMIT` for each (about half of what storing one cost). There, by default, the writer
    `gather`s: every delivery waits for the next pass of the event loop, and one write at a time
    stores all the deliveries the pass before handed over (a lone delivery waits for that pass
    only; under a burst the acknowledgements of a pass share one transaction: measured in
    `docs/benchmarks.md`). If a shared transaction fails, its deliveries are stored again one by
    one, so one that cannot be stored never costs the others. On PostgreSQL a write is one
    statement, committed on its own (`accept_deliveries`); `notify` names the channel it notifies
    when it stored new items (an acknowledge-only process wakes its workers so; for statuses alone,
    at most once every `STATUS_WAKE_EVERY_S`)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        notify: str | None = None,
        transactions: int | None = None,
        min_group: int | None = None,
        max_items: int = 5000,
        gather: bool | None = None,
    ) -> None:
        postgres = engine.dialect.name == "postgresql"
        if notify is not None and not postgres:
            raise ValueError("waking workers needs PostgreSQL")
        self._engine = engine
        self._notify = notify
        self._own = (
            _OwnConnections(engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
            if postgres
            else None
        )
        path = None if postgres else sqlite_path(engine.url.render_as_string(hide_password=False))
        in_file = path is not None and str(path) not in ("", ":memory:")
        self._sqlite = _OwnSQLite(path, write_gate(engine)) if path is not None and in_file else None
        self._gather = gather if gather is not None else self._sqlite is not None
        default = 2 if postgres else 1 if self._gather else 4
        self._limit = transactions if transactions is not None else default
        self._min_group = min_group if min_group is not None else (8 if postgres else 1)
        self._max_items = max_items
        self._writing = 0
        self._statuses_woken = -STATUS_WAKE_EVERY_S  # when statuses alone last woke the workers
        self._waiting: deque[tuple[Delivery, asyncio.Future[Accepted]]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()

    async def store(self, delivery: Delivery) -> Accepted:
        if not self._gather and not self._waiting and self._may_write(waiting=1):
            self._writing += 1
            try:
                [accepted] = await self._write([delivery])
            finally:
                self._writing -= 1
                self._start_waiting()
            return accepted
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery, future))
        self._start_waiting()
        return await future

    def _may_write(self, *, waiting: int) -> bool:
        """Whether `waiting` deliveries may start a write now (see the class docstring)."""
        return self._writing < self._limit and (self._writing == 0 or waiting >= self._min_group)

    def _start_waiting(self) -> None:
        while self._waiting and self._may_write(waiting=len(self._waiting)):
            self._writing += 1
            task = asyncio.create_task(self._store_waiting(), name="inbox-writer")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _store_waiting(self) -> None:
        """One write of the deliveries waiting when it starts (those arriving until then join)."""
        try:
            if self._waiting:
                group = [self._waiting.popleft()]
                items = len(group[0][0].rows)
                while self._waiting and items + len(self._waiting[0][0].rows) <= self._max_items:
                    items += len(self._waiting[0][0].rows)
                    group.append(self._waiting.popleft())
                await self._store_group(group)
        finally:
            self._writing -= 1
            self._start_waiting()  # the next write, if any waits (also as this task is cancelled)

    async def _store_group(self, group: list[tuple[Delivery, asyncio.Future[Accepted]]]) -> None:
        try:
            results = await self._write([delivery for delivery, _ in group])
        except asyncio.CancelledError:
            for _, future in group:
                future.cancel()
            raise
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0][1], exc)
                return
            log.warning("inbox_group_failed", deliveries=len(group), error=f"{type(exc).__name__}: {exc}")
            for one in group:  # one by one: the one that cannot be stored fails alone
                await self._store_group([one])
            return
        for (_, future), accepted in zip(group, results, strict=True):
            _settle(future, accepted)

    async def close(self) -> None:
        """Close the writer's own connections; a later write opens new ones."""
        if self._own is not None:
            await self._own.close()
        if self._sqlite is not None:
            self._sqlite.close()

    async def __aenter__(self) -> InboxWriter:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _write(self, deliveries: list[Delivery]) -> list[Accepted]:
        if self._own is not None:
            # Statuses alone wake the workers at most once every `STATUS_WAKE_EVERY_S`: a worker
            # applies them `STATUSES_AFTER_S` after the notification, those stored meanwhile with
            # them (a write slower than the difference waits for the next one, or the sweep).
            notify = self._notify
            statuses_only = not any(delivery.messages for delivery in deliveries)
            if statuses_only and time.monotonic() - self._statuses_woken < STATUS_WAKE_EVERY_S:
                notify = None
            # One statement, atomic on its own: no BEGIN and COMMIT round trips.
            async with self._own.connection() as pg:
                accepted = await accept_on_postgresql(pg, deliveries, notify=notify)
            if notify is not None and statuses_only and any(result.new_ids for result in accepted):
                self._statuses_woken = time.monotonic()
            return accepted
        if self._sqlite is not None:
            async with self._sqlite.transaction() as db:
                return accept_on_sqlite(db, deliveries)
        async with self._engine.connect() as conn:  # an in-memory SQLite database: the pool's own
            await conn.execution_options(**URGENT)
            async with conn.begin():
                return await accept_deliveries(conn, deliveries)


def _settle(future: asyncio.Future[Accepted], outcome: Accepted | BaseException) -> None:
    if future.done():  # its request went away; what was stored stays stored
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


# Applied items marked, one statement for the items of each outcome (only those still unapplied:
# the sweep may have applied one meanwhile, harmlessly, as applying twice is).
_MARK_APPLIED = (
    sa.update(_INBOX)
    .where(_INBOX.c.id.in_(sa.bindparam("b_ids", expanding=True)), _INBOX.c.applied_at.is_(None))
    .values(
        applied_at=sa.bindparam("b_at", type_=_INBOX.c.applied_at.type),
        outcome=sa.bindparam("b_outcome"),
        error=sa.bindparam("b_error"),
    )
)


async def _mark_applied(session: AsyncSession, marks: Sequence[Mapping[str, Any]]) -> None:
    """Mark the applied items, one UPDATE for all those of an outcome (nearly always one or two for
    a whole batch, where a statement for each item was as many statements as items)."""
    by_outcome: dict[tuple[Any, Any, Any], list[int]] = {}
    for mark in marks:
        by_outcome.setdefault((mark["b_at"], mark["b_outcome"], mark["b_error"]), []).append(mark["b_id"])
    for (at, outcome, error), ids in by_outcome.items():
        params = {"b_ids": sorted(ids), "b_at": at, "b_outcome": outcome, "b_error": error}
        await session.execute(_MARK_APPLIED, params)


# These items, those still unapplied (built once: an expanding IN takes any number of ids).
_UNAPPLIED_OF = (
    sa.select(_INBOX.c.id, _INBOX.c.item)
    .where(_INBOX.c.applied_at.is_(None), _INBOX.c.id.in_(sa.bindparam("b_ids", expanding=True)))
    .order_by(_INBOX.c.id)
    .with_for_update(skip_locked=True)
)
# Unapplied items taken for a pass, each with whether an unapplied item comes after them: the last
# row's flag tells the caller whether to read again (on PostgreSQL, where a pass reads one item per
# transaction, a trickle of deliveries cost a read that found nothing after each).
_LATER = _INBOX.alias("later")


def _taken_with_later(name: str, *, where: Sequence[Any], after: Callable[[Any], Any]) -> Any:
    """Unapplied items matching `where`, oldest first, up to `b_limit`, locked (those another
    transaction holds passed over), each with `later`: whether an unapplied item `after(last)`
    exists, `last` the greatest id taken, worked out once for the statement, not per row."""
    taken = (
        sa.select(_INBOX.c.id, _INBOX.c.item)
        .where(_INBOX.c.applied_at.is_(None), *where)
        .order_by(_INBOX.c.id)
        .limit(sa.bindparam("b_limit"))
        .with_for_update(skip_locked=True)
        .cte(name)
    )
    last = sa.select(sa.func.max(taken.c.id)).scalar_subquery()
    later = sa.exists().where(_LATER.c.applied_at.is_(None), after(last))
    return sa.select(taken.c.id, taken.c.item, later.label("later")).order_by(taken.c.id)


class Take(StrEnum):
    """The unapplied items a pass reads (`apply_items`): the oldest of any kind, or one kind only. A
    worker woken by an acknowledge-only API process applies messages at once and statuses later, in
    batches of their own (`wakeup.InboxListener`): a batch costs about 3 ms of CPU whatever its size
    and each status in it about 0.1 ms more, so statuses applied as they came (four or five a pass)
    cost the worker a millisecond each."""

    ALL = "all"
    MESSAGES = "messages"
    STATUSES = "statuses"


def _oldest_of(kind: ItemKind) -> Any:
    """The oldest unapplied items of `kind`, each with whether an unapplied item of that kind comes
    after the last of them."""
    return _taken_with_later(
        f"taken_oldest_{kind}",
        where=[_INBOX.c.kind == str(kind)],
        after=lambda last: sa.and_(_LATER.c.kind == str(kind), _LATER.c.id > last),
    )


# The oldest unapplied items, of any kind or of one.
_OLDEST = {
    Take.ALL: _taken_with_later("taken_oldest", where=[], after=lambda last: _LATER.c.id > last),
    Take.MESSAGES: _oldest_of(ItemKind.MESSAGE),
    Take.STATUSES: _oldest_of(ItemKind.STATUS),
}


def _kind_after(kind: ItemKind) -> Any:
    """Unapplied items of `kind` after a given item (`apply_items(statuses=..., messages=...)`),
    each with whether an unapplied item other than those taken comes after the given item
    (PostgreSQL only)."""
    after: sa.BindParameter[int] = sa.bindparam("b_after")
    return _taken_with_later(
        f"taken_{kind}",
        where=[_INBOX.c.kind == str(kind), _INBOX.c.id > after],
        after=lambda last: sa.and_(
            _LATER.c.id > after, sa.or_(_LATER.c.kind != str(kind), _LATER.c.id > last)
        ),
    )


_AFTER = {ItemKind.STATUS: _kind_after(ItemKind.STATUS), ItemKind.MESSAGE: _kind_after(ItemKind.MESSAGE)}


async def apply_items(
    session: AsyncSession,
    *,
    at: datetime,
    ids: Sequence[int] | None = None,
    limit: int = 500,
    known: Mapping[int, dict[str, Any]] | None = None,
    isolate: bool = True,
    statuses: int = 0,
    messages: int = 0,
    take: Take = Take.ALL,
) -> Applied:
    """Apply inbox items not yet applied (`ids`, or the oldest `limit`). `known`: the items of
    `ids` as the acknowledgement stored them, so they are not read again. `isolate`: each item in
    its own savepoint, a bad one kept with its error; without it the first failure is raised and
    the caller rolls the whole batch back (and applies it again isolated). On PostgreSQL rows
    another process is applying are skipped (`SKIP LOCKED`). `statuses` (`messages`): when the
    oldest items are read and the last of them is a status (a message), up to this many unapplied
    statuses (messages) after it come too. A batch of one kind only is applied in a lock order
    every process shares, so two batches never wait on each other in a cycle: statuses by their
    message's id, messages by their sender (`kind_batches`). `take`: read the oldest items of one
    kind only (up to `statuses` or `messages` of them, else `limit`), in one statement."""
    rows: Sequence[tuple[int, dict[str, Any]]]
    more = True
    if known is not None and ids is not None:
        rows = [(i, known[i]) for i in ids]
    elif ids is not None:
        rows = [(int(i), item) for i, item in await session.execute(_UNAPPLIED_OF, {"b_ids": list(ids)})]
    else:
        if take == Take.STATUSES:
            limit = statuses or limit
        elif take == Take.MESSAGES:
            limit = messages or limit
        read = await session.execute(_OLDEST[take], {"b_limit": limit})
        found = [(int(i), item, bool(later)) for i, item, later in read]
        rows = [(i, item) for i, item, _ in found]
        more = found[-1][2] if found else False
        last_kind = rows[-1][1].get("kind") if rows else None
        extra = statuses if last_kind == ItemKind.STATUS else messages if last_kind == ItemKind.MESSAGE else 0
        if take == Take.ALL and extra and more and last_kind is not None:
            after = (
                await session.execute(_AFTER[last_kind], {"b_after": rows[-1][0], "b_limit": extra})
            ).all()
            rows = [*rows, *((int(i), item) for i, item, _ in after)]
            more = bool(after[-1][2]) if after else more
    if (statuses or messages) and len(rows) > 1:
        kinds = {item.get("kind") for _, item in rows}
        if kinds == {ItemKind.STATUS}:
            rows = sorted(rows, key=_status_lock_order)
        elif kinds == {ItemKind.MESSAGE}:
            rows = sorted(rows, key=_message_lock_order)
    applied = Applied(more=more)
    marks: list[dict[str, Any]] = []
    batched: list[tuple[dict[str, Any], StatusUpdate]] = []  # a batch's statuses, applied at its end
    run: list[tuple[dict[str, Any], InboundMessage]] = []  # its messages, stored together before them
    for row_id, raw in rows:
        item = RawItem.model_validate(raw)
        outcome, error = InboxOutcome.STORED, None
        applied.seen += 1
        if not isolate:
            parsed = parse_item(item)
            mark = {"b_id": row_id, "b_at": at, "b_outcome": None, "b_error": None}
            if isinstance(parsed, StatusUpdate):
                batched.append((mark, parsed))
            else:
                run.append((mark, parsed))
            marks.append(mark)
            continue
        else:
            try:
                async with session.begin_nested():
                    outcome = await _apply_one(session, item=item, at=at, applied=applied)
            except OperationalError as exc:
                # Transient (a deadlock, a lock timeout, a busy SQLite): not the item's fault. Left
                # unapplied; the background sweep applies it again.
                log.warning("inbox_item_deferred", inbox_id=row_id, error=str(exc.orig)[:300])
                applied.deferred += 1
                continue
            except Exception as exc:  # one bad item is kept and reported, never costs the others
                outcome, error = InboxOutcome.REJECTED, f"{type(exc).__name__}: {exc}"[:2000]
                log.warning("inbox_item_rejected", inbox_id=row_id, path=item.path, error=error)
                await _keep_rejected(session, item=item, error=error, at=at)
        applied.stored += outcome == InboxOutcome.STORED
        applied.duplicates += outcome == InboxOutcome.DUPLICATE
        applied.rejected += outcome == InboxOutcome.REJECTED
        marks.append({"b_id": row_id, "b_at": at, "b_outcome": str(outcome), "b_error": error})
    if run:
        results = await store_inbound_run(session, msgs=[msg for _, msg in run], at=at)
        for (mark, msg), result in zip(run, results, strict=True):
            outcome = await _after_store(session, msg=msg, result=result, at=at, applied=applied)
            mark["b_outcome"] = str(outcome)
            applied.stored += outcome == InboxOutcome.STORED
            applied.duplicates += outcome == InboxOutcome.DUPLICATE
    if batched:
        fresh = await apply_statuses(session, statuses=[status for _, status in batched], at=at)
        for (mark, _), new in zip(batched, fresh, strict=True):
            mark["b_outcome"] = str(InboxOutcome.STORED if new else InboxOutcome.DUPLICATE)
            applied.stored += new
            applied.duplicates += not new
    await session.flush()
    if marks:
        await _mark_applied(session, marks)
    return applied


def kind_batches(
    ids: Sequence[int], known: Mapping[int, dict[str, Any]], *, statuses: int, messages: int
) -> list[list[int]]:
    """`ids` in the transactions PostgreSQL applies them in: a run of statuses (up to `statuses`)
    together, a run of messages (up to `messages`) together, never the two kinds in one transaction
    (`apply_items(statuses=..., messages=...)` is the same for the oldest items). Apart, each kind
    takes its locks in one order (`_status_lock_order`, `_message_lock_order`); together, a batch
    would lock a conversation (its message) and then a message of it (its status), the reverse of
    the order in which a send's record and the release of the turn's lease lock them."""
    batches: list[list[int]] = []
    most = {ItemKind.STATUS: statuses, ItemKind.MESSAGE: messages}
    for item_id in ids:
        kind = known.get(item_id, {}).get("kind")
        last = batches[-1] if batches else None
        if kind in most and last and len(last) < most[kind] and known.get(last[-1], {}).get("kind") == kind:
            last.append(item_id)
        else:
            batches.append([item_id])
    return batches


def _status_lock_order(row: tuple[int, dict[str, Any]]) -> str:
    """Statuses are applied ordered by their message's id (each message's own in arrival order):
    every batch takes its messages' row locks in the same order, so two batches never wait on each
    other in a cycle."""
    raw = row[1].get("raw")
    return str(raw.get("id", "")) if isinstance(raw, dict) else ""


def _message_lock_order(row: tuple[int, dict[str, Any]]) -> str:
    """Messages are applied ordered by their sender (each sender's own in arrival order, the sort
    being stable): every batch takes its contacts' and conversations' row locks in the same order."""
    raw = row[1].get("raw")
    if not isinstance(raw, dict):
        return ""
    return str(raw.get("from") or raw.get("from_user_id") or "")


async def _apply_one(session: AsyncSession, *, item: RawItem, at: datetime, applied: Applied) -> InboxOutcome:
    parsed = parse_item(item)
    if isinstance(parsed, InboundMessage):
        return await _apply_message(session, msg=parsed, at=at, applied=applied)
    new = await apply_status(session, status=parsed, at=at)
    return InboxOutcome.STORED if new else InboxOutcome.DUPLICATE


async def _apply_message(
    session: AsyncSession, *, msg: InboundMessage, at: datetime, applied: Applied
) -> InboxOutcome:
    result = await store_one(session, msg=msg, at=at)
    return await _after_store(session, msg=msg, result=result, at=at, applied=applied)


async def _after_store(
    session: AsyncSession, *, msg: InboundMessage, result: StoredInbound, at: datetime, applied: Applied
) -> InboxOutcome:
    if not result.stored:
        return InboxOutcome.DUPLICATE
    if msg.kind == InboundKind.SYSTEM:
        await follow_number_change(session, msg=msg, conversation_id=result.conversation_id, at=at)
    if msg.media is not None:  # fetched after the commit (orchestrator.media)
        assert result.message is not None, "a message with media is stored on its own"
        await register_inbound(session, message=result.message, ref=msg.media, kind=str(msg.kind), at=at)
        applied.media += 1
    if result.owner == Owner.BOT:
        applied.to_run.add(result.conversation_id)
    return InboxOutcome.STORED


def _sender(item: RawItem) -> ContactRef | None:
    raw = item.raw if isinstance(item.raw, dict) else {}
    wa_id, user_id = raw.get("from"), raw.get("from_user_id")
    ref = ContactRef(
        wa_id=wa_id if isinstance(wa_id, str) and wa_id else None,
        user_id=user_id if isinstance(user_id, str) and user_id else None,
    )
    return ref if ref.wa_id or ref.user_id else None


async def _keep_rejected(session: AsyncSession, *, item: RawItem, error: str, at: datetime) -> None:
    """Show an unusable message to the reps in its sender's conversation, when there is a sender."""
    sender = _sender(item) if item.kind == ItemKind.MESSAGE else None
    if sender is None:
        return
    try:
        async with session.begin_nested():
            contact = await upsert_contact(session, ref=sender, at=at)
            conversation = await current_conversation(session, contact=contact, at=at)
            assert conversation.id is not None
            message = Message(
                conversation_id=conversation.id,
                direction=Direction.INBOUND,
                kind=REJECTED_KIND,
                text="[a message that could not be read; its raw content is kept]",
                payload={"message": _raw_of(item), "error": error, "path": item.path},
                sender_type="customer",
                status="for_rep",
                error={"source": "webhook", "details": error},
                created_at=at,
                updated_at=at,
            )
            session.add(message)
            await session.flush()
            await log_event(
                session,
                conversation_id=conversation.id,
                type=EventType.UNSUPPORTED_MESSAGE,
                source="whatsapp",
                description="a message arrived that could not be read; kept for the rep",
                at=at,
                details={"message_id": message.id, "error": error},
            )
    except Exception:
        log.exception("inbox_rejected_not_shown", path=item.path)


def _raw_of(item: RawItem) -> dict[str, Any]:
    return item.raw if isinstance(item.raw, dict) else {"value": item.raw}

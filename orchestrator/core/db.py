"""Storage plumbing: engines, sessions, timezone-aware timestamps, migrations on start.

One URL decides the backend: `sqlite:///path` (embedded default, WAL mode) or
`postgresql+psycopg://...`. The app uses async sessions; Alembic runs migrations with a sync engine.
The caller owns the transaction: service functions never commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import sys
import time
import unicodedata
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite
import sqlalchemy as sa
import structlog
from sqlalchemy import event, exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.util import await_
from sqlalchemy.util.concurrency import in_greenlet

from orchestrator.core import jsontext

log = structlog.get_logger(__name__)
T = TypeVar("T")


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores UTC; always returns timezone-aware datetimes (SQLite drops the zone otherwise)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def async_url(url: str) -> str:
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def sync_url(url: str) -> str:
    if url.startswith("sqlite+aiosqlite:///"):
        return "sqlite:///" + url.removeprefix("sqlite+aiosqlite:///")
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def sqlite_path(url: str) -> Path | None:
    for prefix in ("sqlite:///", "sqlite+aiosqlite:///"):
        if url.startswith(prefix):
            return Path(url.removeprefix(prefix))
    return None


def ensure_sqlite_dir(url: str) -> None:
    path = sqlite_path(url)
    if path is not None and str(path) not in ("", ":memory:"):
        path.parent.mkdir(parents=True, exist_ok=True)


# Execution options of a connection that only reads: on SQLite its transaction starts deferred (in
# WAL mode a reader never waits for the writer), every other transaction takes the write lock at BEGIN.
DEFERRED: dict[str, Any] = {"sqlite_deferred": True}
# A write a request is waiting on (the webhook's acknowledgement): first through the write gate.
URGENT: dict[str, Any] = {"sqlite_urgent": True}
# Longer than any transaction should ever hold the gate; past it a writer goes on without it (and
# SQLite's own busy timeout still serialises it), so a gate never released can only slow, not stop.
GATE_TIMEOUT_S = 30.0


class WriteGate:
    """One writing transaction at a time in this process, first come first served (acknowledgements
    before the rest). SQLite has one write lock; without the gate every writer waits for it in SQLite's
    busy handler, which polls with growing sleeps and is not fair: under load some waited past the
    busy timeout (`database is locked`) while the holder sat in the event loop's queue. Waiting here
    is an asyncio future, woken the moment the holder's transaction ends."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._urgent: deque[asyncio.Future[None]] = deque()

    async def acquire(self, *, urgent: bool = False) -> bool:
        """True once this caller holds the gate; False after `GATE_TIMEOUT_S` (it goes on without)."""
        if not self._held:  # nobody waits while the gate is free: `release` hands it over
            self._held = True
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._waiters).append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), GATE_TIMEOUT_S)
        except TimeoutError:
            if waiter.done():
                return True  # handed over at the last moment
            waiter.cancel()
            log.warning("sqlite_write_gate_timeout", seconds=GATE_TIMEOUT_S)
            return False
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over as we were cancelled: pass it on
            else:
                waiter.cancel()
            raise
        return True

    def release(self) -> None:
        for queue in (self._urgent, self._waiters):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the gate passes to it, still held
                    return
        self._held = False


def _gated_begin(gate: WriteGate) -> Callable[[sa.Connection], None]:
    def begin(conn: sa.Connection) -> None:
        options = conn.get_execution_options()
        if options.get("sqlite_deferred"):
            conn.exec_driver_sql("BEGIN")
            return
        if not conn.info.get("holds_gate") and in_greenlet():
            conn.info["holds_gate"] = await_(gate.acquire(urgent=bool(options.get("sqlite_urgent"))))
        _begin_immediate(conn)

    return begin


# How long SQLite itself waits for a lock another process holds. Statements run on the event loop's
# thread (`InlineSQLite`), so this wait stops every request of the process: it is kept short, and
# `BEGIN IMMEDIATE` (the only statement of ours that waits for another process in WAL mode) is
# retried with asyncio sleeps instead, for up to `BUSY_TIMEOUT_S`.
INLINE_BUSY_MS = 50
BUSY_TIMEOUT_S = 10.0


def _busy_waits() -> Iterator[float]:
    """The sleeps between attempts at `BEGIN IMMEDIATE` while another process holds the write lock:
    growing from 5 ms to 100 ms, for up to `BUSY_TIMEOUT_S` (each attempt also waits
    `INLINE_BUSY_MS` in SQLite itself)."""
    waited, delay = 0.0, 0.005
    while waited < BUSY_TIMEOUT_S:
        yield delay
        waited += delay + INLINE_BUSY_MS / 1000
        delay = min(delay * 2, 0.1)


def _begin_immediate(conn: sa.Connection) -> None:
    waits = _busy_waits()
    while True:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except sa.exc.OperationalError as error:
            delay = next(waits, None)
            if "locked" not in str(error.orig) or delay is None or not in_greenlet():
                raise
        await_(asyncio.sleep(delay))


def _gate_release(gate: WriteGate) -> Callable[[Any, Any], None]:
    def checkin(_dbapi_connection: Any, record: Any) -> None:
        # Back in the pool, its transaction committed or rolled back: the next writer may begin.
        if record is not None and record.info.pop("holds_gate", False):
            gate.release()

    return checkin


# Each SQLite engine's write gate, for writers that run without the engine (`sqlite_write`).
_WRITE_GATES: weakref.WeakKeyDictionary[sa.Engine, WriteGate] = weakref.WeakKeyDictionary()


def write_gate(engine: AsyncEngine) -> WriteGate | None:
    """The write gate of a SQLite engine made by `make_engine` (None on PostgreSQL)."""
    return _WRITE_GATES.get(engine.sync_engine)


def sqlite_connection(path: Path) -> sqlite3.Connection:
    """A plain connection to a SQLite file, set up as the engine's are (WAL, a short busy timeout),
    with no transaction of its own until one is begun (`sqlite_write`)."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    _sqlite_pragmas(conn, None)
    return conn


@asynccontextmanager
async def sqlite_write(
    conn: sqlite3.Connection, gate: WriteGate | None, *, urgent: bool = False
) -> AsyncIterator[sqlite3.Connection]:
    """A write transaction on a plain SQLite connection, taken as the engine's writers take theirs:
    through the process's write gate (`urgent`: ahead of the others), `BEGIN IMMEDIATE` retried
    with asyncio sleeps while another process holds the lock; committed when the block ends, rolled
    back when it raises. For a write whose statements SQLAlchemy would cost several times their own
    CPU: the block runs them on the event loop's thread, without awaiting, as `InlineSQLite` does."""
    held = await gate.acquire(urgent=urgent) if gate is not None else False
    try:
        waits = _busy_waits()
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as error:
                delay = next(waits, None)
                if "locked" not in str(error) or delay is None:
                    raise
            await asyncio.sleep(delay)
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        if held and gate is not None:
            gate.release()


# Search folds letters with diacritics to their base letter and case to lower case, the same way on
# both databases ("Lucia" finds "Lucía", "JOSE" finds "José"): PostgreSQL's `translate(lower(...))`
# and, on SQLite, a function registered on each connection that does the same in Python.
_FOLD_LOWER = "áàâäãåāăąçćčďéèêëēėęěğíìîïīįłñńňóòôöõøōőŕřśšşťúùûüūůűųýÿžźż"
_FOLD_FROM = _FOLD_LOWER + _FOLD_LOWER.upper()
# Each letter's base letter (what Unicode decomposes it to; ł and ø do not decompose), lower case.
_FOLD_TO = "".join(
    {"ł": "l", "ø": "o"}.get(c.lower(), unicodedata.normalize("NFD", c)[0].lower()) for c in _FOLD_FROM
)
_FOLDING = str.maketrans(_FOLD_FROM, _FOLD_TO)


def fold_text(text: str | None) -> str | None:
    """`text` as search compares it: lower case, diacritics off ("José Müller" -> "jose muller")."""
    return None if text is None else text.lower().translate(_FOLDING)


class folded(sa.sql.functions.FunctionElement[str]):
    """`fold_text` of a column or expression, in SQL (see `_FOLD_FROM`)."""

    type = sa.String()
    inherit_cache = True
    name = "folded"


@compiles(folded, "postgresql")
def _folded_postgresql(element: folded, compiler: Any, **kw: Any) -> str:
    return f"translate(lower({compiler.process(element.clauses, **kw)}), '{_FOLD_FROM}', '{_FOLD_TO}')"


@compiles(folded, "sqlite")
def _folded_sqlite(element: folded, compiler: Any, **kw: Any) -> str:
    return f"handoff_fold({compiler.process(element.clauses, **kw)})"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.create_function("handoff_fold", 1, fold_text, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={INLINE_BUSY_MS}")
    cursor.close()


class InlineSQLite(aiosqlite.Connection):
    """aiosqlite's connection without its thread: each call runs at once, on the event loop's thread.

    A statement of this service takes microseconds to a millisecond; handing each to a thread and
    waking the loop for its result cost more CPU than the statement (about a third of a bot turn).
    Nothing here waits for a lock for long: writers of this process queue on the `WriteGate` (an
    asyncio future) before `BEGIN IMMEDIATE`, readers never wait in WAL mode, and the busy timeout
    that covers another process holding the write lock is kept short (`INLINE_BUSY_MS`), with
    `BEGIN IMMEDIATE` retried without blocking the loop (`_gated_begin`)."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The connection itself, for statements run without SQLAlchemy (the webhook's inbox)."""
        if self._connection is None:
            raise ValueError("Connection closed")
        return self._connection

    async def _connect(self) -> InlineSQLite:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineSQLite]:
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    ensure_sqlite_dir(url)
    # JSON columns written and read by orjson (`jsontext`), on either database.
    kwargs: dict[str, Any] = {
        "echo": echo,
        "json_serializer": jsontext.dumps,
        "json_deserializer": jsontext.loads,
    }
    if url.startswith("postgresql"):
        kwargs.update(pool_size=10, max_overflow=10)
    path = sqlite_path(url)
    if path is not None:

        async def inline() -> InlineSQLite:
            def connect() -> sqlite3.Connection:
                return sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)

            return await InlineSQLite(connect, iter_chunk_size=64)

        kwargs["async_creator"] = inline
    engine = create_async_engine(async_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        # SQLite: one writing transaction at a time in the process (`WriteGate`, in arrival order),
        # which takes the write lock at BEGIN, so writers never fail on lock upgrade; processes
        # sharing the file still queue on SQLite's busy timeout.
        gate = _WRITE_GATES[engine.sync_engine] = WriteGate()
        event.listen(engine.sync_engine, "begin", _gated_begin(gate))
        event.listen(engine.sync_engine.pool, "checkin", _gate_release(gate))
    else:
        _ping_when_idle(engine)
    return engine


# A pooled PostgreSQL connection is pinged before use only when it sat idle this long. A restart or a
# failover leaves idle connections dead; one in steady use is checked by its use, and a ping at every
# checkout was a round trip more for each of a turn's transactions.
PING_AFTER_IDLE_S = 1.0
_IDLE_SINCE = "handoff_idle_since"


def _ping_when_idle(engine: AsyncEngine) -> None:
    """SQLAlchemy's `pool_pre_ping`, for connections idle for `PING_AFTER_IDLE_S` or more: a failed
    ping discards the connection and the pool connects a new one for the caller."""
    dialect = engine.sync_engine.dialect

    def checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # just connected, or in use a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error

    event.listen(engine.sync_engine.pool, "checkin", checkin)
    event.listen(engine.sync_engine.pool, "checkout", checkout)


DATABASE_RETRY_AFTER_S = 5  # the Retry-After of a 503 answered while the database is unavailable
# What the database says when it cannot be reached or used right now (refused, lost or timed out
# connections, the pool exhausted, SQLite's lock not had in time), wrapped by SQLAlchemy or not.
UNAVAILABLE: tuple[type[Exception], ...] = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.TimeoutError,
    sqlite3.OperationalError,
)


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database is unavailable (nothing stored, worth retrying shortly)
    rather than that the request or the code is wrong. psycopg's own errors (the webhook's insert
    and the checkpointer use the driver directly) count when psycopg is loaded: a SQLite process
    never imports it."""
    if isinstance(error, UNAVAILABLE):
        return True
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError))


def rows_affected(result: Any) -> int:
    """How many rows an UPDATE or DELETE changed (0 where the driver cannot say)."""
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose work commits on success and rolls back on error."""
    async with factory() as session, session.begin():
        yield session


def insert_for(session: AsyncSession) -> Any:
    """The INSERT construct of the session's dialect (both have `on_conflict_do_nothing` and
    `on_conflict_do_update`)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def per_dialect(build: Callable[[Any], T]) -> dict[str, T]:
    """`build(insert)` with each backend's INSERT construct (both have `on_conflict_do_nothing`),
    keyed by dialect name: a statement built once at import, picked per connection."""
    return {"postgresql": build(pg_insert), "sqlite": build(sqlite_insert)}


def loaded(session: AsyncSession, entity: type[T], values: Mapping[str, Any], *, obj: T | None = None) -> T:
    """A row written with a Core statement (`values`: all of `entity`'s columns, as its RETURNING
    gave them, or as `obj` holds them) as an object of `session`, as if an ORM query had loaded it:
    no flush, no SELECT. An object of the same identity already in the session (its row rolled back
    with a savepoint, the id given again) is refreshed in place, as a query would."""
    existing = session.identity_map.get(sa.inspect(entity).identity_key_from_primary_key((values["id"],)))
    if existing is not None:
        for key, value in values.items():
            set_committed_value(existing, key, value)
        return cast(T, existing)
    if obj is None:
        # As a query loads a row: the instance made without `__init__` (whose validation and
        # defaults a stored row does not need) and its columns' values set as loaded.
        obj = cast(T, sa.inspect(entity).class_manager.new_instance())
        obj.__dict__.update(values)
    else:
        setattr(obj, "id", values["id"])  # noqa: B010 (any entity with an `id` key)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def fit(value: str, limit: int) -> str:
    """`value` if it fits a column of `limit` characters, else a prefix and a hash of the whole: still
    unique per value, and readable. The full value is kept elsewhere (the raw payload)."""
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    if limit <= 17:
        return digest[:limit]
    return f"{value[: limit - 17]}#{digest}"

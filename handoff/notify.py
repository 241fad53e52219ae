"""Live notifications for the rep workspace, built on the append-only context log.

Everything a rep is notified of (assigned, message_received, transferred, reassigned, sla_warning,
assignment_revoked, escalated, send_failed, resolved...) is a `ContextEvent` row; this module only
carries committed rows to the people allowed to see them:

    commit in this process ── after_commit hook ──────────────┐
    commit in any process ─── trigger: pg_notify (PostgreSQL) ─┴─► hub (dedupe by event id)
                                                                    │ loads the rows with the
                                                                    │ conversation's current state
                                             ┌──────────────────────┴──────────────────┐
                              each subscriber whose visibility      the signed outbound webhook
                              admits the event (the SSE stream)     (events committed here only,
                                                                     so each is POSTed once)

- A subscriber receives the events of conversations it may see (`policy.can`, the same rules as the
  API's queries), plus the events addressed to it (a rep whose conversation was transferred or
  taken away is told, although they no longer see it).
- Nothing is published for a rolled-back transaction: rows are collected at flush and published
  after the root transaction commits, skipping rows a rolled-back savepoint discarded.
- A slow subscriber is not allowed to hold memory: past `max_queue` pending events it is cut off and
  reconnects with `Last-Event-ID`, which replays what it missed from the log (`load_events`): what
  it may see, and what is addressed to it. A page's first connection starts after the newest event
  when the page was rendered (`?after=`), so nothing between the render and the connection is lost.
- Bot-internal entries (signals, collected fields, bot replies, routing) stay out of the stream; the
  rep reads them on the conversation.
- Ids come from a sequence at insert time, so on PostgreSQL a lower id may commit after a higher one:
  delivery is deduplicated by id, never filtered by "newer than the last". (A stream resumed with
  `Last-Event-ID` can still miss such a late lower id committed while it was disconnected.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import structlog
from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, event, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction
from sqlmodel import col

from handoff.policy import Viewer, can, visibility_clause
from orchestrator.core.aio import being_cancelled, cancel_and_wait
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.db import async_url
from orchestrator.core.enums import Action, EventType
from orchestrator.core.listen import listen_forever
from orchestrator.core.tables import Contact, Conversation

log = structlog.get_logger(__name__)

CHANNEL = "handoff_events"  # the trigger of migration 0003 notifies on this channel
HUB_KEY = "handoff.notify.hub"
_PENDING_KEY = "handoff.notify.pending"
QUIET_TYPES = frozenset(
    {
        EventType.SIGNAL,
        EventType.FIELD_COLLECTED,
        EventType.BOT_REPLY,
        EventType.ROUTED,
        EventType.LLM_FAILURE,
    }
)
# Keys of an event's details that name a rep the event is about (the new or the former owner).
ADDRESS_KEYS = ("rep_id", "from_rep_id", "to_rep_id", "previous_rep_id", "revoked_rep_id")
SIGNATURE_HEADER = "X-Handoff-Signature-256"
CATCH_UP_MARGIN = 1000


def streamed(event_type: str) -> bool:
    return event_type not in QUIET_TYPES


class StreamEvent(BaseModel):
    """One notification: the context-log row and the conversation's state after the commit."""

    id: int
    conversation_id: int
    type: str
    source: str
    description: str
    details: dict[str, Any] | None
    created_at: datetime
    owner: str
    queue: str | None
    assignee_id: str | None
    # Who the conversation is with, as the workspace names them: their WhatsApp profile name, else
    # their number; None once erased. Alerts say it, so a rep knows whom before opening anything.
    customer: str | None = None

    def addressed_to(self) -> set[str]:
        details = self.details or {}
        return {str(details[key]) for key in ADDRESS_KEYS if isinstance(details.get(key), str)}

    def sse(self) -> str:
        return f"id: {self.id}\nevent: {self.type}\ndata: {self.model_dump_json()}\n\n"


def admits(viewer: Viewer, item: StreamEvent) -> bool:
    return can(viewer, Action.VIEW, item) or viewer.id in item.addressed_to()


# Events that can take a conversation out of a queue's waiting list (a rep took it, a lead gave it
# to someone, it moved to another queue). A member of that queue who may not see it from then on
# (a rep sees only their own) would keep it in their list, and take it in vain.
LEAVES_QUEUE = frozenset({EventType.ASSIGNED, EventType.REASSIGNED, EventType.TRANSFERRED})


def shown_to(viewer: Viewer, item: StreamEvent) -> StreamEvent | None:
    """What `viewer`'s stream gets of `item`: all of it when they may see it or it is addressed to
    them; when it takes a conversation from one of their queues, only that it happened (its id,
    type, conversation and time: no details, description, owner or queue), enough for their lists
    to drop the conversation; otherwise nothing."""
    if admits(viewer, item):
        return item
    details = item.details or {}
    queues = {q for q in (item.queue, details.get("from_queue")) if isinstance(q, str)}
    if item.type in LEAVES_QUEUE and queues & viewer.queues:
        return item.model_copy(
            update={
                "source": "",
                "description": "",
                "details": None,
                "owner": "",
                "queue": None,
                "assignee_id": None,
                "customer": None,
            }
        )
    return None


def _addressed_to(rep_id: str) -> list[ColumnElement[bool]]:
    details = col(ContextEvent.details)
    return [details[key].as_string() == rep_id for key in ADDRESS_KEYS]


async def load_events(
    sessions: async_sessionmaker[AsyncSession],
    *,
    ids: Sequence[int] | None = None,
    after: int | None = None,
    viewer: Viewer | None = None,
    limit: int = 500,
) -> list[StreamEvent]:
    """Streamed events by id, or those after `after` that `viewer` may see (a resumed stream)."""
    query = (
        select(
            ContextEvent,
            col(Conversation.owner),
            col(Conversation.queue),
            col(Conversation.assignee_id),
            col(Contact.name),
            col(Contact.wa_id),
        )
        .join(Conversation, col(Conversation.id) == col(ContextEvent.conversation_id))
        .outerjoin(Contact, col(Contact.id) == col(Conversation.contact_id))
        .where(col(ContextEvent.type).not_in(sorted(QUIET_TYPES)))
        .order_by(col(ContextEvent.id))
        .limit(limit)
    )
    if ids is not None:
        query = query.where(col(ContextEvent.id).in_(list(ids)))
    if after is not None:
        query = query.where(col(ContextEvent.id) > after)
    if viewer is not None:
        clause = visibility_clause(viewer)
        if clause is not None:
            # What the viewer may see, and what is addressed to them (`admits`): a rep whose
            # conversation was taken away while their stream was down is still told; and what left
            # one of their queues, sent stripped (`shown_to`).
            left: list[ColumnElement[bool]] = []
            if viewer.queues:
                queues = sorted(viewer.queues)
                left.append(
                    and_(
                        col(ContextEvent.type).in_(sorted(LEAVES_QUEUE)),
                        or_(
                            col(Conversation.queue).in_(queues),
                            col(ContextEvent.details)["from_queue"].as_string().in_(queues),
                        ),
                    )
                )
            query = query.where(or_(clause, *_addressed_to(viewer.id), *left))
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    return [
        StreamEvent(
            id=row[0].id,
            conversation_id=row[0].conversation_id,
            type=str(row[0].type),
            source=row[0].source,
            description=row[0].description,
            details=row[0].details,
            created_at=row[0].created_at,
            owner=str(row[1]),
            queue=row[2],
            assignee_id=row[3],
            customer=row[4] or (f"+{row[5]}" if row[5] else None),
        )
        for row in rows
    ]


@dataclass(eq=False)
class Subscription:
    viewer: Viewer
    types: frozenset[str] | None = None
    max_queue: int = 1000
    queue: asyncio.Queue[StreamEvent] = field(init=False)
    lagged: bool = False
    revoked: bool = False  # the viewer may no longer sign in: the stream ends
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.max_queue)

    def shown(self, item: StreamEvent) -> StreamEvent | None:
        """What of `item` this stream sends (`shown_to`), or None."""
        return shown_to(self.viewer, item) if self.types is None or item.type in self.types else None


class WebhookSender:
    """POSTs each event as JSON to the integration's URL, signed like Meta signs its webhooks:
    `X-Handoff-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`. Retried with backoff on
    transport errors, 5xx and 429; given up (and logged) after `attempts`. At most once per process
    restart: an event committed just before a crash may not be delivered."""

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        transport: httpx.AsyncBaseTransport | None = None,
        attempts: int = 4,
        backoff_s: float = 0.5,
    ) -> None:
        self.url = url
        self._secret = secret.encode()
        self._transport = transport
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._queue: asyncio.Queue[StreamEvent] = asyncio.Queue()
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.failed = 0

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    def enqueue(self, item: StreamEvent) -> None:
        self._queue.put_nowait(item)

    async def start(self) -> None:
        self._client = httpx.AsyncClient(transport=self._transport, timeout=5.0)
        self._task = asyncio.create_task(self._run(), name="notify-webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def settled(self) -> None:
        """Wait until every enqueued event was delivered or given up."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._deliver(item)
            finally:
                self._queue.task_done()

    async def _deliver(self, item: StreamEvent) -> None:
        assert self._client is not None
        body = item.model_dump_json().encode()
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: self.sign(body),
            "X-Handoff-Event-Id": str(item.id),
            "X-Handoff-Event-Type": item.type,
        }
        problem = ""
        for attempt in range(self.attempts):
            try:
                response = await self._client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    self.delivered += 1
                    return
                problem = f"HTTP {response.status_code}"
                if response.is_client_error and response.status_code != 429:
                    break  # the receiver refuses this delivery; retrying will not change that
            if attempt + 1 < self.attempts:
                await asyncio.sleep(self.backoff_s * 2**attempt)
        self.failed += 1
        log.warning("notify_webhook_failed", event_id=item.id, url=self.url, problem=problem)


class NotificationHub:
    """Fans committed context-log events out to live subscribers (one per open SSE stream)."""

    def __init__(
        self,
        *,
        database_url: str,
        webhook: WebhookSender | None = None,
        max_queue: int = 1000,
        remember: int = 10_000,
    ) -> None:
        self._database_url = database_url
        is_postgres = database_url.startswith("postgresql")
        self._listen_url = database_url.replace("+psycopg", "") if is_postgres else None
        self._reader_engine: AsyncEngine | None = None
        self.webhook = webhook
        self.max_queue = max_queue
        self._remember = remember
        self._reader: async_sessionmaker[AsyncSession] | None = None  # its own connections, at start
        self._subscribers: set[Subscription] = set()
        self._intake: asyncio.Queue[tuple[list[tuple[int, str]], bool]] = asyncio.Queue()
        self._recent: OrderedDict[int, StreamEvent] = OrderedDict()  # loaded, for the webhook
        self._seen: OrderedDict[int, None] = OrderedDict()  # every id handled: each goes out once
        self._max_seen = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self.listening = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self, *, listen_timeout_s: float = 10.0) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        # The hub reads through connections of its own, so a notification never waits for the
        # service's pool (busy with turns) nor, on SQLite, behind writers: the service's SQLite
        # transactions take the write lock at BEGIN (db.py), reads included, whereas these read
        # in autocommit, from a WAL snapshot.
        if self._database_url.startswith("sqlite"):
            self._reader_engine = create_async_engine(async_url(self._database_url))
            event.listen(self._reader_engine.sync_engine, "connect", _read_only_pragmas)
        else:
            self._reader_engine = create_async_engine(
                async_url(self._database_url), pool_size=2, max_overflow=2, pool_pre_ping=True
            )
        self._reader = async_sessionmaker(self._reader_engine, class_=AsyncSession, expire_on_commit=False)
        self._tasks.append(asyncio.create_task(self._pump(), name="notify-pump"))
        if self.webhook is not None:
            await self.webhook.start()
        if self._listen_url is not None:
            self._tasks.append(asyncio.create_task(self._listen(), name="notify-listen"))
            # Serve only once LISTEN is active: an event committed elsewhere right after start is seen.
            await asyncio.wait_for(self.listening.wait(), timeout=listen_timeout_s)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        if self.webhook is not None:
            await self.webhook.stop()
        if self._reader_engine is not None:
            await self._reader_engine.dispose()

    # -- subscribers --------------------------------------------------------------------------
    def subscribe(self, viewer: Viewer, *, types: frozenset[str] | None = None) -> Subscription:
        subscription = Subscription(viewer=viewer, types=types, max_queue=self.max_queue)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)
        subscription.closed.set()

    def revoke(self, rep_id: str) -> int:
        """End `rep_id`'s open streams in this process at once (disabled, credentials revoked).
        Returns how many; streams in other processes end at their next credential check."""
        for subscription in self._subscribers:
            if subscription.viewer.id == rep_id:
                subscription.revoked = True
        return self.end_streams_of(rep_id)

    def end_streams_of(self, rep_id: str) -> int:
        """End `rep_id`'s open streams in this process, without revoking them (their role or
        queues changed): the clients reconnect, and are served what they may see now."""
        ended = [s for s in self._subscribers if s.viewer.id == rep_id]
        for subscription in ended:
            subscription.closed.set()
        return len(ended)

    def end_streams(self) -> int:
        """End every open stream of this process now (it is stopping): an event stream never ends on
        its own, and the server waits for every open response before it stops. The clients
        reconnect, to a process that runs, and resume with Last-Event-ID. Returns how many."""
        ended = list(self._subscribers)
        for subscription in ended:
            subscription.closed.set()
        return len(ended)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subscribers)

    async def missed(self, viewer: Viewer, *, after: int) -> list[StreamEvent]:
        """What `viewer` may see in the log after event `after` (a stream resumed with Last-Event-ID)."""
        assert self._reader is not None, "the hub is not started"
        return await load_events(self._reader, after=after, viewer=viewer)

    # -- intake -------------------------------------------------------------------------------
    def committed(self, refs: list[tuple[int, str]], *, local: bool = True) -> None:
        """Called after a commit with the (id, type) of the context events it wrote."""
        if not refs or self._loop is None:
            return
        if threading.get_ident() == self._thread:
            self._intake.put_nowait((refs, local))
        else:
            self._loop.call_soon_threadsafe(self._intake.put_nowait, (refs, local))

    async def settled(self) -> None:
        """Wait until every event committed so far in this process has been published."""
        await self._intake.join()

    async def _pump(self) -> None:
        while True:
            batch = [await self._intake.get()]
            while not self._intake.empty():
                batch.append(self._intake.get_nowait())
            try:
                await self._publish(batch)
            except Exception:
                if being_cancelled():  # an error as the publish unwound from a cancellation
                    raise asyncio.CancelledError from None
                log.exception("notify_publish_failed")
            finally:
                for _ in batch:
                    self._intake.task_done()

    async def _publish(self, batch: list[tuple[list[tuple[int, str]], bool]]) -> None:
        fresh: set[int] = set()  # not handled before: for the subscribers
        local: set[int] = set()  # committed in this process: for the webhook (once per event)
        for refs, is_local in batch:
            for event_id, event_type in refs:
                self._max_seen = max(self._max_seen, event_id)
                if not streamed(event_type):
                    continue
                if event_id not in self._seen:
                    fresh.add(event_id)
                    _remember(self._seen, event_id, None, self._remember)
                if is_local and self.webhook is not None:
                    local.add(event_id)
        # Nobody listening: nothing to load (a stream resumed later reads the log itself).
        needed = (fresh if self._subscribers else set()) | {i for i in local if i not in self._recent}
        if not needed:
            return
        assert self._reader is not None
        for item in await load_events(self._reader, ids=sorted(needed), limit=len(needed)):
            _remember(self._recent, item.id, item, self._remember)
            if item.id in fresh:
                self._fan_out(item)
        if self.webhook is not None:
            for event_id in sorted(local):
                if event_id in self._recent:
                    self.webhook.enqueue(self._recent[event_id])

    def _fan_out(self, item: StreamEvent) -> None:
        for subscription in list(self._subscribers):
            shown = None if subscription.lagged else subscription.shown(item)
            if shown is None:
                continue
            try:
                subscription.queue.put_nowait(shown)
            except asyncio.QueueFull:
                subscription.lagged = True
                log.warning("notify_subscriber_lagged", rep_id=subscription.viewer.id)

    # -- PostgreSQL LISTEN ----------------------------------------------------------------------
    async def _listen(self) -> None:
        def received(payload: str) -> None:
            ref = _parse_notification(payload)
            if ref is not None:
                self._intake.put_nowait(([ref], False))

        async def connected(again: bool) -> None:
            if again:
                await self._catch_up()

        assert self._listen_url is not None
        await listen_forever(
            self._listen_url, CHANNEL, on_notify=received, on_connect=connected, listening=self.listening
        )

    async def _catch_up(self) -> None:
        """After a lost LISTEN connection: the events written meanwhile by other processes. Ids are
        not in commit order, so it looks back a margin below the highest id seen (those already
        handled are skipped)."""
        assert self._reader is not None
        async with self._reader() as session:
            rows = (
                await session.execute(
                    select(col(ContextEvent.id), col(ContextEvent.type))
                    .where(col(ContextEvent.id) > self._max_seen - CATCH_UP_MARGIN)
                    .order_by(col(ContextEvent.id))
                    .limit(5000)
                )
            ).all()
        if rows:
            self._intake.put_nowait(([(r[0], str(r[1])) for r in rows if r[0] is not None], False))


def _remember(cache: OrderedDict[int, Any], key: int, value: Any, bound: int) -> None:
    cache[key] = value
    while len(cache) > bound:
        cache.popitem(last=False)


def _read_only_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _parse_notification(payload: str) -> tuple[int, str] | None:
    try:
        data = json.loads(payload)
        return int(data["id"]), str(data["type"])
    except (ValueError, KeyError, TypeError):
        log.warning("notify_bad_payload", payload=payload[:200])
        return None


# -- the after-commit hook ------------------------------------------------------------------------
def install(sessions: async_sessionmaker[AsyncSession], hub: NotificationHub) -> None:
    """Publish the context events committed by sessions of `sessions` to `hub`."""
    info = dict(sessions.kw.get("info") or {})
    info[HUB_KEY] = hub
    sessions.configure(info=info)
    _listen_to_sessions()


_hooked = False


def _listen_to_sessions() -> None:
    global _hooked
    if _hooked:
        return
    event.listen(Session, "after_flush", _collect)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_transaction_end", _forget)
    _hooked = True


def _collect(session: Session, _flush: UOWTransaction) -> None:
    if HUB_KEY not in session.info:
        return
    written = [obj for obj in session.new if isinstance(obj, ContextEvent)]
    if written:
        session.info.setdefault(_PENDING_KEY, []).extend(written)


def _after_commit(session: Session) -> None:
    pending: list[ContextEvent] | None = session.info.pop(_PENDING_KEY, None)
    hub: NotificationHub | None = session.info.get(HUB_KEY)
    if not pending or hub is None:
        return
    # Rows a rolled-back savepoint discarded were expunged from the session: not published.
    refs = [(obj.id, str(obj.type)) for obj in pending if obj.id is not None and obj in session]
    hub.committed(refs)


def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)

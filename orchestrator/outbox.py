"""Outbound messages: written as `pending` rows inside the caller's transaction, sent after commit.

Sending after commit means a rollback never leaves a sent message without a record, and a crash
never loses a reply: each message is claimed before it is sent (`pending -> sending`, one
conditional UPDATE, with a claim that lapses after `SEND_CLAIM`), and `relay` (the background
loop) sends what is still pending, or claimed by a sender that died, in order per conversation.
Delivery is at least once and never twice at the same time. Every send carries its row in
`biz_opaque_callback_data`, which Meta echoes in the message's status webhooks: a row claimed again
after its sender died (or while it waits for a retry) is first looked up among the statuses, and if
Meta has reported on that send, Graph accepted it, so it is recorded (with its id and the furthest
status) instead of being sent again. Only a send whose status has not arrived by the time the claim
lapses (`SEND_CLAIM`) is sent twice. A send that fails past the Graph client's retries with an
error worth retrying (Graph down, 5xx, rate limits) is tried again later: the row keeps its claim
until its next attempt (2, 4, 8... up to 30 s away), made when it is due by the sender's timer
(`RetryTimers`; the relay if that process stopped), for `RETRY_WINDOW` after the reply was queued;
the rows after it wait, in order. Past that window, or on an error no retry
can fix, or for a row that cannot be sent at all (a duplicate returned id, a broken payload), it is
marked `failed` with the error and logged on the conversation for the rep; the rows after it go out.
A caller that knows nothing earlier is unsent (a turn's commit) writes its rows already claimed and
sends them with `send_claimed`, without a claim transaction.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, cast

import sqlalchemy as sa
import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential

from orchestrator.channels.whatsapp.client import (
    GraphAPIError,
    GraphClient,
    GraphError,
    describe_failure,
)
from orchestrator.channels.whatsapp.outbound import render_as_text, reply_buttons, text_message
from orchestrator.core.clock import Clock
from orchestrator.core.contextlog import log_event
from orchestrator.core.db import UTCDateTime, loaded
from orchestrator.core.enums import STATUS_RANK, Direction, EventType, SendStatus
from orchestrator.core.state import Outgoing
from orchestrator.core.tables import Contact, InboxItem, Message, MessageStatusEvent
from orchestrator.core.window import close_window, refused_for_the_window
from orchestrator.media import resolve_outbound

log = structlog.get_logger(__name__)
# Longer than the Graph client's worst case (4 attempts of 10 s plus 1 + 4 + 16 s of back-off), so a
# live claim is never taken over; a dead sender's messages go out once it lapses.
SEND_CLAIM = timedelta(seconds=90)
# How long after it was queued a reply is still retried when Graph is down or limiting us.
RETRY_WINDOW = timedelta(seconds=120)
MAX_RETRY_DELAY_S = 30.0
# Recording a send Graph accepted is retried this long through database trouble (a busy pool, a
# dropped connection): the customer has the message, so the row must not be left to say otherwise.
RECORD_RETRY_S = 60.0
# `session.info` key: a row was queued `pending` in this transaction (see `queue_outgoing`).
QUEUED_UNCLAIMED = "outbox_queued_unclaimed"
T = TypeVar("T")


TOKEN_REFUSED = 190  # Graph: the access token expired or was revoked (HTTP 401)


def refuses_our_token(error: dict[str, Any] | None) -> bool:
    """A send failed because Graph refuses this service's access token: no reply goes out, from
    any conversation, until an admin replaces it."""
    return error is not None and (error.get("code") == TOKEN_REFUSED or error.get("http_status") == 401)


async def token_refused_since(session: AsyncSession, *, now: datetime) -> tuple[datetime, str] | None:
    """When sends began failing for the access token (and Meta's words), if none has gone out
    since: the newest such failure of the last day, unless a later send was accepted."""
    failed = await session.execute(
        select(col(Message.updated_at), col(Message.error))
        .where(
            col(Message.direction) == Direction.OUTBOUND,
            col(Message.status) == SendStatus.FAILED,
            col(Message.created_at) >= now - timedelta(days=1),
        )
        .order_by(col(Message.created_at).desc())
        .limit(50)
    )
    refused = [(at, error) for at, error in failed if refuses_our_token(error)]
    if not refused:
        return None
    at, error = refused[0]
    accepted_later = await session.execute(
        select(col(Message.id))
        .where(
            col(Message.direction) == Direction.OUTBOUND,
            col(Message.created_at) >= now - timedelta(days=1),
            col(Message.sent_at) > at,
        )
        .limit(1)
    )
    if accepted_later.first() is not None:
        return None
    first = min(t for t, _ in refused)
    return first, describe_failure(error)


def recipient_of(contact: Contact) -> str:
    if contact.wa_id:
        return contact.wa_id
    if contact.user_id:
        return contact.user_id
    raise ValueError(f"contact {contact.id} has no address")


def build_payload(contact: Contact, item: Outgoing) -> dict[str, Any]:
    to = recipient_of(contact)
    if item["kind"] == "buttons":
        buttons = [(b["id"], b["title"]) for b in item.get("buttons", [])]
        return reply_buttons(to, item["text"], buttons)
    return text_message(to, item["text"])


async def queue_outgoing(
    session: AsyncSession,
    *,
    conversation_id: int,
    payload: dict[str, Any],
    sender_type: str,
    sender_id: str | None,
    at: datetime,
    claimed_until: datetime | None = None,
) -> Message:
    """Write a reply to send after the commit: `pending`, or, with `claimed_until`, already claimed
    by the caller (`sending`, one attempt counted), who sends it right after its commit without a
    claim of its own (`send_claimed`). Only a caller that knows no earlier row of the conversation
    is unsent may claim at write time; if it dies first, the claim lapses and the relay sends it,
    as any claim whose sender died."""
    kind = str(payload.get("type", "text"))
    message = Message(
        conversation_id=conversation_id,
        direction=Direction.OUTBOUND,
        kind=kind,
        text=render_as_text(payload),
        payload=payload,
        sender_type=sender_type,
        sender_id=sender_id,
        status=SendStatus.PENDING if claimed_until is None else SendStatus.SENDING,
        attempts=0 if claimed_until is None else 1,
        claimed_until=claimed_until,
        created_at=at,
        updated_at=at,
    )
    if claimed_until is None:
        session.info[QUEUED_UNCLAIMED] = True
    # A Core INSERT (an ORM flush of one row costs several times its statement), the row then taken
    # into the session as if loaded there.
    values = {key: getattr(message, key) for key in _OUTGOING_KEYS}
    row_id = (await session.execute(_INSERT_OUTGOING, values)).scalar_one()
    return loaded(session, Message, {"id": row_id, **values}, obj=message)


_OUTBOX = cast(sa.Table, Message.__table__)  # type: ignore[attr-defined]
_OUTGOING_KEYS = [column.key for column in _OUTBOX.c if column.key != "id"]
_INSERT_OUTGOING = sa.insert(_OUTBOX).returning(_OUTBOX.c.id)


def queued_unclaimed(session: AsyncSession) -> bool:
    """Whether this transaction queued a `pending` row (which rows claimed after it must not pass)."""
    return bool(session.info.get(QUEUED_UNCLAIMED))


def _claim_statement() -> Any:
    """Claim the conversation's oldest unsent message in one conditional UPDATE: `pending`, or
    `sending` with a lapsed claim (its sender died), and only while no other sender holds a live
    claim in this conversation. Built once; its values are bound per call."""
    conversation_id: sa.BindParameter[int] = sa.bindparam("b_conversation_id")
    at = sa.bindparam("b_at", type_=UTCDateTime())
    unsent = or_(
        col(Message.status) == SendStatus.PENDING,
        and_(col(Message.status) == SendStatus.SENDING, col(Message.claimed_until) < at),
    )
    outbound = and_(
        col(Message.conversation_id) == conversation_id, col(Message.direction) == Direction.OUTBOUND
    )
    other = sa.table(
        "message",
        sa.column("conversation_id"),
        sa.column("direction"),
        sa.column("status"),
        sa.column("claimed_until", UTCDateTime()),
    ).alias("other")
    held = (
        select(sa.literal(1))
        .select_from(other)
        .where(
            other.c.conversation_id == conversation_id,
            other.c.direction == str(Direction.OUTBOUND),
            other.c.status == str(SendStatus.SENDING),
            other.c.claimed_until >= at,
        )
        .exists()
    )
    oldest = select(col(Message.id)).where(outbound, unsent).order_by(col(Message.id)).limit(1)
    return (
        update(Message)
        .where(col(Message.id) == oldest.scalar_subquery(), unsent, ~held)
        .values(
            status=SendStatus.SENDING,
            claimed_until=sa.bindparam("b_until", type_=UTCDateTime()),
            attempts=col(Message.attempts) + 1,
            updated_at=at,
        )
        .returning(Message)
        .execution_options(synchronize_session=False)
    )


_CLAIM = _claim_statement()


async def claim_next(
    session: AsyncSession, *, conversation_id: int, at: datetime, claim: timedelta = SEND_CLAIM
) -> Message | None:
    """Claim the conversation's oldest unsent message (`_claim_statement`), so replies go out in
    order and never twice at the same time."""
    params = {"b_conversation_id": conversation_id, "b_at": at, "b_until": at + claim}
    return (await session.execute(_CLAIM, params)).scalars().first()


async def send_pending(
    sessions: async_sessionmaker[AsyncSession],
    *,
    client: GraphClient,
    conversation_id: int,
    clock: Clock,
    claim: timedelta = SEND_CLAIM,
) -> list[Message]:
    """Send the conversation's unsent outbound messages in order, each claimed before it is sent;
    returns the messages this call sent or failed. Safe to call from any number of callers and
    processes at once: a message is sent by whoever claimed it, the others stop."""
    done: list[Message] = []
    while True:
        confirmed = False
        async with sessions() as session, session.begin():
            message = await claim_next(session, conversation_id=conversation_id, at=clock.now(), claim=claim)
            if message is not None and message.attempts > 1:  # tried before: Graph may have it
                confirmed = await confirm_by_status(session, message=message, at=clock.now())
        if message is None:
            return done
        if confirmed:
            done.append(message)
            continue
        finished = await _send_guarded(sessions, client=client, message=message, clock=clock)
        if finished is not None:
            done.append(finished)


CALLBACK_PREFIX = "handoff:m:"
_INBOX = cast(sa.Table, InboxItem.__table__)  # type: ignore[attr-defined]
# Status items of webhooks not applied yet that carry a send's tag (few: only unapplied ones).
_UNAPPLIED_STATUS = (
    select(_INBOX.c.item)
    .where(
        _INBOX.c.applied_at.is_(None),
        _INBOX.c.kind == "status",
        _INBOX.c.item[("raw", "biz_opaque_callback_data")].as_string() == sa.bindparam("tag"),
    )
    .order_by(_INBOX.c.id)
)


def callback_of(message_id: int) -> str:
    """The `biz_opaque_callback_data` a send of this row carries (echoed in its status webhooks)."""
    return f"{CALLBACK_PREFIX}{message_id}"


async def confirm_by_status(session: AsyncSession, *, message: Message, at: datetime) -> bool:
    """Whether Meta has reported a status for a send of `message` (tagged with `callback_of`): then
    Graph accepted it before its sender could record it. Recorded here, in the claim's transaction,
    with the id and the furthest status Meta gave (or failed, when it said so), and not sent again."""
    assert message.id is not None
    tag = callback_of(message.id)
    events: list[tuple[Any, Any, Any]] = [
        tuple(row)
        for row in await session.execute(
            select(
                col(MessageStatusEvent.wa_message_id),
                col(MessageStatusEvent.status),
                col(MessageStatusEvent.errors),
            )
            .where(col(MessageStatusEvent.callback_data) == tag)
            .order_by(col(MessageStatusEvent.id))
        )
    ]
    if not events:
        # Stored by a webhook but not applied yet (the process that would apply it is busy or was
        # the one that died): as good a proof that Graph has the message.
        for (item,) in await session.execute(_UNAPPLIED_STATUS, {"tag": tag}):
            raw = item.get("raw") if isinstance(item, dict) else None
            if isinstance(raw, dict) and raw.get("id"):
                events.append((raw["id"], raw.get("status"), raw.get("errors")))
    if not events:
        return False
    wamid = str(events[0][0])
    failed = next((errors for _, status, errors in events if status == SendStatus.FAILED), None)
    furthest = max(
        (SendStatus(s) for _, s, _ in events if s in STATUS_RANK),
        key=lambda s: STATUS_RANK[s],
        default=SendStatus.ACCEPTED,
    )
    message.wa_message_id, message.sent_at, message.updated_at, message.claimed_until = wamid, at, at, None
    if failed is not None:
        message.status = SendStatus.FAILED
        message.error = {"source": "status_webhook", "errors": failed}
        if refused_for_the_window(failed):
            await close_window(session, conversation_id=message.conversation_id, at=at)
    else:
        message.status, message.error = max(furthest, SendStatus.ACCEPTED, key=lambda s: STATUS_RANK[s]), None
    session.add(message)
    await session.flush()
    log.info(
        "send_confirmed_by_status",
        conversation_id=message.conversation_id,
        message_id=message.id,
        wamid=wamid,
    )
    if message.sender_type == "rep" and failed is None:
        await _log_rep_sent(session, message, at)
    return True


async def _log_rep_sent(session: AsyncSession, message: Message, at: datetime) -> None:
    """The rep sees their message go from pending to sent live (streams follow the log)."""
    await log_event(
        session,
        conversation_id=message.conversation_id,
        type=EventType.MESSAGE_SENT,
        source="whatsapp",
        description="sent",
        at=at,
        details={"message_id": message.id, "sender_id": message.sender_id},
    )


class After(Generic[T]):
    """Work to commit with the record of a send (`send_claimed`'s `then`), and its result once done.

    `run` does it in the record's transaction. On PostgreSQL it may also be given as one
    `UPDATE ... RETURNING` (`statement`, bound with `params`, its row or None turned into the result
    by `read`): the record of a bot's accepted reply and this work are then one statement in a
    round trip of its own (`_accepted_with`), instead of BEGIN, two statements and COMMIT."""

    def __init__(
        self,
        run: Callable[[AsyncSession], Awaitable[T]],
        *,
        statement: sa.Update | None = None,
        params: dict[str, Any] | None = None,
        read: Callable[[sa.Row[Any] | None], T] | None = None,
    ) -> None:
        self.run = run
        self.statement, self.params, self.read = statement, params or {}, read
        self.result: T | None = None
        self.done = False

    def finished(self, result: T) -> None:
        self.result, self.done = result, True


async def send_claimed(
    sessions: async_sessionmaker[AsyncSession],
    *,
    client: GraphClient,
    messages: list[Message],
    clock: Clock,
    claim: timedelta = SEND_CLAIM,
    then: After[Any] | None = None,
) -> list[Message]:
    """Send rows the caller claimed when it wrote them (`queue_outgoing(claimed_until=...)`), in
    order, with no claim transaction; returns those sent or failed. `then` runs in the transaction
    that records the last row's result when every row was accepted by Graph (`then.done` says
    whether it ran): the turn releases its lease there. A row with less than half its claim left is
    claimed again first (a row whose claim was taken over is left to its new sender, and so are the
    rows after it); when a row is to be retried later, the rows after it go back to `pending`,
    behind it."""
    done: list[Message] = []
    for index, message in enumerate(messages):
        if not await _keep_claim(sessions, message=message, clock=clock, claim=claim):
            await _unclaim(sessions, messages[index + 1 :], clock=clock)
            break
        last = index == len(messages) - 1
        all_accepted = all(m.status == SendStatus.ACCEPTED for m in done)
        after = then if last and all_accepted else None
        finished = await _send_guarded(sessions, client=client, message=message, clock=clock, after=after)
        if finished is None:
            continue
        done.append(finished)
        if finished.status == SendStatus.SENDING:  # to be retried later: the rest wait behind it
            await _unclaim(sessions, messages[index + 1 :], clock=clock)
            break
    return done


async def _send_guarded(
    sessions: async_sessionmaker[AsyncSession],
    *,
    client: GraphClient,
    message: Message,
    clock: Clock,
    after: After[Any] | None = None,
) -> Message | None:
    try:
        return await _send_claimed(sessions, client=client, message=message, clock=clock, after=after)
    except Exception as exc:  # one bad row is marked failed and never blocks the rest
        log.exception("send_crashed", conversation_id=message.conversation_id, message_id=message.id)
        return await _finish(
            sessions,
            message=message,
            clock=clock,
            error={"source": "outbox", "details": f"{type(exc).__name__}: {exc}"[:500]},
        )


_MESSAGE = cast(sa.Table, Message.__table__)  # type: ignore[attr-defined]
_M = _MESSAGE.c
# The claim of a row written claimed, renewed when little of it is left (only while still this
# sender's: the same attempt).
_KEEP_CLAIM = (
    sa.update(_MESSAGE)
    .where(
        _M.id == sa.bindparam("b_id"),
        _M.status == str(SendStatus.SENDING),
        _M.attempts == sa.bindparam("b_attempts"),
    )
    .values(
        claimed_until=sa.bindparam("b_until", type_=UTCDateTime()),
        updated_at=sa.bindparam("b_at", type_=UTCDateTime()),
    )
)
_UNCLAIM = (
    sa.update(_MESSAGE)
    .where(
        _M.id.in_(sa.bindparam("b_ids", expanding=True)),
        _M.status == str(SendStatus.SENDING),
        _M.attempts == 1,
    )
    .values(
        status=str(SendStatus.PENDING),
        claimed_until=sa.null(),
        attempts=_M.attempts - 1,
        updated_at=sa.bindparam("b_at", type_=UTCDateTime()),
    )
)
# The outcome of a claimed send, recorded only while the row is still claimed (`sending`).
_ACCEPTED = (
    sa.update(_MESSAGE)
    .where(_M.id == sa.bindparam("b_id"), _M.status == str(SendStatus.SENDING))
    .values(
        status=str(SendStatus.ACCEPTED),
        wa_message_id=sa.bindparam("b_wamid", type_=_M.wa_message_id.type),
        sent_at=sa.bindparam("b_at", type_=UTCDateTime()),
        updated_at=sa.bindparam("b_at", type_=UTCDateTime()),
        claimed_until=sa.null(),
        error=sa.null(),
    )
    .returning(_M.sender_type)
)
_FAILED = (
    sa.update(_MESSAGE)
    .where(_M.id == sa.bindparam("b_id"), _M.status == str(SendStatus.SENDING))
    .values(
        status=str(SendStatus.FAILED),
        error=sa.bindparam("b_error", type_=_M.error.type),
        updated_at=sa.bindparam("b_at", type_=UTCDateTime()),
        claimed_until=sa.null(),
    )
    .returning(_M.sender_type)
)


async def _keep_claim(
    sessions: async_sessionmaker[AsyncSession], *, message: Message, clock: Clock, claim: timedelta
) -> bool:
    at = clock.now()
    if message.claimed_until is not None and message.claimed_until - at >= claim / 2:
        return True
    async with sessions() as session, session.begin():
        result = await session.execute(
            _KEEP_CLAIM,
            {"b_id": message.id, "b_attempts": message.attempts, "b_until": at + claim, "b_at": at},
        )
    if getattr(result, "rowcount", 0) != 1:
        log.warning("send_claim_taken_over", conversation_id=message.conversation_id, message_id=message.id)
        return False
    message.claimed_until = at + claim
    return True


async def _unclaim(
    sessions: async_sessionmaker[AsyncSession], messages: list[Message], *, clock: Clock
) -> None:
    if messages:
        async with sessions() as session, session.begin():
            await session.execute(_UNCLAIM, {"b_ids": [m.id for m in messages], "b_at": clock.now()})


async def _send_claimed(
    sessions: async_sessionmaker[AsyncSession],
    *,
    client: GraphClient,
    message: Message,
    clock: Clock,
    after: After[Any] | None = None,
) -> Message:
    if message.payload is None:
        raise ValueError("outbound message without a payload")
    error: dict[str, Any] | None = None
    wamid: str | None = None
    retryable = False
    try:
        # A rep's file is uploaded first (orchestrator.media); other payloads go as stored.
        payload = await resolve_outbound(sessions, client=client, message=message)
        assert message.id is not None
        # Tagged with its row, so a status webhook can tell that Graph has it (`confirm_by_status`).
        payload = {**payload, "biz_opaque_callback_data": callback_of(message.id)}
        wamid = (await client.send(payload)).wa_message_id
    except GraphAPIError as exc:
        error = {
            "source": "graph_api",
            "code": exc.code,
            "title": exc.title,
            "details": exc.details,
            "http_status": exc.http_status,
        }
        retryable = exc.retryable
    except GraphError as exc:
        error = {"source": "transport", "details": str(exc)}
        retryable = exc.retryable
    if error is not None and retryable and clock.now() - message.created_at < RETRY_WINDOW:
        return await _retry_later(sessions, message=message, clock=clock, error=error) or message
    try:
        finished = await _record(
            sessions, message=message, clock=clock, error=error, wamid=wamid, after=after
        )
    except IntegrityError:
        # Graph answered with an id we already hold: keep the row, marked failed, and move on.
        finished = await _finish(
            sessions,
            message=message,
            clock=clock,
            error={"source": "outbox", "details": f"Graph returned a message id already stored: {wamid}"},
        )
    return finished or message


def _transient_database_error(exc: BaseException) -> bool:
    return isinstance(exc, PoolTimeout | DBAPIError) and not isinstance(exc, IntegrityError)


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    *,
    message: Message,
    clock: Clock,
    error: dict[str, Any] | None,
    wamid: str | None,
    after: After[Any] | None = None,
) -> Message | None:
    """`_finish`, retried through transient database errors when Graph accepted the send: marking
    a delivered reply failed would show the rep a failure the customer never saw (and hand the
    conversation off for it)."""
    if wamid is None:
        return await _finish(sessions, message=message, clock=clock, error=error)
    retrying = AsyncRetrying(
        retry=retry_if_exception(_transient_database_error),
        stop=stop_after_delay(RECORD_RETRY_S),
        wait=wait_exponential(multiplier=0.2, max=5),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            if attempt.retry_state.attempt_number > 1:
                log.warning(
                    "send_record_retried", message_id=message.id, attempt=attempt.retry_state.attempt_number
                )
            return await _finish(
                sessions, message=message, clock=clock, error=error, wamid=wamid, after=after
            )
    raise AssertionError("unreachable: tenacity reraises the last error")


async def _retry_later(
    sessions: async_sessionmaker[AsyncSession], *, message: Message, clock: Clock, error: dict[str, Any]
) -> Message | None:
    """Keep the claim until the next attempt, which the relay makes once it lapses (in order: the
    conversation's later rows wait behind it)."""
    at = clock.now()
    assert message.id is not None
    delay = min(2.0 ** max(message.attempts, 1), MAX_RETRY_DELAY_S)
    async with sessions() as session, session.begin():
        fresh = await session.get(Message, message.id, with_for_update=True)
        if fresh is None or fresh.status != SendStatus.SENDING:
            return None
        fresh.claimed_until, fresh.updated_at = at + timedelta(seconds=delay), at
        fresh.error = {**error, "retry_in_s": delay}
        session.add(fresh)
    log.warning(
        "send_retry_later",
        conversation_id=message.conversation_id,
        message_id=message.id,
        in_s=delay,
        error=error,
    )
    return fresh


async def _finish(
    sessions: async_sessionmaker[AsyncSession],
    *,
    message: Message,
    clock: Clock,
    error: dict[str, Any] | None,
    wamid: str | None = None,
    after: After[Any] | None = None,
) -> Message | None:
    """Record the outcome of a claimed send (only while the row is still claimed: `sending`) in one
    UPDATE, and `after`'s work in the same transaction. Returns the message as recorded, or None
    when it was no longer claimed."""
    at = clock.now()
    assert message.id is not None
    if error is None and after is not None and _joins(sessions, message, after):
        return await _accepted_with(sessions, message=message, at=at, wamid=wamid, after=after)
    async with sessions() as session, session.begin():
        if error is None:
            row = (
                await session.execute(_ACCEPTED, {"b_id": message.id, "b_wamid": wamid, "b_at": at})
            ).first()
            if row is not None and row.sender_type == "rep":
                await _log_rep_sent(session, message, at)
        else:
            row = (await session.execute(_FAILED, {"b_id": message.id, "b_error": error, "b_at": at})).first()
            if row is not None:
                reason = describe_failure(error)
                log.warning(
                    "send_failed", conversation_id=message.conversation_id, message_id=message.id, error=error
                )
                await log_event(
                    session,
                    conversation_id=message.conversation_id,
                    type=EventType.SEND_FAILED,
                    source="whatsapp",
                    description=f"send failed: {reason}",
                    at=at,
                    details={"message_id": message.id, **error, "reason": reason},
                )
                if refused_for_the_window([error]):
                    await close_window(session, conversation_id=message.conversation_id, at=at)
        result = await after.run(session) if after is not None else None
    if after is not None:
        after.finished(result)
    if row is None:
        return None
    return _recorded(message, at=at, error=error, wamid=wamid)


def _joins(sessions: async_sessionmaker[AsyncSession], message: Message, after: After[Any]) -> bool:
    """Whether the record of `message` accepted and `after` go as one statement: on PostgreSQL (a
    data-modifying WITH), for a bot's reply (a rep's also writes an event), when `after` has one."""
    bind = sessions.kw.get("bind")
    return (
        after.statement is not None
        and message.sender_type == "bot"
        and bind is not None
        and bind.dialect.name == "postgresql"
    )


async def _accepted_with(
    sessions: async_sessionmaker[AsyncSession],
    *,
    message: Message,
    at: datetime,
    wamid: str | None,
    after: After[Any],
) -> Message | None:
    """`_ACCEPTED` and `after.statement` in one statement, autocommitted: one round trip. Each
    part applies as it would alone (the row only while still claimed; `after`'s own condition);
    the data-modifying WITHs run once, together, whether or not the other one's row is there."""
    assert after.statement is not None
    assert after.read is not None
    bind = sessions.kw["bind"]
    async with bind.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        row = (
            await autocommit.execute(
                _accepted_and(after.statement),
                {"b_id": message.id, "b_wamid": wamid, "b_at": at, **after.params},
            )
        ).one()
    after.finished(after.read(row if row.done_rows else None))
    if row.sender_type is None:
        return None
    return _recorded(message, at=at, error=None, wamid=wamid)


@functools.cache
def _accepted_and(statement: sa.Update) -> sa.Select[Any]:
    """`_ACCEPTED` and `statement` (an `UPDATE ... RETURNING` of at most one row) as one statement:
    the row's `sender_type` (NULL when it was no longer claimed), how many rows `statement`
    changed, and what it returned. Built once per statement."""
    sent = _ACCEPTED.cte("sent")
    done = statement.cte("done")
    return sa.select(
        sa.select(sent.c.sender_type).scalar_subquery().label("sender_type"),
        sa.select(sa.func.count()).select_from(done).scalar_subquery().label("done_rows"),
        *[sa.select(column).scalar_subquery().label(column.key) for column in done.c],
    )


def _recorded(message: Message, *, at: datetime, error: dict[str, Any] | None, wamid: str | None) -> Message:
    """`message` as its recorded outcome left the row."""
    message.updated_at, message.claimed_until = at, None
    if error is None:
        message.status, message.wa_message_id, message.sent_at, message.error = (
            SendStatus.ACCEPTED,
            wamid,
            at,
            None,
        )
    else:
        message.status, message.error = SendStatus.FAILED, error
    return message


async def relay(
    sessions: async_sessionmaker[AsyncSession],
    *,
    client: GraphClient,
    clock: Clock,
    claim: timedelta = SEND_CLAIM,
) -> list[Message]:
    """Send what a crash or an interrupted caller left unsent (pending, or sending with a lapsed
    claim), conversation by conversation, in order (the background loop calls this)."""
    at = clock.now()
    async with sessions() as session:
        rows = await session.execute(
            select(col(Message.conversation_id))
            .where(
                col(Message.direction) == Direction.OUTBOUND,
                or_(
                    col(Message.status) == SendStatus.PENDING,
                    and_(col(Message.status) == SendStatus.SENDING, col(Message.claimed_until) < at),
                ),
            )
            .distinct()
        )
        conversation_ids = sorted(int(c) for c in rows.scalars())
    sent: list[Message] = []
    for conversation_id in conversation_ids:
        sent += await send_pending(
            sessions, client=client, conversation_id=conversation_id, clock=clock, claim=claim
        )
    return sent


# A timer fires this long after a claim's lapse, so the claim has lapsed by the database's clock too.
RETRY_SLACK_S = 0.05


class RetryTimers:
    """Wakes a conversation's sender when a send kept for a later attempt (`_retry_later`) is due,
    so it is tried again at its mark (2, 4, 8... s), not at the background loop's next pass. Each
    conversation keeps all its marks and one timer, for the earliest; when it fires, the next mark
    is set. `relay` still covers a process that stops."""

    def __init__(self, clock: Clock, wake: Callable[[int], None]) -> None:
        self.clock, self.wake = clock, wake
        self._handles: dict[int, asyncio.TimerHandle] = {}
        self._marks: dict[int, set[datetime]] = {}

    def watch(self, conversation_id: int, messages: list[Message]) -> None:
        """Add the marks of those of `messages` waiting for a retry to the conversation's."""
        due = {
            m.claimed_until
            for m in messages
            if m.status == SendStatus.SENDING
            and m.claimed_until is not None
            and "retry_in_s" in (m.error or {})
        }
        if due:
            self._marks.setdefault(conversation_id, set()).update(due)
            self._arm(conversation_id)

    def _arm(self, conversation_id: int) -> None:
        if (handle := self._handles.pop(conversation_id, None)) is not None:
            handle.cancel()
        if not (marks := self._marks.get(conversation_id)):
            self._marks.pop(conversation_id, None)
            return
        delay = max(0.0, (min(marks) - self.clock.now()).total_seconds()) + RETRY_SLACK_S
        self._handles[conversation_id] = asyncio.get_running_loop().call_later(
            delay, self._fire, conversation_id
        )

    def pending(self) -> set[int]:
        """Conversations with a retry timer set (tests)."""
        return set(self._handles)

    def _fire(self, conversation_id: int) -> None:
        self._handles.pop(conversation_id, None)
        if marks := self._marks.get(conversation_id):  # this timer's mark, and any others now due
            first, now = min(marks), self.clock.now()
            marks -= {mark for mark in marks if mark <= now or mark == first}
        self._arm(conversation_id)
        self.wake(conversation_id)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
        self._marks.clear()


class Dispatcher:
    """Sends what a request queued, in the background: the request answers at once (its reply
    `pending`) and never waits for Graph or its rate-limit back-off. One task per conversation at a
    time (a second call while it runs makes it look again); what a crash interrupts, `relay` sends."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        client: GraphClient,
        clock: Clock,
        claim: timedelta = SEND_CLAIM,
    ) -> None:
        self.sessions, self.client, self.clock, self.claim = sessions, client, clock, claim
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()
        self.retries = RetryTimers(clock, self.kick)

    def kick(self, conversation_id: int) -> None:
        task = self._tasks.get(conversation_id)
        if task is not None and not task.done():
            self._again.add(conversation_id)
            return
        self._tasks[conversation_id] = asyncio.create_task(self._send(conversation_id))

    async def _send(self, conversation_id: int) -> None:
        try:
            while True:
                self._again.discard(conversation_id)
                sent = await send_pending(
                    self.sessions,
                    client=self.client,
                    conversation_id=conversation_id,
                    clock=self.clock,
                    claim=self.claim,
                )
                self.retries.watch(conversation_id, sent)
                if conversation_id not in self._again:
                    return
        except Exception:  # the row stays pending (or its claim lapses): the relay sends it
            log.exception("dispatch_failed", conversation_id=conversation_id)
        finally:
            self._tasks.pop(conversation_id, None)

    async def drain(self) -> None:
        """Wait until every send started here has finished (tests, shutdown)."""
        while pending := [task for task in self._tasks.values() if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        self.retries.close()
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

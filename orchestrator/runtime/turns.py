"""Bot turns: one conversation at a time, in order, a burst of messages answered once.

The webhook stores messages and marks the conversation `has_pending`; `TurnEngine.schedule` then
waits while the customer is still typing and runs the turn off the request path. The burst window
is adaptive: the turn starts once no new message has arrived for `burst_quiet_s` (a few hundred ms),
and at the latest `burst_window_s` after the first message of the burst, so a lone message is
answered at once and a burst of messages still gets one answer. A turn:
  1. takes the conversation's lease (a conditional UPDATE, so one process runs it at a time), short
     and renewed while the loop runs, so a dead process's conversations resume within seconds; a
     backlog's conversations are admitted in groups and a group's leases are taken in one statement
     (`_lease_group`);
  2. reads, in the same transaction, the conversation, its contact, the unprocessed inbound messages,
     the latest hand-back and the stored checkpoint (a group's in shared statements, the
     checkpoints one by one); if the conversation is not bot-owned (the ownership gate) the
     messages go to the rep workspace and the graph is never called;
  3. runs the graph (outside any database transaction), a new hand-back's briefing taken into its
     state first; the graph's checkpoint is held in memory (`checkpoints.StagedSaver`);
  4. in one transaction, fenced (refused unless this worker still holds the lease and every message
     is still unprocessed): counts the turn in one conditional UPDATE, marks the messages consumed,
     writes the graph's checkpoint, appends the agents' events to the context log, queues the
     replies, and on handoff writes the context, pauses the bot and assigns;
  5. after the commit, sends the replies: written already claimed by this worker when nothing
     else of the conversation was unsent (no claim transaction), the last one's result recorded in
     the transaction that releases the lease.
On both databases the checkpoint is written in the turn's transaction (`checkpoints`). The state
also records the ids of the messages it consumed, and a checkpoint found ahead of the database (its
consumed messages still unprocessed: written before PostgreSQL's checkpoints joined the turn's
transaction, on a saver's own connection) is committed as it stands, never run again.
Messages that arrived while the graph ran are taken by the next loop. A periodic sweep picks up
conversations whose turn was interrupted (crash, another process's schedule).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
import structlog
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from agents.common import handoff_request
from handoff.flows import HandoffResult, perform_handoff
from orchestrator.channels.whatsapp.client import GraphClient, describe_failure
from orchestrator.channels.whatsapp.inbound import InboundKind, order_of
from orchestrator.conversations import (
    Released,
    claim_turn_lease,
    claim_turn_leases,
    consume_statement,
    mark_consumed,
    moved_from_closed,
    pending_inbound_of,
    release_turn_lease,
    released_from,
    releasing,
    renew_turn_lease,
    tell_the_rep,
)
from orchestrator.core.aio import Foreground, GroupAdmission, sleep_until
from orchestrator.core.clock import Clock
from orchestrator.core.config import AppConfig
from orchestrator.core.context import GraphContext, LLMUsage, ModelClient
from orchestrator.core.contextlog import ContextEvent, log_event
from orchestrator.core.db import UTCDateTime, database_unavailable, loaded
from orchestrator.core.enums import Direction, EventType, HandoffReason, Owner, SendStatus
from orchestrator.core.state import HandoffRequest, State, TurnMessage
from orchestrator.core.state import turn_input as make_turn_input
from orchestrator.core.tables import Contact, Conversation, Message
from orchestrator.inbox import Applied, Take, apply_items, kind_batches
from orchestrator.outbox import (
    SEND_CLAIM,
    After,
    RetryTimers,
    build_payload,
    queue_outgoing,
    queued_unclaimed,
    relay,
    send_claimed,
    send_pending,
)
from orchestrator.runtime.graph import AgentGraph, thread_config
from orchestrator.runtime.handback import HandBack, hand_back_of, latest_hand_back_id, resume_update

if TYPE_CHECKING:  # LangGraph loads with the graph, at a process's first turn
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import CheckpointTuple

    from orchestrator.runtime.checkpoints import Stage, StagedSaver

log = structlog.get_logger(__name__)
# A short lease renewed while the loop runs: a dead process's conversations resume within seconds.
LEASE_S = 15.0
# Items applied in one SQLite transaction: `APPLY_CHUNK` when nothing else is going on, and
# `APPLY_CHUNK_SERVING` while acknowledgements are being served (`Foreground.active`), whose own
# writes wait for the chunk's transaction to commit (one writer at a time): the shorter that wait,
# the shorter the acknowledgement's tail.
APPLY_CHUNK = 100
APPLY_CHUNK_SERVING = 25
# How long the applier defers to acknowledgements (`Foreground`): once the oldest item it holds
# has waited `APPLY_LAG_S` since the webhook handed it over, each of its chunks waits for the
# acknowledgements only so long that the applier keeps `APPLY_SHARE` of the time (three times as
# long as its last chunk took), instead of the foreground's `max_wait_s` (a chunk every 0.25 s
# whatever it cost). So however saturated the process is with acknowledgements, a flood does not
# defer the application (and so every reply) for as long as it lasts, and the acknowledgements
# keep the rest of the time on either database, whatever a chunk costs there.
APPLY_LAG_S = 1.0
APPLY_SHARE = 0.25
# The webhook's items kept in memory for the applier at most (`apply_soon`). A burst that outruns
# the applier (it waits while acknowledgements run: `Foreground`) would otherwise pile up every
# item's parsed dicts in memory, and each full pass of the garbage collector walked all of them:
# 150-340 ms pauses of the event loop, every acknowledgement meeting one waiting that long. Past
# the limit the items are read back from the inbox, oldest first, once the applier gets to them.
HANDOVER_LIMIT = 2000
# On PostgreSQL: up to this many statuses applied together in one transaction, and up to this many
# messages in another (each kind in its own lock order: `inbox.kind_batches`).
STATUS_BATCH = 100
MESSAGE_BATCH = 10
# Conversations that may hold a lease in one process at once, per turn slot: enough that sends
# waiting on Graph never leave a slot idle, few enough that none of them waits long for a slot.
ADMITTED_PER_SLOT = 16
# Once conversations wait for their admission, they are let in this many at a time, and their
# leases taken and their turns read in one transaction (`TurnEngine._lease_group`).
LEASE_GROUP = 8
# A conversation whose turn was interrupted this many times in a row (its lease taken over from a
# process that died or hung while it ran: `lease_lapses`) is handed to a person without running the
# graph again: a message that takes down every process that runs it is answered by a human, not
# retried without end.
INTERRUPTED_TURNS_LIMIT = 3
MAX_LEASE_GROUP = 32  # conversations whose leases one transaction takes at most


# The statements every turn runs, built once at import (bound per call): building a statement costs
# more CPU than SQLite takes to run it.
_CONVERSATION = cast(sa.Table, Conversation.__table__)  # type: ignore[attr-defined]
_CONVERSATION_ID: sa.BindParameter[int] = sa.bindparam("b_conversation_id")
# The conversation, its contact and its latest hand-back to the bot, its row locked (`_read_turn`).
_READ_TURNS = (
    select(Conversation, Contact, ContextEvent)
    .join(Contact, col(Contact.id) == col(Conversation.contact_id))
    .outerjoin(ContextEvent, col(ContextEvent.id) == latest_hand_back_id())
    .where(col(Conversation.id).in_(sa.bindparam("b_conversation_ids", expanding=True)))
    .order_by(col(Conversation.id))
    .with_for_update(of=Conversation, key_share=True)
)
_LOCK_CONVERSATION = (
    select(col(Conversation.id))
    .where(col(Conversation.id) == _CONVERSATION_ID)
    .with_for_update(key_share=True)
)


def _count_turn_statement() -> Any:
    """Count the turn, fenced: only while this worker holds the lease (`b_owner`). It also records
    whether inbound messages other than the turn's (`b_ids`) are waiting, the state's language and
    flow when it has them, and returns the conversation with whether outbound rows of it are not
    yet sent (the turn's replies queue behind them)."""
    others = (
        select(col(Message.id))
        .where(
            col(Message.conversation_id) == _CONVERSATION_ID,
            col(Message.direction) == Direction.INBOUND,
            col(Message.status) == "received",
            col(Message.turn).is_(None),
            col(Message.id).not_in(sa.bindparam("b_ids", expanding=True)),
        )
        .exists()
    )
    unsent = (
        select(col(Message.id))
        .where(
            col(Message.conversation_id) == _CONVERSATION_ID,
            col(Message.direction) == Direction.OUTBOUND,
            col(Message.status).in_([SendStatus.PENDING, SendStatus.SENDING]),
        )
        .exists()
    )
    language = sa.bindparam("b_language", type_=sa.String())
    flow = sa.bindparam("b_flow", type_=sa.String())
    # Core, not ORM: an ORM UPDATE works its cache key out again on every execution.
    return (
        sa.update(_CONVERSATION)
        .where(_CONVERSATION.c.id == _CONVERSATION_ID, _CONVERSATION.c.lease_owner == sa.bindparam("b_owner"))
        .values(
            turns=_CONVERSATION.c.turns + 1,
            updated_at=sa.bindparam("b_at", type_=UTCDateTime()),
            has_pending=others,
            language=sa.func.coalesce(language, _CONVERSATION.c.language),
            flow=sa.func.coalesce(flow, _CONVERSATION.c.flow),
        )
        .returning(*_CONVERSATION.c, unsent.label("behind"))
    )


_COUNT_TURN = _count_turn_statement()


def _count_and_consume_statement() -> Any:
    """PostgreSQL: `_COUNT_TURN` and `mark_consumed` in one statement (data-modifying WITHs): the
    messages are marked with the turn's number only when the fence let the count through, and
    the row says how many were marked (`consumed`)."""
    counted = _COUNT_TURN.cte("counted")
    consumed = (
        consume_statement(
            sa.select(counted.c.turns).scalar_subquery(), only_if=sa.exists(sa.select(counted.c.id))
        )
        .returning(sa.literal_column("1").label("one"))
        .cte("consumed")
    )
    return sa.select(
        counted, sa.select(sa.func.count()).select_from(consumed).scalar_subquery().label("consumed")
    )


_COUNT_AND_CONSUME = _count_and_consume_statement()


class TurnRefused(Exception):
    """The turn's commit was refused and rolled back: the lease was lost, or its messages were
    processed meanwhile. Nothing of it is stored or sent."""


@dataclass
class TurnOutcome:
    conversation_id: int
    turn: int
    sent: list[Message] = field(default_factory=list)
    handoff: HandoffResult | None = None
    llm_calls: int = 0
    waited_s: float = 0.0  # the burst window this turn waited out before it ran (monotonic seconds)
    # Replies the commit wrote already claimed by this worker, sent right after it in that order;
    # `behind`: other rows of the conversation were unsent (or queued unclaimed), so the ordinary
    # claim path sends what is left after them.
    claimed: list[Message] = field(default_factory=list)
    behind: bool = False


def _turn_message(message: Message) -> TurnMessage:
    payload = message.payload or {}
    assert message.id is not None
    turn_message: TurnMessage = {
        "id": message.id,
        "kind": message.kind,
        "text": payload.get("words"),
        "reply_id": message.reply_id,
        "reply_title": payload.get("reply_title"),
    }
    raw = payload.get("message")
    if message.kind == InboundKind.ORDER and isinstance(raw, dict) and (order := order_of(raw)):
        turn_message["order"] = order.describe()
    return turn_message


class TurnEngine:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        graph: AgentGraph,
        config: AppConfig,
        client: GraphClient,
        clock: Clock,
        llm: ModelClient | None = None,
        burst_window_s: float = 1.5,
        burst_quiet_s: float = 0.4,
        on_outcome: Callable[[TurnOutcome], None] | None = None,
        lease_s: float = LEASE_S,
        send_claim: timedelta = SEND_CLAIM,
        concurrency: int = 4,
        foreground: Foreground | None = None,
    ) -> None:
        self.sessions = sessions
        self.graph = graph
        self.config = config
        self.client = client
        self.clock = clock
        self.llm = llm
        self.burst_window_s = burst_window_s  # the upper bound of the wait
        self.burst_quiet_s = burst_quiet_s  # the wait after the latest message
        self.lease_s = lease_s
        self.renew_every_s = lease_s / 3
        self.send_claim = send_claim
        # At most `concurrency` turns run the graph and commit at once in this process. A turn is
        # CPU work on the event loop that also answers webhooks: with every scheduled conversation
        # running at once, an acknowledgement waits behind all of them (and their connections empty
        # the pool). Sends are not limited by the slots (they wait on Graph, not the CPU).
        self._slots = asyncio.Semaphore(max(1, concurrency))
        # At most `ADMITTED_PER_SLOT` times as many conversations hold a lease here at once; the
        # others wait their turn in the order they became due, without a lease: a backlog costs no
        # lease renewals while it waits, its first conversations are answered first, and a
        # conversation this process cannot take yet stays free for another worker (whose sweep
        # finds it pending with its lease free).
        # Admitted in groups once some wait (`GroupAdmission`), their leases taken and their turns
        # read together: one transaction for a group instead of one each.
        self._admitted = GroupAdmission(max(1, concurrency) * ADMITTED_PER_SLOT, group=LEASE_GROUP)
        self._to_lease: dict[int, asyncio.Future[_Leased]] = {}
        self._leaser: asyncio.Task[None] | None = None
        # Acknowledgements first: each step below waits while the process is answering webhooks.
        self.foreground = foreground or Foreground()
        bind = sessions.kw.get("bind")
        self._dialect = bind.dialect.name if bind is not None else "sqlite"
        self.worker_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()
        self._moved: set[int] = set()  # conversations messages were moved to, to schedule (`_read_turns`)
        # Conversations whose task has not read them yet (in the burst window, or waiting for its
        # admission): what is pending now, that read will see.
        self._waiting: set[int] = set()
        self._heard: dict[int, float] = {}  # conversation → loop time of its latest message
        # A reply kept for a later attempt (Graph down, rate-limited) is tried again when it is due.
        self.retries = RetryTimers(clock, self._retry_sends)
        self._retrying: dict[int, asyncio.Task[None]] = {}
        self.on_outcome = on_outcome  # an observer of finished turns (the replay tool)
        # Items the webhook stored, waiting for the applier task (`apply_soon`).
        self._to_apply: list[int] = []
        self._known: dict[int, dict[str, Any]] = {}
        self._after_apply: list[Callable[[], Awaitable[None]]] = []
        self._applier: asyncio.Task[None] | None = None
        # Past `HANDOVER_LIMIT`: items stored but not kept, for the applier to read back.
        self._behind = False
        self._dropped = 0
        # When the oldest item waiting for the applier was handed over (monotonic; None: none
        # waits), in memory and left in the inbox: how long the applier has deferred (`APPLY_LAG_S`).
        self._handed_since: float | None = None
        self._behind_since: float | None = None
        self.apply_lag_s = APPLY_LAG_S
        self._last_chunk_s = 0.0  # how long the applier's last transaction took (`APPLY_SHARE`)
        # The knowledge index the agents build from `config` at their first turn, kept for the next.
        self._knowledge: Any = None

    @property
    def saver(self) -> StagedSaver | None:
        """The graph's checkpointer, whose writes wait for the turn's commit; known once the graph
        has loaded (`run` loads it before it takes the lease)."""
        return self.graph.saver

    # -- scheduling ------------------------------------------------------------------------
    def schedule(self, conversation_id: int, *, arrived: bool = True) -> None:
        """Run the conversation's pending turn soon (once the customer has stopped typing), once.
        `arrived`: a new message is why; it restarts the quiet period of a turn still waiting
        (the sweep's re-scheduling does not)."""
        now = self._clock()
        if arrived:
            self._heard[conversation_id] = now
        task = self._tasks.get(conversation_id)
        if task is not None and not task.done():
            if conversation_id not in self._waiting:  # read already: run once more after it
                self._again.add(conversation_id)
            return
        self._waiting.add(conversation_id)
        self._tasks[conversation_id] = asyncio.create_task(self._run_later(conversation_id, now))

    def _clock(self) -> float:
        """The event loop's time, which the burst window's deadlines are set on."""
        return asyncio.get_running_loop().time()

    async def _quiet(self, conversation_id: int, started: float) -> float:
        """Wait until no message has arrived for `burst_quiet_s`, or `burst_window_s` has passed
        since `started`, whichever comes first; returns the seconds waited. The deadline is
        absolute (`sleep_until`), so conversations scheduled in order come out of their windows in
        that order, and reach the admission in the order their customers wrote, even when one of
        them is slow to set its timer."""
        upper = self.burst_window_s
        if not upper:
            return 0.0
        quiet = min(self.burst_quiet_s, upper)
        while True:
            now = self._clock()
            heard = self._heard.get(conversation_id, started)
            until = min(max(heard, started) + quiet, started + upper)
            if now >= until:
                return now - started
            await sleep_until(until)

    async def _run_later(self, conversation_id: int, started: float) -> None:
        # A process's first turn loads the graph: while the burst window runs, not after it.
        loading = None if self.graph.loaded else asyncio.create_task(self.graph.get())
        try:
            waited = await self._quiet(conversation_id, started)
            if loading is not None:
                await loading
            while True:
                self._again.discard(conversation_id)
                await self.run(conversation_id, waited_s=waited)
                waited = 0.0
                if conversation_id not in self._again:
                    break
        except Exception as exc:
            if database_unavailable(exc):  # left pending: the sweep or the next message runs it
                log.warning("turn_task_failed", conversation_id=conversation_id, error=repr(exc)[:300])
            else:
                log.exception("turn_task_failed", conversation_id=conversation_id)
        finally:
            if loading is not None:  # a cancelled turn leaves nothing opening behind it
                loading.cancel()
            self._waiting.discard(conversation_id)
            self._tasks.pop(conversation_id, None)
            self._heard.pop(conversation_id, None)

    async def drain(self) -> None:
        """Wait until the items handed to `apply_soon` are applied and every scheduled turn has run
        (replay, tests, shutdown)."""
        await self.applied()
        while pending := [task for task in self._tasks.values() if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)
            await self.applied()

    @property
    def idle(self) -> bool:
        """Nothing to apply and no turn scheduled or running."""
        applying = self._applier is not None and not self._applier.done()
        return not applying and all(task.done() for task in list(self._tasks.values()))

    async def applied(self) -> None:
        """Wait until the items handed to `apply_soon` so far are applied (their turns scheduled)."""
        while self._applier is not None and not self._applier.done():
            await asyncio.gather(self._applier, return_exceptions=True)

    def apply_soon(
        self,
        ids: list[int],
        known: Mapping[int, dict[str, Any]],
        *,
        then: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Apply these stored items (`known`: as the acknowledgement stored them) in the process's
        applier task, which schedules their turns. The items of deliveries that arrive while it
        works are applied together in its next pass (on SQLite `APPLY_CHUNK` per transaction), not
        in a transaction per delivery. `then` runs after the pass that applied them (the media
        fetch). A crash before the pass leaves the items unapplied in the inbox, for the sweep.
        At most `HANDOVER_LIMIT` items wait in memory: past it, and until the applier has caught
        up, items are left in the inbox and read back from it in their order."""
        if self._behind or len(self._to_apply) + len(ids) > HANDOVER_LIMIT:
            if not self._behind:
                self._behind_since = time.monotonic()
            self._behind = True
            self._dropped += len(ids)
        else:
            if not self._to_apply:
                self._handed_since = time.monotonic()
            self._to_apply += ids
            self._known.update(known)
        if then is not None and then not in self._after_apply:
            self._after_apply.append(then)
        if self._applier is None or self._applier.done():
            self._applier = asyncio.create_task(self._apply_pending(), name="inbox-applier")

    @property
    def handed_over(self) -> int:
        """Items the webhook handed to the applier that wait in memory (at most `HANDOVER_LIMIT`)."""
        return len(self._to_apply)

    async def _apply_pending(self) -> None:
        while self._to_apply or self._behind or self._after_apply:
            if self._to_apply or self._behind:
                # Waits before it takes the items, so the pass has all those handed over meanwhile.
                since = self._handed_since if self._to_apply else self._behind_since
                await self.foreground.yield_to(max_wait_s=self._longest_wait(since))
            ids, known, after = self._to_apply, self._known, self._after_apply
            since, self._handed_since = self._handed_since, None
            self._to_apply, self._known, self._after_apply = [], {}, []
            try:
                if ids:
                    await self.apply_inbox(ids, known, since=since, waited=True)
                elif self._behind:  # what was left in the inbox, until a pass ends with nothing left out
                    dropped = self._dropped
                    applied = await self.apply_inbox(since=self._behind_since, waited=True)
                    if self._dropped == dropped or applied.deferred:
                        self._behind = False  # caught up, or the database is busy: the sweep's then
            except Exception:  # left unapplied: the background sweep applies them
                log.exception("inbox_apply_failed", items=len(ids))
                self._behind = False
            if not self._behind:
                self._behind_since = None
            for hook in after:
                try:
                    await hook()
                except Exception:
                    log.exception("after_apply_failed")
            if self._behind:  # the items a hook was for may still be in the inbox: again after the next pass
                self._after_apply.extend(hook for hook in after if hook not in self._after_apply)

    async def apply_inbox(
        self,
        ids: list[int] | None = None,
        known: Mapping[int, dict[str, Any]] | None = None,
        *,
        since: float | None = None,
        waited: bool = False,
        take: Take = Take.ALL,
    ) -> Applied:
        """Apply delivered inbox items (these `ids`, or any left unapplied) and schedule the turns.
        `known`: the items as the acknowledgement stored them (not read again on SQLite). Short
        transactions, so acknowledgements never wait long for the lock: on SQLite (one writer at
        a time) `APPLY_CHUNK` items, `APPLY_CHUNK_SERVING` while acknowledgements are being
        served; on PostgreSQL up to `MESSAGE_BATCH` messages or up to `STATUS_BATCH` statuses,
        never both kinds together, each batch taking its row locks in the order every process
        takes them (`inbox.kind_batches`), so two processes applying the same conversations never
        deadlock. Each transaction waits for the acknowledgements being served (`Foreground`);
        once `apply_lag_s` has passed `since` (when the items were handed over, monotonic), only
        so long that the applier keeps `APPLY_SHARE` of the time (`_longest_wait`). `waited`: the
        caller has just waited, for the first. `take`: without `ids`, only the items of one kind
        (a worker's passes: `wakeup.InboxListener`)."""
        postgres = self._dialect != "sqlite"
        total = Applied()
        chunks: deque[list[int]] | None = None  # on PostgreSQL: its batches, in their order
        left: deque[int] | None = None  # on SQLite: the ids not applied yet, taken a chunk at a time
        if ids is not None:
            if postgres:
                chunks = deque(kind_batches(ids, known or {}, statuses=STATUS_BATCH, messages=MESSAGE_BATCH))
            else:
                left = deque(ids)
            if not chunks and not left:
                return total
        while True:
            if not waited:
                await self.foreground.yield_to(max_wait_s=self._longest_wait(since))
            waited = False
            size = self._chunk_size()  # as the acknowledgements served meanwhile decide
            chunk: list[int] | None = None  # None: the oldest unapplied, read pass by pass
            if chunks is not None:
                chunk = chunks.popleft()
            elif left is not None:
                chunk = [left.popleft() for _ in range(min(size, len(left)))]
            started = time.monotonic()
            applied = await self._apply_chunk(chunk, size, known, take=take)
            self._last_chunk_s = time.monotonic() - started
            # Every chunk's conversations, even one scheduled by an earlier chunk of this pass: its
            # turn may have run and ended since, before this chunk's message was stored.
            for conversation_id in sorted(applied.to_run):
                self.schedule(conversation_id)
            total.merge(applied)
            if chunks is not None or left is not None:
                if not chunks and not left:
                    return total
            elif applied.seen < size or applied.deferred or not applied.more:
                return total

    def _chunk_size(self) -> int:
        """Items in the applier's next SQLite transaction: fewer while acknowledgements are being
        served. On PostgreSQL one when it reads the oldest from the inbox (`apply_items` adds the
        rest of a batch of one kind)."""
        if self._dialect != "sqlite":
            return 1
        return APPLY_CHUNK_SERVING if self.foreground.active else APPLY_CHUNK

    def _longest_wait(self, since: float | None) -> float:
        """The longest the next chunk waits for the acknowledgements: until its items are overdue
        (`apply_lag_s` after `since`), then so long that the applier keeps `APPLY_SHARE` of the
        time (its last chunk's duration, times three); never longer than the foreground's own
        `max_wait_s`."""
        longest = self.foreground.max_wait_s
        if since is None:
            return longest
        paced = self._last_chunk_s * (1 - APPLY_SHARE) / APPLY_SHARE
        until_overdue = max(0.0, since + self.apply_lag_s - time.monotonic())
        return min(longest, until_overdue + paced)

    async def _apply_chunk(
        self,
        chunk: list[int] | None,
        size: int,
        known: Mapping[int, dict[str, Any]] | None,
        *,
        take: Take = Take.ALL,
    ) -> Applied:
        """The chunk as one batch; if anything in it fails, rolled back and applied again item by
        item, each in a savepoint, so a bad item is kept with its error and costs no other (after a
        transient database error, left for the next pass instead, as a single item would be). On
        PostgreSQL the items are read (and locked, `SKIP LOCKED`) even when known: another process's
        sweep may be applying them."""
        if known is None or chunk is None or self._dialect != "sqlite" or not all(i in known for i in chunk):
            known = None
        statuses, messages = (STATUS_BATCH, MESSAGE_BATCH) if self._dialect != "sqlite" else (0, 0)
        apply = functools.partial(
            apply_items, ids=chunk, limit=size, statuses=statuses, messages=messages, take=take
        )
        try:
            async with self.sessions() as session, session.begin():
                return await apply(session, at=self.clock.now(), known=known, isolate=False)
        except OperationalError as exc:
            # Transient (a deadlock, a lock timeout, a busy SQLite): no item's fault. Left
            # unapplied; the background sweep applies them again.
            log.warning(
                "inbox_batch_deferred", items=len(chunk) if chunk else size, error=str(exc.orig)[:300]
            )
            return Applied(deferred=len(chunk) if chunk else 1)
        except Exception as exc:
            log.info("inbox_batch_isolated", items=len(chunk) if chunk else size, error=repr(exc)[:300])
        async with self.sessions() as session, session.begin():  # the same items, each isolated
            return await apply(session, at=self.clock.now())

    async def sweep(self) -> int:
        """Crash recovery: apply inbox items left unapplied, schedule conversations with pending
        messages whose lease is free, and relay replies left unsent."""
        await self.apply_inbox()
        now = self.clock.now()
        async with self.sessions() as session:
            rows = await session.execute(
                select(col(Conversation.id)).where(
                    col(Conversation.has_pending).is_(True),
                    (col(Conversation.lease_until).is_(None)) | (col(Conversation.lease_until) < now),
                )
            )
            ids = [int(i) for i in rows.scalars() if i is not None]
        for cid in ids:
            self.schedule(cid, arrived=False)
        # Replies a crash (or an interrupted caller) left unsent, and those waiting to be retried.
        relayed = await relay(self.sessions, client=self.client, clock=self.clock, claim=self.send_claim)
        for message in relayed:  # a conversation's marks add up (`RetryTimers`)
            self.retries.watch(message.conversation_id, [message])
        await self._hand_off_failed(relayed)
        return len(ids)

    async def _send_and_hand_off(self, conversation_id: int) -> None:
        """Send the conversation's unsent rows in order, and hand a bot reply that finally failed
        to a human."""
        await self._hand_off_failed(await self._send_pending(conversation_id))

    async def _hand_off_failed(self, sent: list[Message]) -> None:
        for message in sent:
            if message.status == SendStatus.FAILED and message.sender_type == "bot":
                await self._hand_off_relayed(message)

    def _retry_sends(self, conversation_id: int) -> None:
        """A retry timer fired: send what is due (a task of its own, one per conversation)."""
        task = self._retrying.get(conversation_id)
        if task is None or task.done():
            self._retrying[conversation_id] = asyncio.create_task(self._relay_one(conversation_id))

    async def _relay_one(self, conversation_id: int) -> None:
        """What `sweep`'s relay does, for one conversation whose retry is due."""
        try:
            await self._send_and_hand_off(conversation_id)
        except Exception:  # the rows keep their claims: the next sweep's relay sends them
            log.exception("send_retry_failed", conversation_id=conversation_id)
        finally:
            self._retrying.pop(conversation_id, None)

    async def _hand_off_relayed(self, failed: Message) -> None:
        """A bot reply the relay gave up on (Graph down past the retry window): hand the conversation
        to a human as its turn would have, under the conversation's lease."""
        conversation_id, now = failed.conversation_id, self.clock.now()
        async with self.sessions() as session, session.begin():
            until = now + timedelta(seconds=self.lease_s)
            if not await claim_turn_lease(
                session, conversation_id=conversation_id, owner=self.worker_id, at=now, until=until
            ):
                return  # a turn runs there: its own sends see the conversation's state
        try:
            await self._hand_off_undelivered(conversation_id, failed)
        finally:
            async with self.sessions() as session, session.begin():
                released = await release_turn_lease(
                    session, conversation_id=conversation_id, owner=self.worker_id
                )
        if (
            released.pending
        ):  # stored while the hand-off held the lease: their turn (the ownership gate) runs now
            self.schedule(conversation_id, arrived=False)

    async def close(self) -> None:
        self.retries.close()
        if self._leaser is not None:  # the turns waiting for it are cancelled below
            self._leaser.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._leaser
        if self._applier is not None:  # what it had not applied stays in the inbox, for the sweep
            self._applier.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._applier
        for task in list(self._retrying.values()):
            task.cancel()
        await asyncio.gather(*self._retrying.values(), return_exceptions=True)
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # A task cancelled before it started never ran its own clean-up.
        self._tasks = {cid: task for cid, task in self._tasks.items() if not task.done()}

    # -- one conversation ------------------------------------------------------------------
    async def run(self, conversation_id: int, *, waited_s: float = 0.0) -> list[TurnOutcome]:
        """Take the lease and run the conversation's turns until nothing is pending. The lease is
        claimed in the transaction that reads the first turn's messages; each commit tells whether
        more arrived meanwhile, and so does the release (messages stored by another process while
        this one held the lease), so nothing is read twice to find out. The lease is taken once
        the conversation is admitted (`_admitted`), never while it waits."""
        await self.graph.get()  # loaded before the lease is taken (the process's first turn loads it)
        async with self._admitted:
            # From here on a message stored for it may come after its read: it runs again then.
            self._waiting.discard(conversation_id)
            return await self._run_admitted(conversation_id, waited_s=waited_s)

    async def _run_admitted(self, conversation_id: int, *, waited_s: float) -> list[TurnOutcome]:
        leased = await self._lease_and_read(conversation_id)
        if not leased.taken:
            return []  # another worker has it; it loops until nothing is pending
        pending = leased.pending
        lost = asyncio.Event()
        renewer = asyncio.create_task(self._renew(conversation_id, lost))
        outcomes: list[TurnOutcome] = []
        released: Released | None = None
        try:
            while pending is not None and not lost.is_set():
                try:
                    await self.foreground.yield_to()
                    async with self._slots:
                        outcome, more = await self._one_turn(conversation_id, pending)
                except TurnRefused as exc:
                    # Nothing of the turn was committed; whoever holds the lease now runs it.
                    log.warning("turn_refused", conversation_id=conversation_id, reason=str(exc))
                    break
                outcome.waited_s, waited_s = waited_s, 0.0
                outcomes.append(outcome)
                outcome.sent, released = await self._send(conversation_id, outcome, last=not more)
                undelivered = [
                    m for m in outcome.sent if m.status == SendStatus.FAILED and m.sender_type == "bot"
                ]
                if undelivered and outcome.handoff is None:  # never after a release: see `_send`
                    outcome.handoff = await self._hand_off_undelivered(conversation_id, undelivered[0])
                if released is not None or not more:
                    break
                async with self.sessions() as session, session.begin():
                    pending = await self._read_turn(session, conversation_id)
                self._schedule_moved()
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            if released is None:
                async with self.sessions() as session, session.begin():
                    released = await release_turn_lease(
                        session, conversation_id=conversation_id, owner=self.worker_id
                    )
        if released.unsent:
            # Queued by someone else while this worker's replies held the conversation's claim (a
            # rep's message: its own sender stopped at that claim).
            await self._send_and_hand_off(conversation_id)
        if released.pending:
            # Stored (by any process) after this worker's last look: run again, as a new turn.
            self.schedule(conversation_id, arrived=False)
        if self.on_outcome is not None:
            for outcome in outcomes:
                self.on_outcome(outcome)
        return outcomes

    async def _lease_and_read(self, conversation_id: int) -> _Leased:
        """Take the conversation's lease and read its turn, in one transaction with those of the
        other conversations admitted meanwhile (`_lease_group`, one group at a time: the requests
        arriving while one runs go in the next). A conversation the group could not take (locked
        by another transaction at that moment, or the group's transaction failed) is taken alone,
        as it was before groups: waiting for the lock."""
        waiter: asyncio.Future[_Leased] = asyncio.get_running_loop().create_future()
        self._to_lease[conversation_id] = waiter
        if self._leaser is None or self._leaser.done():
            self._leaser = asyncio.create_task(self._lease_pending(), name="turn-leaser")
        leased = await waiter
        if leased.alone:
            return await self._lease_alone(conversation_id)
        return leased

    async def _lease_pending(self) -> None:
        while self._to_lease:
            ids = sorted(self._to_lease)[:MAX_LEASE_GROUP]
            waiters = {cid: self._to_lease.pop(cid) for cid in ids}
            try:
                found = await self._lease_group(ids)
            except Exception as exc:  # taken alone instead, each in a transaction of its own
                log.warning("turn_lease_group_failed", conversations=len(ids), error=repr(exc)[:300])
                found = {}
            unclaimed: list[int] = []
            for cid, waiter in waiters.items():
                leased = found.get(cid, _Leased(alone=True))
                if waiter.done():  # its task was cancelled meanwhile (shutdown)
                    if leased.taken:
                        unclaimed.append(cid)
                    continue
                waiter.set_result(leased)
            for cid in unclaimed:  # a lease nobody will use: given back, not left to lapse
                with contextlib.suppress(Exception):
                    async with self.sessions() as session, session.begin():
                        await release_turn_lease(session, conversation_id=cid, owner=self.worker_id)

    async def _lease_group(self, ids: list[int], *, alone: bool = False) -> dict[int, _Leased]:
        """The leases of `ids` taken in one statement and the turns of those taken read in the same
        transaction; the others (another's lease, or a row locked at that moment on PostgreSQL,
        passed over rather than waited for) are left out, to be taken `alone` (one conversation,
        waiting for its row)."""
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            taken = await claim_turn_leases(
                session,
                conversation_ids=ids,
                owner=self.worker_id,
                at=now,
                until=now + timedelta(seconds=self.lease_s),
                skip_locked=self._dialect != "sqlite" and not alone,
            )
            if not taken:
                return {}
            read = await self._read_turns(session, sorted(taken))
        self._schedule_moved()
        return {cid: _Leased(taken=True, pending=read.get(cid)) for cid in taken}

    def _schedule_moved(self) -> None:
        """The turns of the conversations messages were moved to (`_read_turns`), once committed."""
        while self._moved:
            self.schedule(self._moved.pop())

    async def _lease_alone(self, conversation_id: int) -> _Leased:
        return (await self._lease_group([conversation_id], alone=True)).get(conversation_id, _Leased())

    async def _send_pending(self, conversation_id: int) -> list[Message]:
        sent = await send_pending(
            self.sessions,
            client=self.client,
            conversation_id=conversation_id,
            clock=self.clock,
            claim=self.send_claim,
        )
        self.retries.watch(conversation_id, sent)
        return sent

    async def _send(
        self, conversation_id: int, outcome: TurnOutcome, *, last: bool
    ) -> tuple[list[Message], Released | None]:
        """Send the turn's replies: those its commit wrote claimed, without a claim transaction,
        then, when other rows were unsent, whatever the claim path finds. For the `last` turn of
        the loop whose replies were all claimed and go out, the lease is released in the
        transaction that records the last send (returned; None when it was not)."""
        await self.foreground.yield_to()
        release: After[Released] | None = None
        if last and not outcome.behind:
            statement, params = releasing(conversation_id, self.worker_id)
            release = After(
                lambda session: release_turn_lease(
                    session, conversation_id=conversation_id, owner=self.worker_id
                ),
                statement=statement,
                params=params,
                read=released_from,
            )
        sent = await send_claimed(
            self.sessions,
            client=self.client,
            messages=outcome.claimed,
            clock=self.clock,
            claim=self.send_claim,
            then=release,
        )
        self.retries.watch(conversation_id, sent)  # `_send_pending` watches what it sends itself
        if outcome.behind or len(sent) < len(outcome.claimed):
            sent += await self._send_pending(conversation_id)
        return sent, release.result if release is not None and release.done else None

    async def _hand_off_undelivered(self, conversation_id: int, failed: Message) -> HandoffResult | None:
        """Never leave the customer alone: a bot reply that could not be delivered (past the Graph
        client's retries, or refused for good, e.g. 131047 outside the 24-hour window) hands the
        conversation to a human, the failure shown in the handoff's evidence and the context log."""
        what = describe_failure(failed.error).rstrip(".")
        snapshot = await self.graph.aget_state(thread_config(conversation_id))
        state = cast(State, dict(snapshot.values))
        request = handoff_request(
            reason=HandoffReason.AI_UNAVAILABLE,
            state=state,
            signals=[{"kind": "send_failed", "score": 1.0, "evidence": what, "rule": "undelivered_reply"}],
        )
        request["summary"] = f"The bot's reply could not be delivered: {what}. See the failed message."
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            conversation = await session.get(Conversation, conversation_id, with_for_update=True)
            if conversation is None or conversation.owner != Owner.BOT:
                return None
            if conversation.lease_owner != self.worker_id:
                return None  # fenced, as a turn's commit
            contact = await session.get(Contact, conversation.contact_id)
            assert contact is not None
            result = await self._hand_off(
                session, conversation=conversation, contact=contact, request=request, state=state, at=now
            )
        log.warning("handoff_after_undelivered_reply", conversation_id=conversation_id, error=what)
        # The notice may fail too (Graph down, window closed): it is then shown to the rep as failed.
        await self._send_pending(conversation_id)
        return result

    async def _renew(self, conversation_id: int, lost: asyncio.Event) -> None:
        """Extend the lease every `renew_every_s` while the loop runs; flag it lost when another
        worker has taken it (ours had lapsed), so the loop stops and its commit is refused."""
        while True:
            await asyncio.sleep(self.renew_every_s)
            try:
                async with self.sessions() as session, session.begin():
                    now = self.clock.now()
                    held = await renew_turn_lease(
                        session,
                        conversation_id=conversation_id,
                        owner=self.worker_id,
                        until=now + timedelta(seconds=self.lease_s),
                    )
            except Exception:  # a busy database: try again at the next beat; the fence still holds
                log.warning("lease_renewal_failed", conversation_id=conversation_id, exc_info=True)
                continue
            if not held:
                lost.set()
                return

    async def _read_turn(self, session: AsyncSession, conversation_id: int) -> _Pending | None:
        """The conversation, its contact, its unprocessed inbound messages and its latest hand-back
        to the bot, in the caller's transaction; None when there is nothing for the bot (the
        ownership gate sends what there is to the rep workspace). The conversation's row is locked
        before looking for pending messages: a message being stored meanwhile is then either seen
        here or marks the conversation pending after this transaction, never overwritten by a
        `has_pending = False` decided without it (PostgreSQL; SQLite has one writer). The lock is
        `FOR NO KEY UPDATE`, the one the lease's claim in the same transaction already holds: a
        `FOR UPDATE` would have to wait for the key-share lock of a message being inserted, whose
        transaction waits for this one to update the conversation (a deadlock)."""
        return (await self._read_turns(session, [conversation_id])).get(conversation_id)

    async def _read_turns(self, session: AsyncSession, ids: list[int]) -> dict[int, _Pending | None]:
        """`_read_turn` of several conversations whose leases this worker holds: each statement
        reads them all (the rows locked in id order), the stored checkpoints one by one."""
        rows = (await session.execute(_READ_TURNS, {"b_conversation_ids": ids})).all()
        inbound = await pending_inbound_of(session, [row[0].id for row in rows if row[0].id is not None])
        read: dict[int, _Pending | None] = {}
        for conversation, contact, returned in rows:
            cid = conversation.id
            assert cid is not None
            messages = inbound[cid]
            read[cid] = None
            if not messages:
                conversation.has_pending = False
                session.add(conversation)
                continue
            if conversation.owner == Owner.CLOSED:
                # Stored for the bot, then handed off and closed before this read: the messages
                # move to the customer's open conversation (a new one for the bot), whose turn is
                # scheduled once this transaction has committed.
                conversation.has_pending = False
                session.add(conversation)
                home = await moved_from_closed(
                    session,
                    contact=contact,
                    closed=conversation,
                    message_ids=[m.id for m in messages if m.id is not None],
                    last_inbound_at=max(m.sent_at or m.created_at for m in messages),
                    at=self.clock.now(),
                )
                assert home.id is not None
                if home.owner == Owner.BOT:
                    self._moved.add(home.id)
                else:
                    await self._tell_the_rep(session, home, messages)
                continue
            if conversation.owner != Owner.BOT:
                # Ownership gate: a queued or human-owned conversation never reaches the graph.
                # Its messages were stored for the bot, which had the conversation then (a handoff
                # committed meanwhile): the rep is told of each, as of a message stored for them.
                for m in messages:
                    m.status = "for_rep"
                    session.add(m)
                await self._tell_the_rep(session, conversation, messages)
                conversation.has_pending = False
                session.add(conversation)
                continue
            turn = _Pending(conversation, contact, messages, hand_back_of(returned))
            saver = self.saver
            if saver is not None:
                # The stored checkpoint the turn starts from, read here rather than in a transaction
                # of its own (the lease is held: nothing else writes it meanwhile).
                turn.checkpoint = await saver.stored_in(session, thread_config(cid))
                turn.checkpoint_read = True
            read[cid] = turn
        return read

    async def _tell_the_rep(
        self, session: AsyncSession, conversation: Conversation, messages: list[Message]
    ) -> None:
        """The rep workspace told of messages the ownership gate gives the rep (`tell_the_rep`)."""
        assert conversation.id is not None
        for m in messages:
            assert m.id is not None
            await tell_the_rep(
                session,
                conversation_id=conversation.id,
                owner=conversation.owner,
                message_id=m.id,
                text=m.text,
                kind=m.kind,
                at=self.clock.now(),
            )

    async def _one_turn(self, conversation_id: int, pending: _Pending) -> tuple[TurnOutcome, bool]:
        """Run the graph on the pending messages and commit its result; returns the outcome and
        whether more messages arrived meanwhile."""
        conversation, contact, messages = pending.conversation, pending.contact, pending.messages
        turn_input = [_turn_message(m) for m in messages]
        context = GraphContext(
            config=self.config,
            now=self.clock.now(),
            contact_name=contact.name,
            country=contact.country,
            referral=conversation.referral,
            llm=self.llm,
            usage=_new_usage() if self.llm is not None else None,
            knowledge=self._knowledge,
        )
        try:
            async with self._staged() as stage:
                if stage is not None and pending.checkpoint_read:
                    stage.preload(thread_config(conversation_id), pending.checkpoint)
                return await self._run_graph(
                    conversation_id,
                    contact,
                    messages,
                    turn_input,
                    context,
                    stage,
                    pending.hand_back,
                    interrupted=conversation.lease_lapses,
                )
        finally:
            self._knowledge = self._knowledge or context.knowledge

    def _staged(self) -> contextlib.AbstractAsyncContextManager[Stage | None]:
        """The graph's writes held for the turn's commit (`checkpoints.StagedSaver`)."""
        return self.saver.staged() if self.saver is not None else contextlib.nullcontext()

    async def _run_graph(
        self,
        conversation_id: int,
        contact: Contact,
        messages: list[Message],
        turn_input: list[TurnMessage],
        context: GraphContext,
        stage: Stage | None,
        hand_back: HandBack | None,
        *,
        interrupted: int = 0,
    ) -> tuple[TurnOutcome, bool]:
        config = thread_config(conversation_id)
        values = await self.graph.saved_values(config)
        ahead = set(values.get("consumed") or []) & {m.id for m in messages}
        if ahead:
            # The graph already ran on these messages and checkpointed, but the commit never
            # happened (a checkpoint written on a saver's own connection, as PostgreSQL's were
            # before they joined the turn's transaction, and a crash between the two): commit that
            # run's result instead of running the graph again on the advanced state (which would
            # count the customer's words twice).
            log.warning("turn_replayed", conversation_id=conversation_id, messages=sorted(ahead))
            replayed = [m for m in messages if m.id in ahead]
            return await self._commit_turn(conversation_id, contact, replayed, cast(State, values), 0)
        if hand_back is not None:
            await self._resume(config, values, hand_back)
        state: State
        if interrupted >= INTERRUPTED_TURNS_LIMIT:
            # Each time this turn ran, the process running it died or hung before it ended (a
            # message the agents choke on): running it again would take down one more.
            log.error("turn_abandoned", conversation_id=conversation_id, interrupted=interrupted)
            evidence = f"the turn was interrupted {interrupted} times in a row: its process died or hung"
            state = await self._failed(config, turn_input, evidence, rule="interrupted")
        else:
            try:
                # durability="exit": the turn's state is checkpointed once, when the graph finishes,
                # and held (staged) until the turn's commit writes it. version="v2": the run streams
                # only the state after each step, not each step's update as well (about 0.1 ms).
                result = await self.graph.ainvoke(
                    make_turn_input(turn_input),
                    config=config,
                    context=context,
                    durability="exit",
                    version="v2",
                )
                state = cast(State, result.value)
            except Exception as exc:  # the agents must never leave the customer alone
                log.exception("graph_failed", conversation_id=conversation_id)
                state = await self._failed(config, turn_input, repr(exc)[:300], rule="crash")
        calls = context.usage.calls if context.usage is not None else 0
        if calls:
            await self.graph.aupdate_state(config, {"llm_calls": state.get("llm_calls", 0) + calls})
        await self.foreground.yield_to()
        return await self._commit_turn(conversation_id, contact, messages, state, calls, stage)

    async def _failed(
        self, config: RunnableConfig, turn_input: list[TurnMessage], evidence: str, *, rule: str
    ) -> State:
        """The state of a turn the agents could not run: the conversation as last stored, handed
        to a person (`ai_unavailable`) with what went wrong in the context log."""
        snapshot = await self.graph.aget_state(config)
        state = cast(State, {**snapshot.values, "incoming": turn_input, "outgoing": []})
        request = handoff_request(
            reason=HandoffReason.AI_UNAVAILABLE,
            state=state,
            signals=[{"kind": "internal_error", "score": 1.0, "evidence": evidence, "rule": rule}],
        )
        request["summary"] = "The assistant failed on this turn; see the transcript."
        state["handoff"] = request
        return state

    async def _resume(self, config: RunnableConfig, values: dict[str, Any], hand_back: HandBack) -> None:
        """The latest hand-back's briefing into the bot's state (`values`, as last stored), once;
        staged, so it is stored by this turn's commit (the hand-back's own transaction recorded it
        with the ownership change)."""
        update = resume_update(values, hand_back, self.config)
        if update is not None:
            await self.graph.aupdate_state(config, update)

    async def _commit_turn(
        self,
        conversation_id: int,
        contact: Contact,
        messages: list[Message],
        state: State,
        llm_calls: int,
        stage: Stage | None = None,
    ) -> tuple[TurnOutcome, bool]:
        now = self.clock.now()
        ids = [m.id for m in messages if m.id is not None]
        async with self.sessions() as session, session.begin():
            if self._dialect != "sqlite":
                # The row first (PostgreSQL, READ COMMITTED): a delivery holding it (its message
                # inserted, the marker set) is waited for here, so the UPDATE below takes its snapshot
                # after that commit and counts the message. Waiting inside the UPDATE instead would
                # re-check the row but keep the snapshot taken before the wait, and clear the marker
                # of a message it never saw. `FOR NO KEY UPDATE`, as in `_read_turn`.
                await session.execute(_LOCK_CONVERSATION, {"b_conversation_id": conversation_id})
            # Fenced in the statement that counts the turn (`_COUNT_TURN`): refused unless this
            # worker still holds the lease.
            counted = {
                "b_conversation_id": conversation_id,
                "b_owner": self.worker_id,
                "b_ids": ids,
                "b_at": now,
                "b_language": state.get("language") or None,
                "b_flow": state.get("flow") or None,
            }
            # On PostgreSQL the messages are marked consumed by the same statement.
            joined = self._dialect != "sqlite"
            row = (
                await session.execute(_COUNT_AND_CONSUME if joined else _COUNT_TURN, counted)
            ).one_or_none()
            if row is None:
                # Fenced: our lease lapsed and another worker took the conversation.
                raise TurnRefused(f"the lease is no longer held by {self.worker_id}")
            behind, turn = bool(row.behind), int(row.turns)
            if joined:
                consumed = int(row.consumed)
            else:
                consumed = await mark_consumed(session, message_ids=ids, turn=turn, at=now)
            if consumed != len(messages):
                raise TurnRefused(f"{len(messages) - consumed} of the turn's messages were already processed")
            if stage is not None and self.saver is not None:
                # Past the fence: the graph's state goes with the turn, in this transaction.
                await self.saver.flush(session, stage)
            for signal in state.get("signals", []):
                await log_event(
                    session,
                    conversation_id=conversation_id,
                    type=EventType.SIGNAL,
                    source="sentinel",
                    description=f"{signal.get('kind')} ({signal.get('score')}): {signal.get('evidence')}",
                    at=now,
                    details=signal,
                )
            for event in state.get("events", []):
                await log_event(
                    session,
                    conversation_id=conversation_id,
                    type=EventType(event.get("type", EventType.BOT_REPLY)),
                    source=str(event.get("agent", "bot")),
                    description=str(event.get("description", "")),
                    at=now,
                    details=event.get("details"),
                )
            outcome = TurnOutcome(
                conversation_id=conversation_id, turn=turn, llm_calls=llm_calls, behind=behind
            )
            for item in state.get("outgoing", []):
                reply = await queue_outgoing(
                    session,
                    conversation_id=conversation_id,
                    payload=build_payload(contact, item),
                    sender_type="bot",
                    sender_id=item.get("agent"),
                    at=now,
                    claimed_until=self._claim_until(session, outcome, now),
                )
                outcome.claimed += [reply] if reply.status == SendStatus.SENDING else []
            request = state.get("handoff")
            if request is not None:
                outcome.handoff = await self._hand_off(
                    session,
                    conversation=_attached(session, row),
                    contact=contact,
                    request=request,
                    state=state,
                    at=now,
                    llm_calls=llm_calls,
                    outcome=outcome,
                )
            outcome.behind = outcome.behind or queued_unclaimed(session)
            more = bool(row.has_pending)
        return outcome, more

    async def _hand_off(
        self,
        session: AsyncSession,
        *,
        conversation: Conversation,
        contact: Contact,
        request: HandoffRequest,
        state: State,
        at: datetime,
        llm_calls: int = 0,
        outcome: TurnOutcome | None = None,
    ) -> HandoffResult:
        """Hand the conversation to the human side and queue what the customer is told, in the
        caller's transaction (claimed for the turn's `outcome`, when there is one, as its replies)."""
        assert conversation.id is not None
        result = await perform_handoff(
            session,
            config=self.config,
            conversation=conversation,
            contact=contact,
            request=request,
            fields=state.get("fields", {}),
            language=state.get("language") or self.config.default_language,
            llm_calls=state.get("llm_calls", 0) + llm_calls,
            at=at,
        )
        notice = await queue_outgoing(
            session,
            conversation_id=conversation.id,
            payload=build_payload(
                contact, {"kind": "text", "text": result.customer_text, "agent": "handoff"}
            ),
            sender_type="bot",
            sender_id="handoff",
            at=at,
            claimed_until=self._claim_until(session, outcome, at) if outcome is not None else None,
        )
        if outcome is not None and notice.status == SendStatus.SENDING:
            outcome.claimed.append(notice)
        return result

    def _claim_until(self, session: AsyncSession, outcome: TurnOutcome, at: datetime) -> datetime | None:
        """The claim a reply of this turn is written with, so it is sent right after the commit
        without a claim of its own; None (written `pending`, for the claim path) when an earlier
        row of the conversation is still unsent, or this transaction queued one unclaimed."""
        if outcome.behind or queued_unclaimed(session):
            return None
        return at + self.send_claim


@dataclass
class _Leased:
    """What taking a conversation's lease found: whether it was `taken`, its turn's `pending` read
    (None: nothing for the bot), or that it is to be taken `alone` (left out of its group)."""

    taken: bool = False
    pending: _Pending | None = None
    alone: bool = False


@dataclass
class _Pending:
    """What a turn is about to run on, read with the lease or after the previous commit."""

    conversation: Conversation
    contact: Contact
    messages: list[Message]
    hand_back: HandBack | None
    checkpoint: CheckpointTuple | None = None  # the stored checkpoint, when read with the rest
    checkpoint_read: bool = False


def _attached(session: AsyncSession, row: sa.Row[Any]) -> Conversation:
    """The conversation as `_COUNT_TURN` returned it, in `session` as if loaded there (no SELECT)."""
    return loaded(session, Conversation, {column.key: row._mapping[column.key] for column in _CONVERSATION.c})


def _new_usage() -> LLMUsage:
    return LLMUsage()

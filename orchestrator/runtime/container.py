"""The running service: everything a process needs, started and stopped in one place.

`Service.running(settings, ...)` migrates the database, seeds the configured reps, prepares the
LangGraph checkpointer and the graph (opened at the first turn: `AgentGraph`), builds the Graph API
client, the model client (when configured) and the turn engine, and runs the background loop (turn
sweep, timers). The HTTP app, the CLI and the tests all start the service this way, injecting a
clock, a Graph API transport or a model client where they need to.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from handoff.assignment import run_background
from handoff.flows import rehearse_handoff
from handoff.notify import NotificationHub, WebhookSender, install
from handoff.reps import keep_demo_reps_present, seed_reps
from orchestrator.channels.whatsapp.client import GraphClient
from orchestrator.core import heartbeat
from orchestrator.core.aio import LoopLag, being_cancelled, finish_or_cancel
from orchestrator.core.clock import Clock, SystemClock
from orchestrator.core.config import AppConfig, load_config
from orchestrator.core.db import database_unavailable, make_engine, make_sessionmaker
from orchestrator.core.enums import Presence
from orchestrator.core.heap import settle
from orchestrator.core.heartbeat import Me
from orchestrator.core.settings import Settings
from orchestrator.inbox import InboxWriter, Take
from orchestrator.media import MediaFetcher
from orchestrator.migrations import run_migrations
from orchestrator.outbox import Dispatcher
from orchestrator.runtime.graph import AgentGraph
from orchestrator.runtime.retention import prune
from orchestrator.runtime.turns import TurnEngine, TurnOutcome
from orchestrator.runtime.wakeup import CHANNEL, STOP_PASS_S, InboxListener

# Advisory lock keys (PostgreSQL): 727274 migrations, 727275 the checkpointer's setup.
RETENTION_LOCK = 727276

if TYPE_CHECKING:  # the model client (and openai) load only when a model is configured
    from agents.llm import LLMClient

log = structlog.get_logger(__name__)


@dataclass
class Service:
    settings: Settings
    config: AppConfig
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    graph: AgentGraph
    client: GraphClient
    turns: TurnEngine
    dispatcher: Dispatcher
    # The webhook's writer: an acknowledge-only process wakes its workers with each write that
    # stored new items (PostgreSQL delivers the NOTIFY at its commit).
    inbox: InboxWriter
    media: MediaFetcher | None = None
    llm: LLMClient | None = None
    background: list[asyncio.Task[None]] = field(default_factory=list)
    notifier: NotificationHub | None = None
    inbox_listener: InboxListener | None = None
    pruned_at: float | None = None  # monotonic time of the last retention pass
    me: Me | None = None  # this process, as its heartbeat names it (a process with a background loop)
    started_at: datetime | None = None
    loop_lag: LoopLag | None = None  # how late the event loop runs, written with each heartbeat
    stopping: asyncio.Event = field(default_factory=asyncio.Event)  # the background loop's last pass

    @classmethod
    @asynccontextmanager
    async def running(
        cls,
        settings: Settings,
        *,
        config: AppConfig | None = None,
        clock: Clock | None = None,
        graph_transport: httpx.AsyncBaseTransport | None = None,
        llm: LLMClient | None = None,
        migrate: bool = True,
        on_outcome: Callable[[TurnOutcome], None] | None = None,
        freeze_heap: bool = False,
        warm_graph: bool = False,
        role: str = "api",
        beats: bool = False,
    ) -> AsyncIterator[Service]:
        config = config or load_config(settings.config)
        clock = clock or SystemClock()
        if migrate:
            await asyncio.to_thread(run_migrations, settings.database_url)
        engine = make_engine(settings.database_url, echo=settings.sql_echo)
        sessions = make_sessionmaker(engine)
        async with sessions() as session, session.begin():
            # The configured reps are created offline in a deployment: present once they sign in
            # and their page beats, so no customer is assigned to someone who is not there. A trial
            # run (and the tests) starts with the demo team present.
            present = settings.dev_mode or settings.demo_presence
            await seed_reps(
                session,
                config=config,
                at=clock.now(),
                presence=Presence.ONLINE if present else Presence.OFFLINE,
            )
        owns_llm = llm is None
        if llm is None and settings.llm_enabled:
            from agents.llm import client_from_settings

            assert settings.openai_api_key is not None
            llm = client_from_settings(
                api_key=settings.openai_api_key.get_secret_value(),
                base_url=settings.openai_base_url,
                model=settings.llm_model,
                timeout=settings.llm_timeout_s,
            )
        client = GraphClient(
            base_url=settings.whatsapp_api_url,
            phone_number_id=settings.whatsapp_phone_number_id,
            access_token=settings.whatsapp_access_token.get_secret_value(),
            api_version=settings.whatsapp_api_version,
            transport=graph_transport,
        )
        # Live notifications: committed context-log events to SSE subscribers (and other processes'
        # commits through PostgreSQL LISTEN/NOTIFY), optionally to a signed outbound webhook.
        notifier = NotificationHub(
            database_url=settings.database_url,
            webhook=WebhookSender(
                url=settings.notify_webhook_url,
                secret=settings.notify_webhook_secret.get_secret_value(),
            )
            if settings.notify_webhook_url and settings.notify_webhook_secret
            else None,
        )
        install(sessions, notifier)
        try:
            await notifier.start()
            # The graph and its checkpointer open at the first turn (LangGraph is most of the memory),
            # or right after startup in a process's own service that runs turns (`warm_graph`);
            # on SQLite its checkpoints go through this engine, in the turns' transactions.
            async with contextlib.aclosing(
                AgentGraph(settings.database_url, engine=engine, freeze_heap=freeze_heap)
            ) as graph:
                turns = TurnEngine(
                    sessions=sessions,
                    graph=graph,
                    config=config,
                    client=client,
                    clock=clock,
                    llm=llm,
                    burst_window_s=settings.burst_window_s,
                    burst_quiet_s=settings.burst_quiet_s,
                    on_outcome=on_outcome,
                    lease_s=settings.turn_lease_s,
                    send_claim=timedelta(seconds=settings.send_claim_s),
                    concurrency=settings.turn_concurrency,
                )
                dispatcher = Dispatcher(
                    sessions, client=client, clock=clock, claim=timedelta(seconds=settings.send_claim_s)
                )
                inbox = InboxWriter(engine, notify=None if settings.run_turns else CHANNEL)
                service = cls(
                    settings,
                    config,
                    clock,
                    engine,
                    sessions,
                    graph,
                    client,
                    turns,
                    dispatcher,
                    inbox,
                    llm=llm,
                )
                service.notifier = notifier
                service.media = media = MediaFetcher(
                    sessions=sessions,
                    client=client,
                    clock=clock,
                    max_bytes=settings.media_max_bytes,
                    max_attempts=settings.media_fetch_attempts,
                )
                if settings.run_background:
                    service.background.append(asyncio.create_task(service._background_loop()))
                if settings.run_background or beats:
                    # A process with a background loop beats; so does every `handoff serve` process
                    # (`beats`), acknowledge-only ones too, for `handoff alive --role api`.
                    service.me = Me.here(
                        role=role, runs_turns=settings.run_turns, interval_s=settings.timer_interval_s
                    )
                    service.started_at = clock.now()
                    service.loop_lag = LoopLag()
                    service.background.append(
                        asyncio.create_task(service.loop_lag.run(until=service.stopping))
                    )
                    service.background.append(asyncio.create_task(service._heartbeat_loop()))
                if settings.is_postgres and settings.run_turns:
                    # Deliveries stored by acknowledge-only API processes (`HANDOFF_RUN_TURNS=false`).
                    service.inbox_listener = InboxListener(settings.database_url, service.take_deliveries)
                    await service.inbox_listener.start()
                if freeze_heap:  # what the process holds from here on is not walked by each full pass
                    settle()
                if warm_graph and settings.run_turns:
                    service.background.append(asyncio.create_task(service._warm_graph()))
                try:
                    yield service
                finally:
                    if service.inbox_listener is not None:
                        await service.inbox_listener.stop()
                    # A background pass under way finishes its transactions (bounded) rather than
                    # being cancelled in their middle; the rest is cancelled.
                    service.stopping.set()
                    await finish_or_cancel(service.background, within_s=STOP_PASS_S)
                    await service._forget_me()
                    await inbox.close()
                    await turns.drain()
                    await turns.close()
                    await dispatcher.drain()
                    await dispatcher.close()
                    await media.close()
        finally:
            await notifier.stop()
            await client.aclose()
            if owns_llm and llm is not None:
                await llm.aclose()
            await engine.dispose()

    @property
    def ready(self) -> bool:
        """Whether the process can take a burst at full speed (`GET /readyz`): one that runs turns
        once its graph is loaded. Loading it imports LangGraph and the agents in a thread, a second
        or two of CPU that slows the event loop while it lasts (the GIL): deliveries arriving then
        are still acknowledged, at a p99 several times the loaded process's."""
        return not self.settings.run_turns or self.graph.loaded

    async def _warm_graph(self) -> None:
        """A process's own service loads the graph right after startup rather than at its first
        turn, so the first customers' burst does not share the CPU with the imports. Before it, one
        handoff is rehearsed and rolled back (`handoff.flows.rehearse_handoff`), so the first
        handoffs do not pay for building and compiling the assignment's statements either."""
        started = time.monotonic()
        try:
            await rehearse_handoff(self.sessions, config=self.config, at=self.clock.now())
        except Exception as exc:  # the first real handoffs pay for it instead
            if database_unavailable(exc):
                log.warning("handoff_rehearsal_skipped", error=type(exc).__name__)
            else:  # a bug: with its traceback
                log.exception("handoff_rehearsal_failed")
        else:
            log.info("handoff_rehearsed", seconds=round(time.monotonic() - started, 3))
        started = time.monotonic()
        try:
            await self.graph.get()
        except Exception:  # the first turn loads it again, and fails visibly if it still cannot
            log.exception("graph_load_failed")
            return
        log.info("graph_loaded", seconds=round(time.monotonic() - started, 3))

    async def take_deliveries(self, take: Take = Take.ALL) -> None:
        """Woken by an acknowledge-only API process: apply its deliveries (`take`: those of one kind
        only, `wakeup.InboxListener`), schedule the turns, and fetch the customers' media when a
        message brought some (not a claim read for every text: the background pass covers what a
        crash left)."""
        applied = await self.turns.apply_inbox(take=take)
        if self.media is not None and applied.media:
            await self.media.kick()

    async def tick(self) -> None:
        """One pass of the background work (tests call it directly with a controlled clock)."""
        if self.settings.run_turns:  # an acknowledge-only API process leaves them to the workers
            await self.turns.sweep()
        if self.media is not None:  # customers' media not fetched yet, and failed fetches due again
            await self.media.fetch_due()
        if self.settings.demo_presence:
            async with self.sessions() as session, session.begin():
                await keep_demo_reps_present(session, at=self.clock.now())
        # Presence expiry, durable timers (SLA, offline reps, opening hours), waiting-queue drain.
        await run_background(self.sessions, config=self.config, at=self.clock.now())
        if self.pruned_at is None or time.monotonic() - self.pruned_at >= self.settings.retention_interval_s:
            # Old checkpoints need the graph's checkpointer: pruned from the second pass on (an hour
            # after start by default), or at once where a turn has already loaded the graph, so a
            # process that runs no turn does not load LangGraph at startup just for this.
            first = self.pruned_at is None
            self.pruned_at = time.monotonic()
            async with self._alone(RETENTION_LOCK) as alone:
                if alone:  # one process prunes at a time; the others skip this pass
                    await prune(
                        self.sessions,
                        settings=self.settings,
                        at=self.clock.now(),
                        checkpointer=None
                        if first and not self.graph.loaded
                        else await self.graph.checkpointer(),
                    )

    @contextlib.asynccontextmanager
    async def _alone(self, key: int) -> AsyncIterator[bool]:
        """Whether this process got the PostgreSQL advisory lock `key` (held for the block); always
        True on SQLite, where one process runs everything."""
        if not self.settings.is_postgres:
            yield True
            return
        async with self.engine.connect() as conn:
            got = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
            await conn.commit()
            try:
                yield got
            finally:
                if got:
                    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    await conn.commit()

    async def _background_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                await self.tick()
            except Exception:
                if being_cancelled():  # an error as the pass unwound from a cancellation
                    raise asyncio.CancelledError from None
                log.exception("background_tick_failed")
            await self._pause()

    async def _heartbeat_loop(self) -> None:
        """The process's heartbeat, every `timer_interval_s`, on its own: a background pass that
        takes long (media fetches, retention) does not make a working process look dead."""
        while not self.stopping.is_set():
            try:
                await self._beat()
            except Exception as exc:  # the database is away: the beat is missed, the loop goes on
                if being_cancelled():
                    raise asyncio.CancelledError from None
                log.warning("heartbeat_failed", error=type(exc).__name__)
            await self._pause()

    async def _pause(self) -> None:
        """A background loop's wait for its next pass, cut short when the process stops."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.timer_interval_s):
                await self.stopping.wait()

    async def _beat(self) -> None:
        if self.me is not None and self.started_at is not None:
            await heartbeat.beat(
                self.sessions,
                self.me,
                started_at=self.started_at,
                at=self.clock.now(),
                loop_lag_s=round(self.loop_lag.take_max(), 4) if self.loop_lag is not None else None,
            )

    async def _forget_me(self) -> None:
        if self.me is None:
            return
        try:
            await heartbeat.forget(self.sessions, self.me)
        except Exception as exc:  # stopping while the database is away: the row goes silent instead
            log.warning("heartbeat_forget_failed", error=type(exc).__name__)

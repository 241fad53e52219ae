"""Wiring of the micro-agent graph, and the checkpointer that keeps its state per conversation.

    perceive -> sentinel --handoff--> handover -> END
                         \\-> triage --handoff--> handover
                                     \\-> qualifier --(qualified)--> handover | END
                                     \\-> responder --(unresolved)--> handover | END

Built by `build_graph(checkpointer=...)` so the app, the CLI and the tests inject what they need;
the run-scoped `GraphContext` (configuration, model client, clock) is passed at invoke time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from orchestrator.core.db import make_engine, sqlite_path
from orchestrator.core.heap import settle
from orchestrator.core.state import State

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.runtime import Runtime
    from langgraph.types import StateSnapshot
    from sqlalchemy.ext.asyncio import AsyncEngine

    from orchestrator.core.context import GraphContext
    from orchestrator.runtime.checkpoints import StagedSaver

    Graph = CompiledStateGraph[State, GraphContext, State, State]


def _handoff_or_end(state: State) -> Literal["handover", "__end__"]:
    return "handover" if state.get("handoff") else "__end__"


class Node(Protocol):
    """An agent's step: the state and the run's context in, an update (or a `Command`) out."""

    def __call__(self, state: State, runtime: Runtime[GraphContext]) -> Awaitable[Any]: ...


def _then(node: Node, route: Callable[[State], str], ends: Mapping[str, str] | None = None) -> Node:
    """`node`, then the edge `route` picks from the state it leaves, in the node's own step: the node's
    update and where the graph goes next as one `Command`. A conditional edge would do the same as a
    traced runnable of its own: three of them were about an eighth of a bot turn's graph CPU."""
    from langgraph.types import Command

    async def step(state: State, runtime: Runtime[GraphContext]) -> Any:
        update = await node(state, runtime)
        after = cast(State, {**state, **update})
        chosen = route(after)
        return Command(update=update, goto=ends[chosen] if ends is not None else chosen)

    step.__name__ = step.__qualname__ = getattr(node, "__name__", "step")
    step.__doc__ = node.__doc__
    return step


def build_graph(*, checkpointer: BaseCheckpointSaver[Any] | None) -> Graph:
    # Imported here: LangGraph and the agents are most of a process's memory, loaded at the first turn.
    from langgraph.graph import END, START, StateGraph

    from agents.handover import handover
    from agents.qualifier import qualifier
    from agents.responder import responder
    from agents.sentinel.node import after_sentinel, perceive, sentinel
    from agents.triage import after_triage, triage
    from orchestrator.core.context import GraphContext

    builder = StateGraph(State, context_schema=GraphContext)
    from_sentinel = {"handoff": "handover", "triage": "triage"}
    from_triage = {"handoff": "handover", "qualifier": "qualifier", "responder": "responder"}
    builder.add_node("perceive", perceive)
    builder.add_node(
        "sentinel", _then(sentinel, after_sentinel, from_sentinel), destinations=tuple(from_sentinel.values())
    )
    builder.add_node(
        "triage", _then(triage, after_triage, from_triage), destinations=tuple(from_triage.values())
    )
    builder.add_node("qualifier", _then(qualifier, _handoff_or_end), destinations=("handover", END))
    builder.add_node("responder", _then(responder, _handoff_or_end), destinations=("handover", END))
    builder.add_node("handover", handover)
    builder.add_edge(START, "perceive")
    builder.add_edge("perceive", "sentinel")
    builder.add_edge("handover", END)
    return builder.compile(checkpointer=checkpointer)


def thread_config(conversation_id: int) -> RunnableConfig:
    return {"configurable": {"thread_id": f"conversation-{conversation_id}"}}


@asynccontextmanager
async def open_checkpointer(
    database_url: str, *, engine: AsyncEngine | None = None
) -> AsyncIterator[StagedSaver]:
    """The graph's saver, its writes held during a turn for the turn's commit (`checkpoints`): on
    SQLite through the app's own `engine` (one writer); on PostgreSQL LangGraph's PostgreSQL saver,
    whose statements join the turn's transaction (`pg_checkpoints`) and otherwise use a small pool."""
    from orchestrator.runtime.checkpoints import SessionSaver, StagedSaver  # LangGraph: at the first turn

    if sqlite_path(database_url) is not None:
        own = engine is None
        engine = engine or make_engine(database_url)
        try:
            saver = SessionSaver(engine)
            await saver.setup()
            yield StagedSaver(saver)
        finally:
            if own:
                await engine.dispose()
        return
    from psycopg import AsyncConnection
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    from orchestrator.runtime.pg_checkpoints import SessionTurnSaver

    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=4,  # reads of a conversation's state outside a turn, setup, retention
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    ) as pool:
        pg_saver = SessionTurnSaver(pool)  # type: ignore[arg-type]  # pool rows are dict_row
        # Several processes may start together: set the checkpoint tables up one at a time. The lock
        # is tried, not waited for: a statement waiting on it would hold a snapshot, and the saver's
        # `CREATE INDEX CONCURRENTLY` in the process holding the lock would wait for that snapshot.
        async with await AsyncConnection.connect(conninfo, autocommit=True) as lock_conn:
            while not await _try_lock(lock_conn):  # noqa: ASYNC110 (polls the database)
                await asyncio.sleep(0.05)
            try:
                await pg_saver.setup()
            finally:
                await lock_conn.execute("SELECT pg_advisory_unlock(727275)")
        yield StagedSaver(pg_saver)


def import_agents(*, postgres: bool) -> None:
    """What loading the graph imports: LangGraph, the agents and their lexicons, the checkpointer
    (`AgentGraph.get`, in a thread; `handoff worker --processes N`'s parent, before forking)."""
    import agents.handover
    import agents.qualifier
    import agents.responder
    import agents.sentinel.node
    import agents.triage  # noqa: F401
    import orchestrator.runtime.checkpoints

    if postgres:
        import orchestrator.runtime.pg_checkpoints  # noqa: F401  (LangGraph's PostgreSQL saver)


async def _try_lock(conn: Any) -> bool:
    row = await (await conn.execute("SELECT pg_try_advisory_lock(727275)")).fetchone()
    return bool(row and row[0])


class AgentGraph:
    """The compiled graph and its checkpointer, opened at first use rather than at startup: LangGraph
    (with langchain-core and langsmith) and the agents are about 40 MB and a second of CPU that an
    API process answering only reps never needs. The turn engine and retention reach the graph
    through it; `aclose` closes the checkpointer. The checkpointer is `open_checkpointer`'s
    `StagedSaver` (on SQLite over the app's `engine` when one is given), so a turn's checkpoint is
    held until the turn's commit writes it (`saver`, known once the graph is loaded)."""

    def __init__(
        self, database_url: str, *, engine: AsyncEngine | None = None, freeze_heap: bool = False
    ) -> None:
        self.database_url = database_url
        self.engine = engine
        self.freeze_heap = freeze_heap
        self._graph: Graph | None = None
        self._saver: StagedSaver | None = None
        self._stack = AsyncExitStack()
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return self._graph is not None

    @property
    def saver(self) -> StagedSaver | None:
        """The graph's staged checkpointer; None until the graph is loaded."""
        return self._saver

    async def get(self) -> Graph:
        if self._graph is None:
            async with self._lock:
                if self._graph is None:
                    # The imports take a second of CPU: in a thread, so the event loop goes on
                    # acknowledging webhooks and renewing leases meanwhile.
                    await asyncio.to_thread(import_agents, postgres=sqlite_path(self.database_url) is None)
                    saver = await self._stack.enter_async_context(
                        open_checkpointer(self.database_url, engine=self.engine)
                    )
                    self._graph = build_graph(checkpointer=saver)
                    self._saver = saver
                    if self.freeze_heap:  # LangGraph and the agents, out of the collector's walks
                        settle(collect=False)
        return self._graph

    async def checkpointer(self) -> StagedSaver:
        await self.get()
        assert self._saver is not None
        return self._saver

    async def saved_values(self, config: RunnableConfig) -> dict[str, Any]:
        """The state as last checkpointed (the stored channel values only, without working out the
        graph's next step as `aget_state` does); empty for a new conversation."""
        saved = await (await self.checkpointer()).aget_tuple(config)
        return dict(saved.checkpoint["channel_values"]) if saved is not None else {}

    async def ainvoke(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self.get()).ainvoke(*args, **kwargs)

    async def aget_state(self, config: RunnableConfig) -> StateSnapshot:
        return await (await self.get()).aget_state(config)

    async def aupdate_state(self, config: RunnableConfig, values: dict[str, Any] | Any) -> RunnableConfig:
        return await (await self.get()).aupdate_state(config, values)

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._graph = None
        self._saver = None

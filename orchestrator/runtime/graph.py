"""Wiring of the micro-agent graph, and the checkpointer that keeps its state per conversation.

    perceive -> sentinel --handoff--> handover -> END
                         \\-> triage --handoff--> handover
                                     \\-> qualifier --(qualified)--> handover | END
                                     \\-> responder --(unresolved)--> handover | END

Built by `build_graph(checkpointer=...)` so the app, the CLI and the tests inject what they need;
the run-scoped `GraphContext` (configuration, model client, clock) is passed at invoke time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.handover import handover
from agents.qualifier import qualifier
from agents.responder import responder
from agents.sentinel.node import after_sentinel, perceive, sentinel
from agents.triage import after_triage, triage
from orchestrator.core.context import GraphContext
from orchestrator.core.db import make_engine, sqlite_path
from orchestrator.core.state import State
from orchestrator.runtime.checkpoints import SessionSaver, StagedSaver

Graph = CompiledStateGraph[State, GraphContext, State, State]


async def _handoff_or_end(state: State) -> Literal["handover", "__end__"]:
    return "handover" if state.get("handoff") else "__end__"


def build_graph(*, checkpointer: BaseCheckpointSaver[Any] | None) -> Graph:
    builder = StateGraph(State, context_schema=GraphContext)
    builder.add_node("perceive", perceive)
    builder.add_node("sentinel", sentinel)
    builder.add_node("triage", triage)
    builder.add_node("qualifier", qualifier)
    builder.add_node("responder", responder)
    builder.add_node("handover", handover)
    builder.add_edge(START, "perceive")
    builder.add_edge("perceive", "sentinel")
    builder.add_conditional_edges("sentinel", after_sentinel, {"handoff": "handover", "triage": "triage"})
    builder.add_conditional_edges(
        "triage", after_triage, {"handoff": "handover", "qualifier": "qualifier", "responder": "responder"}
    )
    builder.add_conditional_edges("qualifier", _handoff_or_end)
    builder.add_conditional_edges("responder", _handoff_or_end)
    builder.add_edge("handover", END)
    return builder.compile(checkpointer=checkpointer)


def thread_config(conversation_id: int) -> RunnableConfig:
    return {"configurable": {"thread_id": f"conversation-{conversation_id}"}}


@asynccontextmanager
async def open_checkpointer(
    database_url: str, *, engine: AsyncEngine | None = None
) -> AsyncIterator[StagedSaver]:
    """The graph's saver, its writes held during a turn for the turn's commit (`checkpoints`): on
    SQLite through the app's own `engine` (one writer), on PostgreSQL LangGraph's PostgreSQL saver."""
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
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg import AsyncConnection
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=10,
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    ) as pool:
        pg_saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]  # pool rows are dict_row
        # Several processes may start together: set the checkpoint tables up one at a time.
        async with await AsyncConnection.connect(conninfo, autocommit=True) as lock_conn:
            await lock_conn.execute("SELECT pg_advisory_lock(727275)")
            try:
                await pg_saver.setup()
            finally:
                await lock_conn.execute("SELECT pg_advisory_unlock(727275)")
        yield StagedSaver(pg_saver)

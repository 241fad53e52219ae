"""The graph's checkpoints, written by the turn's own fenced commit.

LangGraph's savers write each checkpoint on their own connection and commit it at once. On SQLite
that is a second writer fighting the app's transactions for the single write lock (`database is
locked` under load); on either database a checkpoint written before the turn's commit survives a
commit the fence refused. So the graph's writes during a turn are held in memory (`staged`), read
back from there while the turn runs, and written by the turn's commit after its fence (`flush`), in
the turn's transaction: the state and the turn commit together or not at all.

- SQLite: `SessionSaver` keeps LangGraph's SQLite checkpoint tables (the same schema as
  `langgraph-checkpoint-sqlite`, so existing checkpoints stay readable) and reads and writes them
  through the app's engine: one writer.
- PostgreSQL: `pg_checkpoints.SessionTurnSaver`, LangGraph's PostgreSQL saver (its schema and
  queries) whose statements join the turn's transaction.

Both read the stored checkpoint a turn starts from in the transaction that takes the turn's lease
(`stored_in`). Writes outside a staged scope (a graph run by a tool, a test) go straight to the saver.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, cast, runtime_checkable

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    get_checkpoint_id,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.sqlite.utils import load_pending_writes, pending_writes_sql, search_where
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from orchestrator.core.db import DEFERRED

# LangGraph's SQLite checkpoint schema (`AsyncSqliteSaver.setup`), unchanged.
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS checkpoints (
        thread_id TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL DEFAULT '',
        checkpoint_id TEXT NOT NULL,
        parent_checkpoint_id TEXT,
        type TEXT,
        checkpoint BLOB,
        metadata BLOB,
        PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
    )""",
    """CREATE TABLE IF NOT EXISTS writes (
        thread_id TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL DEFAULT '',
        checkpoint_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        task_path TEXT NOT NULL DEFAULT '',
        idx INTEGER NOT NULL,
        channel TEXT NOT NULL,
        type TEXT,
        value BLOB,
        PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
    )""",
)
_INSERT_CHECKPOINT = (
    "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
    "parent_checkpoint_id, type, checkpoint, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_WRITES = (
    "INSERT OR {verb} INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, "
    "channel, type, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT = (
    "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata "
    "FROM checkpoints "
)


@dataclass
class _Put:
    config: RunnableConfig
    checkpoint: Checkpoint
    metadata: CheckpointMetadata
    new_versions: ChannelVersions


@dataclass
class _Writes:
    config: RunnableConfig
    writes: Sequence[tuple[str, Any]]
    task_id: str
    task_path: str


@dataclass
class Stage:
    """The graph's writes during one turn, not yet stored, and the stored checkpoint the turn
    started from (read once per turn: the turn holds the conversation's lease, so nothing else
    writes it meanwhile, and a turn whose lease lapsed has its commit refused)."""

    ops: list[_Put | _Writes] = field(default_factory=list)
    stored: dict[tuple[str, str], CheckpointTuple | None] = field(default_factory=dict)

    def preload(self, config: RunnableConfig, stored: CheckpointTuple | None) -> None:
        """The stored latest checkpoint, already read by the caller (in the turn's read transaction)."""
        conf = config["configurable"]
        self.stored[str(conf["thread_id"]), conf.get("checkpoint_ns", "")] = stored

    def latest(self, thread_id: str, checkpoint_ns: str) -> _Put | None:
        for op in reversed(self.ops):
            conf = op.config["configurable"]
            if (
                isinstance(op, _Put)
                and conf["thread_id"] == thread_id
                and conf["checkpoint_ns"] == checkpoint_ns
            ):
                return op
        return None

    def writes_for(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> list[PendingWrite]:
        found: list[PendingWrite] = []
        for op in self.ops:
            conf = op.config["configurable"]
            if (
                isinstance(op, _Writes)
                and conf["thread_id"] == thread_id
                and conf.get("checkpoint_ns", "") == checkpoint_ns
                and conf.get("checkpoint_id") == checkpoint_id
            ):
                found += [(op.task_id, channel, value) for channel, value in op.writes]
        return found


_STAGE: ContextVar[Stage | None] = ContextVar("checkpoint_stage", default=None)


def _saved_config(config: RunnableConfig, checkpoint: Checkpoint) -> RunnableConfig:
    conf = config["configurable"]
    return {
        "configurable": {
            "thread_id": conf["thread_id"],
            "checkpoint_ns": conf.get("checkpoint_ns", ""),
            "checkpoint_id": checkpoint["id"],
        }
    }


@runtime_checkable
class TurnSaver(Protocol):
    """A saver that reads and writes in the caller's transaction (`SessionSaver`, and on PostgreSQL
    `pg_checkpoints.SessionTurnSaver`)."""

    async def get_in(
        self, conn: AsyncConnection | AsyncSession, config: RunnableConfig
    ) -> CheckpointTuple | None: ...

    async def put_in(
        self,
        conn: AsyncConnection | AsyncSession,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> None: ...

    async def put_writes_in(
        self,
        conn: AsyncConnection | AsyncSession,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None: ...


class SessionSaver(BaseCheckpointSaver[str]):
    """LangGraph checkpoints in the app's SQLite database, read and written through the app's engine
    (writes in the caller's session when it gives one). Reads use a deferred transaction, which in
    WAL mode never waits for the writer."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self.engine = engine

    async def setup(self) -> None:
        async with self.engine.begin() as conn:
            for ddl in _SCHEMA:
                await conn.exec_driver_sql(ddl)

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            await conn.execution_options(**DEFERRED)
            yield conn

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        async with self._reading() as conn:
            return await self.get_in(conn, config)

    async def get_in(
        self, conn: AsyncConnection | AsyncSession, config: RunnableConfig
    ) -> CheckpointTuple | None:
        """`aget_tuple` in the caller's transaction (the turn reads the stored checkpoint in the
        transaction that takes the lease, not in one of its own)."""
        conf = config["configurable"]
        thread_id, ns = str(conf["thread_id"]), conf.get("checkpoint_ns", "")
        connection = await _connection(conn)
        if checkpoint_id := get_checkpoint_id(config):
            result = await connection.exec_driver_sql(
                _SELECT + "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                (thread_id, ns, checkpoint_id),
            )
        else:
            result = await connection.exec_driver_sql(
                _SELECT + "WHERE thread_id = ? AND checkpoint_ns = ? ORDER BY checkpoint_id DESC LIMIT 1",
                (thread_id, ns),
            )
        row = result.first()
        if row is None:
            return None
        values: tuple[Any, ...] = tuple(row)
        writes = await connection.exec_driver_sql(pending_writes_sql(True), (thread_id, ns, values[2]))
        return self._tuple(values, list(writes))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        where, params = search_where(config, filter, before)
        query = _SELECT + where + " ORDER BY checkpoint_id DESC"
        if limit is not None:
            query += " LIMIT ?"
            params = (*params, limit)
        async with self._reading() as conn:
            rows: list[tuple[Any, ...]] = [tuple(r) for r in await conn.exec_driver_sql(query, tuple(params))]
            found = []
            for row in rows:
                writes = await conn.exec_driver_sql(pending_writes_sql(True), row[:3])
                found.append(self._tuple(row, list(writes)))
        for item in found:
            yield item

    def _tuple(self, row: tuple[Any, ...], writes: list[Any]) -> CheckpointTuple:
        thread_id, ns, checkpoint_id, parent_id, type_, checkpoint, metadata = row
        return CheckpointTuple(
            {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}},
            self.serde.loads_typed((type_, checkpoint)),
            cast(CheckpointMetadata, json.loads(metadata) if metadata is not None else {}),
            {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": parent_id}}
            if parent_id
            else None,
            load_pending_writes(writes, self.serde),
        )

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        async with self.engine.begin() as conn:
            await self.put_in(conn, config, checkpoint, metadata)
        return _saved_config(config, checkpoint)

    async def put_in(
        self,
        conn: AsyncConnection | AsyncSession,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions | None = None,
    ) -> None:
        conf = config["configurable"]
        type_, blob = self.serde.dumps_typed(checkpoint)
        meta = json.dumps(get_checkpoint_metadata(config, metadata), ensure_ascii=False)
        await (await _connection(conn)).exec_driver_sql(
            _INSERT_CHECKPOINT,
            (
                str(conf["thread_id"]),
                conf.get("checkpoint_ns", ""),
                checkpoint["id"],
                conf.get("checkpoint_id"),
                type_,
                blob,
                meta.encode("utf-8", "ignore"),
            ),
        )

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        async with self.engine.begin() as conn:
            await self.put_writes_in(conn, config, writes, task_id, task_path)

    async def put_writes_in(
        self,
        conn: AsyncConnection | AsyncSession,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        if not writes:
            return
        conf = config["configurable"]
        verb = "REPLACE" if all(w[0] in WRITES_IDX_MAP for w in writes) else "IGNORE"
        rows = [
            (
                str(conf["thread_id"]),
                str(conf.get("checkpoint_ns", "")),
                str(conf["checkpoint_id"]),
                task_id,
                task_path,
                WRITES_IDX_MAP.get(channel, idx),
                channel,
                *self.serde.dumps_typed(value),
            )
            for idx, (channel, value) in enumerate(writes)
        ]
        await (await _connection(conn)).exec_driver_sql(_INSERT_WRITES.format(verb=verb), rows)

    async def adelete_thread(self, thread_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.exec_driver_sql("DELETE FROM checkpoints WHERE thread_id = ?", (str(thread_id),))
            await conn.exec_driver_sql("DELETE FROM writes WHERE thread_id = ?", (str(thread_id),))

    def get_next_version(self, current: str | None, channel: None) -> str:
        # LangGraph's SQLite saver's versions, so checkpoints written by either compare.
        current_v = 0 if current is None else int(str(current).split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"


async def _connection(conn: AsyncConnection | AsyncSession) -> AsyncConnection:
    """The connection itself, or the session's (in its transaction)."""
    return conn if isinstance(conn, AsyncConnection) else await conn.connection()


class StagedSaver(BaseCheckpointSaver[Any]):
    """A saver whose writes inside `staged()` wait for `flush` (the turn's commit); reads see them."""

    def __init__(self, inner: BaseCheckpointSaver[Any]) -> None:
        if not isinstance(inner, TurnSaver):
            raise TypeError("a staged saver writes in the turn's transaction: its saver must be a TurnSaver")
        super().__init__(serde=inner.serde)
        self.inner = inner
        self._turn: TurnSaver = inner

    @asynccontextmanager
    async def staged(self) -> AsyncIterator[Stage]:
        stage = Stage()
        token = _STAGE.set(stage)
        try:
            yield stage
        finally:
            _STAGE.reset(token)

    async def stored_in(self, session: AsyncSession, config: RunnableConfig) -> CheckpointTuple | None:
        """The stored latest checkpoint, read in the caller's transaction."""
        return await self._turn.get_in(session, config)

    async def flush(self, session: AsyncSession, stage: Stage) -> None:
        """Store what the graph wrote during the stage, in the caller's transaction."""
        for op in stage.ops:
            if isinstance(op, _Put):
                await self._turn.put_in(session, op.config, op.checkpoint, op.metadata, op.new_versions)
            else:
                await self._turn.put_writes_in(session, op.config, op.writes, op.task_id, op.task_path)
        stage.ops.clear()
        stage.stored.clear()

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        stage = _STAGE.get()
        if stage is not None:
            conf = config["configurable"]
            thread_id, ns = str(conf["thread_id"]), conf.get("checkpoint_ns", "")
            put = stage.latest(thread_id, ns)
            wanted = get_checkpoint_id(config)
            if put is not None and (wanted is None or wanted == put.checkpoint["id"]):
                saved = _saved_config(put.config, put.checkpoint)
                parent = put.config["configurable"].get("checkpoint_id")
                return CheckpointTuple(
                    saved,
                    put.checkpoint,
                    get_checkpoint_metadata(put.config, put.metadata),
                    {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": parent}}
                    if parent
                    else None,
                    stage.writes_for(thread_id, ns, put.checkpoint["id"]),
                )
            if wanted is None:  # the latest: the turn's replay check and the graph's run read it
                if (thread_id, ns) not in stage.stored:
                    stage.stored[thread_id, ns] = await self.inner.aget_tuple(config)
                return stage.stored[thread_id, ns]
        return await self.inner.aget_tuple(config)

    def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        return self.inner.alist(config, filter=filter, before=before, limit=limit)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        stage = _STAGE.get()
        if stage is None:
            return await self.inner.aput(config, checkpoint, metadata, new_versions)
        stage.ops.append(_Put(config, checkpoint, metadata, new_versions))
        return _saved_config(config, checkpoint)

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        stage = _STAGE.get()
        if stage is None:
            await self.inner.aput_writes(config, writes, task_id, task_path)
            return
        stage.ops.append(_Writes(config, list(writes), task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        await self.inner.adelete_thread(thread_id)

    def get_next_version(self, current: Any, channel: None) -> Any:
        return self.inner.get_next_version(current, channel)

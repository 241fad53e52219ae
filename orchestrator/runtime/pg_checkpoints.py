"""LangGraph's PostgreSQL checkpoints, read and written on the turn's own connection.

`SessionTurnSaver` is LangGraph's `AsyncPostgresSaver` (its schema, encoding, migrations and
queries, unchanged) whose cursor, inside `on(session)`, is a cursor of the connection that holds
the caller's transaction instead of one of its own pool's. So on PostgreSQL, as on SQLite, a turn
reads its stored checkpoint in the transaction that takes its lease, and writes the new one in its
fenced commit: the state and the turn are committed together or not at all, and a turn never waits
for the saver's process-wide lock or a connection of the saver's pool. Outside `on` (the API's
reads of a conversation's state, setup, retention) the saver uses its pool as LangGraph's does.

Imported only on PostgreSQL (it needs `langgraph-checkpoint-postgres` and psycopg).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from psycopg import AsyncConnection as PgConnection
from psycopg import AsyncCursor
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

# A turn's changed channel values (LangGraph's `UPSERT_CHECKPOINT_BLOBS_SQL`, one row per value, from
# arrays) and its checkpoint row (LangGraph's own `UPSERT_CHECKPOINTS_SQL`) in one statement: one
# round trip, where `aput`'s `executemany` of the values enters the driver's pipeline mode and waits
# for its sync before the checkpoint's own statement.
_UPSERT_BLOBS_AND_CHECKPOINT = """
    WITH blobs AS (
        INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
        SELECT %s, %s, channel, version, type, blob
        FROM unnest(%s::text[], %s::text[], %s::text[], %s::bytea[]) AS v(channel, version, type, blob)
        ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING
    )
    {checkpoint}"""

# The psycopg connection of the transaction the saver's statements join (None: its own pool).
_JOINED: ContextVar[PgConnection[Any] | None] = ContextVar("checkpoint_connection", default=None)


async def _driver_connection(conn: AsyncConnection | AsyncSession) -> PgConnection[Any]:
    """The psycopg connection under a SQLAlchemy session or connection, in its transaction."""
    connection = conn if isinstance(conn, AsyncConnection) else await conn.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, PgConnection), "PostgreSQL through psycopg"
    return driver


class SessionTurnSaver(AsyncPostgresSaver):
    """`AsyncPostgresSaver` whose statements run in the caller's transaction inside `on`."""

    @contextmanager
    def _joined(self, driver: PgConnection[Any]) -> Iterator[None]:
        token = _JOINED.set(driver)
        try:
            yield
        finally:
            _JOINED.reset(token)

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[AsyncCursor[DictRow]]:
        driver = _JOINED.get()
        if driver is None:
            async with super()._cursor(pipeline=pipeline) as cur:
                yield cur
            return
        # The caller's transaction: its statements are already in order (one task, awaited in
        # turn), so neither the saver's lock nor a pipeline is needed; `executemany` batches itself.
        async with driver.cursor(binary=True, row_factory=dict_row) as cur:
            yield cur

    async def get_in(
        self, conn: AsyncConnection | AsyncSession, config: RunnableConfig
    ) -> CheckpointTuple | None:
        """`aget_tuple` in the caller's transaction."""
        with self._joined(await _driver_connection(conn)):
            return await self.aget_tuple(config)

    async def put_in(
        self,
        conn: AsyncConnection | AsyncSession,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> None:
        """`aput` in the caller's transaction, the same rows `aput` writes, in one statement
        (`_UPSERT_BLOBS_AND_CHECKPOINT`), with the channel values encoded on the event loop: `aput`
        encodes them in a thread (`asyncio.to_thread`), whose hand-over costs more than encoding a
        turn's few small values (about 0.1 ms of CPU a turn). `tests/test_pg_checkpoints.py` checks
        that both write the same rows."""
        with self._joined(await _driver_connection(conn)):
            configurable = config["configurable"]
            thread_id, checkpoint_ns = configurable["thread_id"], configurable["checkpoint_ns"]
            row = checkpoint.copy()
            inline = row["channel_values"] = dict(checkpoint["channel_values"])
            blobs: dict[str, Any] = {}
            for key, value in checkpoint["channel_values"].items():
                if isinstance(value, _DeltaSnapshot):
                    blobs[key] = inline.pop(key)
                    inline[key] = True
                elif not (value is None or isinstance(value, (str, int, float, bool))):
                    blobs[key] = inline.pop(key)
            versions = {k: v for k, v in new_versions.items() if k in blobs}
            dumped = self._dump_blobs(thread_id, checkpoint_ns, blobs, versions)
            columns = list(zip(*dumped, strict=True)) if dumped else [(), (), (), (), (), ()]
            async with self._cursor() as cur:
                await cur.execute(
                    _UPSERT_BLOBS_AND_CHECKPOINT.format(checkpoint=self.UPSERT_CHECKPOINTS_SQL),
                    (
                        thread_id,
                        checkpoint_ns,
                        *(list(values) for values in columns[2:]),
                        thread_id,
                        checkpoint_ns,
                        checkpoint["id"],
                        configurable.get("checkpoint_id"),
                        Jsonb(row),
                        Jsonb(get_serializable_checkpoint_metadata(config, metadata)),
                    ),
                )

    async def put_writes_in(
        self,
        conn: AsyncConnection | AsyncSession,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """`aput_writes` in the caller's transaction."""
        with self._joined(await _driver_connection(conn)):
            await self.aput_writes(config, writes, task_id, task_path)

"""The turn's checkpoint write on PostgreSQL (`SessionTurnSaver.put_in`, which encodes on the event
loop in the turn's transaction) stores exactly the rows LangGraph's own `AsyncPostgresSaver.aput`
stores for the same checkpoint, and reads back the same: a newer LangGraph that changes what `aput`
writes fails here rather than leaving the two apart."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from psycopg.rows import dict_row

from orchestrator.core.db import make_engine, make_sessionmaker
from orchestrator.runtime.graph import open_checkpointer
from orchestrator.runtime.pg_checkpoints import SessionTurnSaver

pytestmark = pytest.mark.postgres


def _checkpoint(checkpoint_id: str, version: int) -> Any:
    checkpoint = empty_checkpoint()
    checkpoint["id"] = checkpoint_id
    checkpoint["channel_values"] = {
        "language": "es",  # primitives stay inline in the checkpoint row
        "turn": 3,
        "handoff": None,
        "qualified": True,
        "incoming": [{"id": 7, "kind": "text", "text": "hola", "reply_id": None, "reply_title": None}],
        "fields": {"company": {"value": "Initech", "message_id": 7, "evidence": None, "source": "rules"}},
        "transcript": _DeltaSnapshot(["customer: hola", "bot: ¡Hola!"]),
        "outgoing": [],
    }
    checkpoint["channel_versions"] = dict.fromkeys(checkpoint["channel_values"], f"{version:032}.{0.5:016}")
    return checkpoint


async def _rows(conninfo: str, thread_id: str) -> dict[str, list[dict[str, Any]]]:
    async with await psycopg.AsyncConnection.connect(conninfo, row_factory=dict_row) as conn:
        blobs = await conn.execute(
            "SELECT checkpoint_ns, channel, version, type, blob FROM checkpoint_blobs"
            " WHERE thread_id = %s ORDER BY channel, version",
            (thread_id,),
        )
        found = await blobs.fetchall()
        rows = await conn.execute(
            "SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata FROM checkpoints"
            " WHERE thread_id = %s ORDER BY checkpoint_id",
            (thread_id,),
        )
        return {"blobs": found, "checkpoints": await rows.fetchall()}


async def test_the_turns_checkpoint_write_stores_the_rows_langgraphs_own_write_stores(
    postgres_url: str,
) -> None:
    conninfo = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    engine = make_engine(postgres_url)
    sessions = make_sessionmaker(engine)
    try:
        async with open_checkpointer(postgres_url) as staged:
            saver = staged.inner
            assert isinstance(saver, SessionTurnSaver)
            steps = (("1ef-a", None), ("1ef-b", "1ef-a"), ("1ef-c", "1ef-b"))
            for version, (checkpoint_id, parent) in enumerate(steps, start=1):
                checkpoint = _checkpoint(checkpoint_id, version)
                versions = dict(checkpoint["channel_versions"])
                if version == 3:  # a step that changed only values kept inline: no blob rows
                    versions = {k: versions[k] for k in ("language", "turn")}
                    earlier = _checkpoint(checkpoint_id, 2)["channel_versions"]
                    checkpoint["channel_versions"] = {**earlier, **versions}
                metadata: Any = {"source": "loop", "step": 2, "parents": {}, "run_id": "r-1"}
                for thread_id, joined in (("ours", True), ("langgraph", False)):
                    config: Any = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
                    if parent is not None:
                        config["configurable"]["checkpoint_id"] = parent
                    if joined:
                        async with sessions() as session, session.begin():
                            await saver.put_in(session, config, checkpoint, metadata, versions)
                    else:
                        await saver.aput(config, checkpoint, metadata, versions)

            ours, theirs = await _rows(conninfo, "ours"), await _rows(conninfo, "langgraph")
            assert len(ours["blobs"]) == 8
            assert len(ours["checkpoints"]) == 3
            assert ours == theirs

            read: dict[str, Any] = {}
            for thread_id in ("ours", "langgraph"):
                found = await saver.aget_tuple(
                    {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
                )
                assert found is not None
                read[thread_id] = (
                    found.checkpoint,
                    found.metadata,
                    found.parent_config["configurable"]["checkpoint_id"] if found.parent_config else None,
                )
            assert read["ours"] == read["langgraph"]
            assert read["ours"][0]["channel_values"]["fields"]["company"]["value"] == "Initech"
            assert read["ours"][2] == "1ef-b"
    finally:
        await engine.dispose()

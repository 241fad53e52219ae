"""JSON columns are written and read by orjson (`orchestrator.core.jsontext`): non-ASCII text is
stored as it is (not as `\\uXXXX` escapes), what orjson refuses falls back to the standard library,
and what a turn stores reads back the same on either database."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select
from sqlmodel import col

from orchestrator.core import jsontext
from orchestrator.core.enums import Direction
from orchestrator.core.tables import Message
from tests.factories import say, text
from tests.fakes.graph import TestHarness

WORDS = "Olá, quero saber o preço da integração 🙏"


def test_what_orjson_refuses_is_written_and_read_by_the_standard_library() -> None:
    assert jsontext.loads(jsontext.dumps({"n": 2**70, 3: "three"})) == {"n": 2**70, "3": "three"}
    assert math.isnan(jsontext.loads('{"x": NaN}')["x"])
    assert jsontext.loads(b'{"a": [1, 2.5, null, true]}') == {"a": [1, 2.5, None, True]}


async def _inbound(h: TestHarness) -> Message:
    async with h.service.sessions() as session:
        query = select(Message).where(col(Message.direction) == Direction.INBOUND)
        return (await session.execute(query)).scalars().one()


async def test_a_message_payload_keeps_its_text_as_written_on_sqlite(h: TestHarness) -> None:
    assert await say(h, text("12025550701", WORDS, h.clock.now()))
    message = await _inbound(h)
    assert message.payload is not None
    assert message.payload["message"]["text"]["body"] == WORDS
    async with h.service.engine.connect() as conn:
        raw = (
            await conn.exec_driver_sql("SELECT payload FROM message WHERE id = ?", (message.id,))
        ).scalar_one()
    assert WORDS in raw, raw  # not "Ol\\u00e1, ..."


@pytest.mark.postgres
async def test_a_message_payload_reads_back_the_same_on_postgres(pg_h: TestHarness) -> None:
    assert await say(pg_h, text("12025550702", WORDS, pg_h.clock.now()))
    message = await _inbound(pg_h)
    assert message.payload is not None
    assert message.payload["message"]["text"]["body"] == WORDS

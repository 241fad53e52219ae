"""Reading a conversation costs the same however long it is: `GET /api/conversations/{id}` answers
a page of the transcript (the latest messages, with a cursor for the earlier ones), the context log
over the time that page covers, and a fixed number of statements; following the cursor gives every
message and every event exactly once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import col

from orchestrator.core.tables import Contact, Conversation
from tests.api.helpers import bearer, seed_conversation
from tests.factories import counting, say, text
from tests.fakes.graph import TestHarness


async def customer_writes(h: TestHarness, conversation_id: int, count: int, *, start: int = 0) -> None:
    """`count` customer messages through the webhook (the conversation is with a rep: no bot turn)."""
    async with h.service.sessions() as session:
        wa = (
            await session.execute(
                select(col(Contact.wa_id))
                .join(Conversation, col(Conversation.contact_id) == col(Contact.id))
                .where(col(Conversation.id) == conversation_id)
            )
        ).scalar_one()
    assert wa is not None
    for n in range(start, start + count):
        assert await say(h, text(wa, f"customer message {n:04d}", h.clock.now())) == []


async def read(h: TestHarness, conversation_id: int, **params: Any) -> tuple[dict[str, Any], int, int]:
    """(body, bytes, statements) of one detail request as the owning rep."""
    with counting(h) as statements:
        response = await h.http.get(
            f"/api/conversations/{conversation_id}", params=params, headers=bearer("tara")
        )
    assert response.status_code == 200, response.text
    return response.json(), len(response.content), len(statements)


async def test_reading_a_conversation_costs_the_same_at_10_and_200_messages(h: TestHarness) -> None:
    short = await seed_conversation(h, "tara_support", name="Short Talk")
    long = await seed_conversation(h, "tara_support", name="Long Talk0")
    await customer_writes(h, short, 9)  # + the seeded message: 10
    await customer_writes(h, long, 199)
    short_body, short_bytes, short_statements = await read(h, short, limit=5)
    long_body, long_bytes, long_statements = await read(h, long, limit=5)
    assert len(short_body["messages"]) == len(long_body["messages"]) == 5
    assert long_body["messages"][-1]["text"] == "customer message 0198"
    assert long_statements == short_statements
    # The same page shape: only the digits of the ids differ.
    assert abs(long_bytes - short_bytes) <= 0.05 * short_bytes, (short_bytes, long_bytes)


async def test_following_the_cursor_gives_every_message_and_event_once(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    await customer_writes(h, conversation_id, 23)
    whole, _, _ = await read(h, conversation_id, limit=200)
    assert whole["earlier_cursor"] is None
    assert len(whole["messages"]) == 24
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 10}
    while True:
        body, _, _ = await read(h, conversation_id, **params)
        pages.append(body)
        if body["earlier_cursor"] is None:
            break
        params["before"] = body["earlier_cursor"]
    assert [len(p["messages"]) for p in pages] == [10, 10, 4]
    walked = [m["id"] for p in reversed(pages) for m in p["messages"]]
    assert walked == [m["id"] for m in whole["messages"]]
    events = [e["id"] for p in reversed(pages) for e in p["events"]]
    assert events == [e["id"] for e in whole["events"]]
    assert {p["handoff_context"]["reason"] for p in pages} == {"menu_selection"}


async def test_a_cursor_never_brings_another_conversations_messages(h: TestHarness) -> None:
    mine = await seed_conversation(h, "tara_support")
    other = await seed_conversation(h, "tara_support")
    await customer_writes(h, other, 5)
    whole, _, _ = await read(h, mine)
    body, _, _ = await read(h, mine, before=10_000)
    assert [m["id"] for m in body["messages"]] == [m["id"] for m in whole["messages"]]
    assert len(body["messages"]) == 1
    assert (
        await h.http.get(f"/api/conversations/{mine}", params={"before": 0}, headers=bearer("tara"))
    ).status_code == 422

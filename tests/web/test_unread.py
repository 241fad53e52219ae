"""Unread state: the customer's messages a rep has not seen, per rep, cleared by opening the
conversation, counted again when the customer writes (through the real webhook)."""

from __future__ import annotations

from sqlmodel import select

from orchestrator.core.tables import Contact, Conversation
from orchestrator.runtime.simulator import build_text_webhook
from tests.api.helpers import bearer, seed_conversation
from tests.fakes.graph import TestHarness
from tests.web.helpers import browser, sign_in


async def customer_writes(h: TestHarness, conversation_id: int, text: str) -> None:
    async with h.service.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        contact = (
            await session.execute(select(Contact).where(Contact.id == conversation.contact_id))
        ).scalar_one()
    h.clock.advance(seconds=30)
    response = await h.post(
        build_text_webhook(
            wa_id=contact.wa_id, message_id=f"wamid.unread.{text}", timestamp=h.clock.now(), text=text
        )
    )
    assert response.status_code == 200
    await h.service.turns.drain()


async def unread_of(h: TestHarness, rep: str) -> dict[int, int]:
    response = await h.http.get("/api/me/unread", headers=bearer(rep))
    assert response.status_code == 200
    return {item["conversation_id"]: item["unread"] for item in response.json()}


async def test_opening_a_conversation_reads_it_for_that_rep_only(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    assert await unread_of(h, "tara") == {conversation_id: 1}
    read = await h.http.post(f"/api/conversations/{conversation_id}/read", headers=bearer("lena"))
    assert read.status_code == 200
    assert await unread_of(h, "tara") == {conversation_id: 1}  # the lead's reading is the lead's
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        listed = (await client.get("/inbox/list?view=unread")).text
        assert f'data-id="{conversation_id}"' in listed
        assert "1 new" in listed
        assert (await client.get(f"/conversations/{conversation_id}")).status_code == 200
        assert await unread_of(h, "tara") == {}
        assert f'data-id="{conversation_id}"' not in (await client.get("/inbox/list?view=unread")).text

        await customer_writes(h, conversation_id, "are you there?")
        await customer_writes(h, conversation_id, "hello??")
        assert await unread_of(h, "tara") == {conversation_id: 2}
        assert "2 new" in (await client.get("/inbox/list")).text


async def test_unread_and_read_follow_the_visibility_rules(h: TestHarness) -> None:
    farahs = await seed_conversation(h, "farah_billing")
    assert farahs not in await unread_of(h, "tara")
    refused = await h.http.post(f"/api/conversations/{farahs}/read", headers=bearer("tara"))
    assert refused.status_code == 404


async def test_inbox_filters_by_reason_and_failed_sends(h: TestHarness) -> None:
    await seed_conversation(h, "tara_support", name="Menu Customer")
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        by_menu = (await client.get("/inbox/list?reason=menu_selection")).text
        assert "Menu Customer" in by_menu
        assert "Menu Customer" not in (await client.get("/inbox/list?reason=frustration")).text
        assert "Menu Customer" not in (await client.get("/inbox/list?failed=1")).text
        page = (await client.get("/inbox?reason=menu_selection&failed=1")).text
        assert 'hx-get="/inbox/list?view=open&amp;reason=menu_selection&amp;failed=1"' in page

"""Search over conversations and contacts (name, number, message text), within what the viewer may
see: the same visibility as the rep API's list, for every role."""

from __future__ import annotations

import re

from orchestrator.core.enums import Direction
from orchestrator.core.tables import Contact, Conversation, Message
from tests.api.helpers import ACTORS, KINDS, VISIBLE, bearer, seed_conversation
from tests.fakes.graph import TestHarness
from tests.web.helpers import browser, sign_in


async def hits(h: TestHarness, actor: str, q: str) -> list[tuple[int, str]]:
    response = await h.http.get("/api/search", params={"q": q}, headers=bearer(actor))
    assert response.status_code == 200, response.text
    return [(hit["conversation"]["id"], hit["matched"]) for hit in response.json()]


async def test_search_finds_by_name_number_and_message_text(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support", name="Beatriz Okonkwo")
    async with h.service.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        contact = await session.get(Contact, conversation.contact_id)
        assert contact is not None
        assert contact.wa_id is not None
    assert await hits(h, "tara", "okonkwo") == [(conversation_id, "name")]
    assert await hits(h, "tara", f"+{contact.wa_id[:1]} {contact.wa_id[1:]}") == [(conversation_id, "number")]
    assert await hits(h, "tara", "help with my ACCOUNT") == [(conversation_id, "message")]
    assert await hits(h, "tara", "100%_off") == []  # wildcards are taken literally


async def test_search_ignores_accents_and_case_on_both_databases(db_h: TestHarness) -> None:
    h = db_h
    lucia = await seed_conversation(h, "tara_support", name="Lucía Gómez")
    jose = await seed_conversation(h, "tara_support", name="JOSÉ MÜLLER")
    assert await hits(h, "tara", "lucia gomez") == [(lucia, "name")]
    assert await hits(h, "tara", "LUCÍA") == [(lucia, "name")]
    assert await hits(h, "tara", "José Müller") == [(jose, "name")]
    assert await hits(h, "tara", "muller") == [(jose, "name")]
    async with h.service.sessions() as session, session.begin():
        conversation = await session.get(Conversation, lucia)
        assert conversation is not None
        session.add(
            Message(
                conversation_id=lucia,
                direction=Direction.INBOUND,
                kind="text",
                sender_type="customer",
                text="¿Podéis ayudarme con la facturación?",
                created_at=h.clock.now(),
                updated_at=h.clock.now(),
            )
        )
    assert await hits(h, "tara", "FACTURACION") == [(lucia, "message")]


async def test_search_shows_each_role_only_what_it_may_see(h: TestHarness) -> None:
    ids = {name: await seed_conversation(h, name, name=f"Zed {name}") for name in KINDS}
    kind_of = {v: k for k, v in ids.items()}
    for actor in ACTORS:
        found = {kind_of[cid] for cid, _ in await hits(h, actor, "Zed")}
        assert found == VISIBLE[actor], actor


async def test_search_page_lists_the_hits(h: TestHarness) -> None:
    mine = await seed_conversation(h, "tara_support", name="Quentin Blake")
    await seed_conversation(h, "farah_billing", name="Quentin Other")
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = await client.get("/search", params={"q": "quentin"})
        assert page.status_code == 200
        assert "1 result for “quentin”" in page.text
        assert f'href="/conversations/{mine}"' in page.text
        assert "Quentin Other" not in page.text


async def test_search_says_whom_each_conversation_is_with_in_words(h: TestHarness) -> None:
    await seed_conversation(h, "tara_support", name="Quentin Blake")
    await seed_conversation(h, "waiting_support", name="Quentin Wait")
    async with browser(h) as client:
        await sign_in(client, "lena", "demo-lena")
        page = (await client.get("/search", params={"q": "quentin"})).text
    owners = re.findall(r'<span class="badge owner owner-\w+">([^<]+)</span>', page)
    assert sorted(owners) == ["waiting for a rep", "with Tara Nguyen"]

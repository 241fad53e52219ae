"""What a customer's message refers to and what an order holds, as a rep reads them: a reaction names
the message it is on, a swiped reply quotes the message it answers, and an order lists its items
and total, in the API and on the conversation page (fixture payloads, retargeted at the bot's own
reply where the test needs a message the conversation holds)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from handoff.api.media import order_out
from orchestrator.channels.whatsapp.inbound import order_of
from orchestrator.core.enums import Direction
from orchestrator.core.tables import Message
from tests.factories import auth, say, text
from tests.fakes.graph import TestHarness
from tests.fixtures import load_fixture
from tests.web.helpers import browser, sign_in

CUSTOMER = "972987654321"  # the sender of the fixtures used here


def _message(payload: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    return message


async def _bot_reply(h: TestHarness) -> Message:
    """The customer greets; the bot's first reply (the welcome menu), with the wamid Meta gave it."""
    await say(h, text(CUSTOMER, "hi", h.clock.now()))
    async with h.service.sessions() as session:
        reply = (
            (
                await session.execute(
                    select(Message).where(col(Message.direction) == "outbound").order_by(col(Message.id))
                )
            )
            .scalars()
            .first()
        )
    assert reply is not None
    assert reply.wa_message_id
    return reply


async def _detail(h: TestHarness, conversation_id: int) -> dict[str, Any]:
    response = await h.http.get(f"/api/conversations/{conversation_id}", headers=auth("demo-admin"))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def _deliver(h: TestHarness, payload: dict[str, Any], wamid: str) -> Message:
    _message(payload)["id"] = wamid
    h.clock.advance(seconds=15)
    assert (await h.post(payload)).status_code == 200
    await h.service.turns.drain()
    async with h.service.sessions() as session:
        stored = (
            await session.execute(select(Message).where(col(Message.wa_message_id) == wamid))
        ).scalar_one()
    return stored


async def _bubble(h: TestHarness, message: Message) -> str:
    async with browser(h) as admin:
        await sign_in(admin, "admin", "demo-admin")
        page = (await admin.get(f"/conversations/{message.conversation_id}")).text
    found = page[page.index(f'id="m-{message.id}"') :]
    return found[: found.index("</footer>")]


async def test_a_reaction_names_the_bot_message_it_is_on(h: TestHarness) -> None:
    reply = await _bot_reply(h)
    payload = load_fixture("inbound_reaction_pywa.json")
    _message(payload)["reaction"]["message_id"] = reply.wa_message_id
    reaction = await _deliver(h, payload, "wamid.reaction.1")

    listed = {m["id"]: m for m in (await _detail(h, reaction.conversation_id))["messages"]}
    assert listed[reaction.id]["reaction"] == "😮"
    ref = listed[reaction.id]["replying_to"]
    assert ref["id"] == reply.id
    assert ref["direction"] == "outbound"
    assert ref["sender_type"] == "bot"
    assert ref["excerpt"].startswith("Hi! I'm the virtual assistant")
    assert len(ref["excerpt"]) <= 120

    bubble = await _bubble(h, reaction)
    assert "Reacted 😮 to “Hi! I&#39;m the virtual assistant" in bubble
    assert "wamid" not in bubble


async def test_a_removed_reaction_says_so_in_the_api_and_on_the_page(h: TestHarness) -> None:
    reply = await _bot_reply(h)
    for name, wamid in (
        ("inbound_reaction_removed_empty_emoji_pywa.json", "wamid.unreact.1"),
        ("inbound_reaction_removed_no_emoji_pywa.json", "wamid.unreact.2"),
    ):
        payload = load_fixture(name)
        _message(payload)["reaction"]["message_id"] = reply.wa_message_id
        removed = await _deliver(h, payload, wamid)
        listed = {m["id"]: m for m in (await _detail(h, removed.conversation_id))["messages"]}
        assert listed[removed.id]["reaction"] == ""
        assert listed[removed.id]["replying_to"]["id"] == reply.id
        assert "Removed their reaction to “Hi! I&#39;m the virtual assistant" in await _bubble(h, removed)
    texts = {m["id"]: m for m in (await _detail(h, reply.conversation_id))["messages"]}
    assert texts[reply.id]["reaction"] is None


async def test_a_swiped_reply_quotes_the_message_it_answers_and_links_to_it(h: TestHarness) -> None:
    reply = await _bot_reply(h)
    payload = load_fixture("inbound_text_reply_context_pywa.json")
    _message(payload)["context"]["id"] = reply.wa_message_id
    answer = await _deliver(h, payload, "wamid.quoting.1")

    listed = {m["id"]: m for m in (await _detail(h, answer.conversation_id))["messages"]}
    assert listed[answer.id]["replying_to"]["id"] == reply.id
    assert listed[answer.id]["text"] == "replied text"

    bubble = await _bubble(h, answer)
    assert f'<a class="quote" dir="auto" href="#m-{reply.id}">↩ “Hi! I&#39;m the virtual assistant' in bubble
    assert "replied text" in bubble


async def test_a_reply_to_a_message_the_service_does_not_hold_quotes_nothing(h: TestHarness) -> None:
    answer = await _deliver(h, load_fixture("inbound_text_reply_context_pywa.json"), "wamid.quoting.2")
    listed = {m["id"]: m for m in (await _detail(h, answer.conversation_id))["messages"]}
    assert listed[answer.id]["replying_to"] is None
    assert 'class="quote"' not in await _bubble(h, answer)


async def test_a_reaction_on_a_message_of_another_conversation_is_not_quoted(h: TestHarness) -> None:
    # Another customer's conversation holds the target: a reaction never reads across conversations.
    await say(h, text("447700900555", "hi", h.clock.now()))
    async with h.service.sessions() as session:
        elsewhere = (
            (await session.execute(select(Message).where(col(Message.direction) == "outbound")))
            .scalars()
            .first()
        )
    assert elsewhere is not None
    assert elsewhere.wa_message_id
    payload = load_fixture("inbound_reaction_pywa.json")
    _message(payload)["reaction"]["message_id"] = elsewhere.wa_message_id
    reaction = await _deliver(h, payload, "wamid.reaction.2")

    listed = {m["id"]: m for m in (await _detail(h, reaction.conversation_id))["messages"]}
    assert listed[reaction.id]["replying_to"] is None
    assert "Reacted 😮 to a message" in await _bubble(h, reaction)


async def test_an_order_lists_its_items_and_total(h: TestHarness) -> None:
    order = await _deliver(h, load_fixture("inbound_order_pywa.json"), "wamid.order.1")

    listed = {m["id"]: m for m in (await _detail(h, order.conversation_id))["messages"]}
    cart = listed[order.id]["order"]
    assert cart["catalog_id"] == "354160437058781"
    assert [(i["product"], i["quantity"], i["price"], i["currency"]) for i in cart["items"]] == [
        ("HAMBURGER", 3, 30.0, "ILS"),
        ("FRENCH_FRIES", 2, 35.0, "ILS"),
        ("SODA", 2, 10.0, "ILS"),
    ]
    assert (cart["total"], cart["currency"]) == (180.0, "ILS")
    assert cart["note"] is None

    bubble = await _bubble(h, order)
    assert "Order from the catalogue · ₪180.00" in bubble
    assert "3 × HAMBURGER" in bubble
    assert "at ₪35.00" in bubble


def test_an_order_with_mixed_currencies_or_odd_values_has_no_total() -> None:
    raw = {
        "type": "order",
        "order": {
            "catalog_id": 7,  # not a string: none
            "text": "for Friday",
            "product_items": [
                {"product_retailer_id": "A", "quantity": 2, "item_price": 3.5, "currency": "EUR"},
                {"product_retailer_id": "B", "quantity": "2", "item_price": float("nan"), "currency": "USD"},
                {"quantity": 1},  # no product: left out
                "junk",
            ],
        },
    }
    order = order_of(raw)
    assert order is not None
    assert order.catalog_id is None
    assert order.note == "for Friday"
    assert [(i.product, i.quantity, i.price, i.currency) for i in order.items] == [
        ("A", 2, 3.5, "EUR"),
        ("B", None, None, "USD"),
    ]
    assert order_of({"type": "text", "text": {"body": "hi"}}) is None

    stored = Message(
        conversation_id=1,
        direction=Direction.INBOUND,
        kind="order",
        sender_type="customer",
        payload={"message": raw},
    )
    out = order_out(stored)
    assert out is not None
    assert (out.total, out.currency) == (None, None)

    one_currency = {
        "type": "order",
        "order": {
            "product_items": [
                {"product_retailer_id": "C", "quantity": 3, "item_price": 0.1, "currency": "EUR"}
            ]
        },
    }
    stored.payload = {"message": one_currency}
    out = order_out(stored)
    assert out is not None
    assert (out.total, out.currency) == (0.3, "EUR")


def test_an_order_is_described_in_one_line_with_what_each_line_has() -> None:
    mixed = order_of(
        {
            "type": "order",
            "order": {
                "text": "for Friday",
                "product_items": [
                    {"product_retailer_id": "A", "quantity": 2, "item_price": 3.5, "currency": "EUR"},
                    {"product_retailer_id": "B", "quantity": "2", "currency": "USD"},
                ],
            },
        }
    )
    assert mixed is not None
    assert mixed.describe() == "2 × A at 3.50 EUR, B; note: for Friday"
    empty = order_of({"type": "order", "order": {}})
    assert empty is not None
    assert empty.describe() == "no items"
    assert (empty.total, empty.currency) == (None, None)

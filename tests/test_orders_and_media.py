"""What the bot does with a message that has no words, at any point of a conversation (fixture
payloads from Meta, sent by the fixtures' customer): an order from the catalogue goes to a person
with its lines in the handoff; a photo, a file, a place or a contact card is acknowledged; a voice
note asks the customer to type; a reaction gets no answer; and during qualification the pending
question is asked again after any of them."""

from __future__ import annotations

from typing import Any

from orchestrator.core.enums import SignalKind
from tests.conftest import service_on
from tests.factories import AD_REFERRAL, auth, say, text
from tests.fakes.graph import FakeGraphAPI, TestHarness
from tests.fixtures import load_fixture
from tests.handoff.conftest import configured

CUSTOMER = "972987654321"  # the sender of the fixtures used here
ORDER_LINES = (
    "3 × HAMBURGER at 30.00 ILS, 2 × FRENCH_FRIES at 35.00 ILS, 2 × SODA at 10.00 ILS; total 180.00 ILS"
)


def _fixture(h: TestHarness, name: str, wamid: str) -> dict[str, Any]:
    """A fixture payload as a new message of now (its own id, the harness clock's time)."""
    payload: dict[str, Any] = load_fixture(name)
    message: dict[str, Any] = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["id"] = wamid
    message["timestamp"] = str(int(h.clock.now().timestamp()) + 15)
    return payload


async def _conversation(h: TestHarness) -> dict[str, Any]:
    listed = (await h.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    assert len(listed) == 1
    detail = await h.http.get(f"/api/conversations/{listed[0]['id']}", headers=auth("demo-admin"))
    assert detail.status_code == 200, detail.text
    data: dict[str, Any] = detail.json()
    return data


def _message(h: TestHarness, name: str) -> str:
    return h.service.config.message(name, "en")


async def test_an_order_in_the_middle_of_a_conversation_goes_to_sales_with_its_lines(h: TestHarness) -> None:
    await say(h, text(CUSTOMER, "hi", h.clock.now()))
    sent = await say(h, _fixture(h, "inbound_order_pywa.json", "wamid.order.1"))

    assert sent[0] == _message(h, "order_received")
    assert len(sent) == 2, "the order's acknowledgement, then where it went"
    conversation = await _conversation(h)
    assert conversation["owner"] in ("queued", "human")
    assert conversation["queue"] == "sales"
    context = conversation["handoff_context"]
    assert context["reason"] == "qualified"
    assert context["summary"].startswith(f"Test Name sent an order: {ORDER_LINES}.")
    signals = context["evidence"]["signals"]
    assert [s["kind"] for s in signals] == ["order"]
    assert signals[0]["evidence"] == ORDER_LINES
    order_message = next(m for m in conversation["messages"] if m["kind"] == "order")
    assert context["evidence"]["message_id"] == order_message["id"]
    assert context["evidence"]["text"] == ORDER_LINES


async def test_a_routing_rule_on_the_order_signal_gives_orders_a_queue_of_their_own(
    sqlite_url: str, fake_graph: FakeGraphAPI, graph_api_url: str
) -> None:
    rules = [{"name": "orders_to_billing", "when": {"signal": [SignalKind.ORDER]}, "queue": "billing"}]
    config = configured(routing={"rules": rules})
    async with service_on(sqlite_url, config, fake_graph, graph_api_url) as h:
        await say(h, text(CUSTOMER, "hi", h.clock.now()))
        await say(h, _fixture(h, "inbound_order_pywa.json", "wamid.order.5"))
        conversation = await _conversation(h)

    assert conversation["queue"] == "billing"
    assert conversation["handoff_context"]["reason"] == "qualified"


async def test_an_order_in_the_same_burst_as_words_is_the_evidence_not_the_words(h: TestHarness) -> None:
    # "hi" and the order are delivered together, so they are one turn.
    hello = text(CUSTOMER, "hi", h.clock.now())
    order = _fixture(h, "inbound_order_pywa.json", "wamid.order.4")
    hello["entry"][0]["changes"][0]["value"]["messages"].extend(
        order["entry"][0]["changes"][0]["value"]["messages"]
    )
    await say(h, hello)

    conversation = await _conversation(h)
    order_message = next(m for m in conversation["messages"] if m["kind"] == "order")
    evidence = conversation["handoff_context"]["evidence"]
    assert (evidence["message_id"], evidence["text"]) == (order_message["id"], ORDER_LINES)
    assert conversation["handoff_context"]["summary"].endswith("Last said: “hi”")


async def test_an_order_as_the_first_message_is_handed_off_without_the_menu(h: TestHarness) -> None:
    sent = await say(h, _fixture(h, "inbound_order_pywa.json", "wamid.order.2"))

    assert sent[0] == _message(h, "order_received")
    assert not any(r["json"]["type"] == "interactive" for r in h.fake_graph.sent)
    assert (await _conversation(h))["handoff_context"]["reason"] == "qualified"


async def test_an_order_note_and_an_ad_leads_company_reach_the_rep(h: TestHarness) -> None:
    await say(h, text(CUSTOMER, "Hi from your ad", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(CUSTOMER, "We're Globex Corporation", h.clock.now()))
    order = _fixture(h, "inbound_order_pywa.json", "wamid.order.3")
    order["entry"][0]["changes"][0]["value"]["messages"][0]["order"]["text"] = "no onions please"
    await say(h, order)

    context = (await _conversation(h))["handoff_context"]
    assert context["fields"]["company_name"]["value"] == "Globex Corporation"
    assert f"{ORDER_LINES}; note: no onions please" in context["summary"]


async def test_a_photo_later_in_a_conversation_is_acknowledged_and_the_bot_keeps_it(h: TestHarness) -> None:
    await say(h, text(CUSTOMER, "hi", h.clock.now()))
    sent = await say(h, _fixture(h, "inbound_image_pywa.json", "wamid.image.2"))

    assert sent == [_message(h, "media_received")]
    assert (await _conversation(h))["owner"] == "bot"


async def test_a_place_and_a_contact_card_later_on_are_acknowledged(h: TestHarness) -> None:
    await say(h, text(CUSTOMER, "hi", h.clock.now()))
    place = await say(h, _fixture(h, "inbound_location_named_pywa.json", "wamid.place.1"))
    card = await say(h, _fixture(h, "inbound_contacts_pywa.json", "wamid.card.1"))

    assert place == [_message(h, "media_received")]
    assert card == [_message(h, "media_received")]


async def test_a_reaction_later_on_gets_no_answer(h: TestHarness) -> None:
    await say(h, text(CUSTOMER, "hi", h.clock.now()))
    sent = await say(h, _fixture(h, "inbound_reaction_pywa.json", "wamid.reaction.2"))

    assert sent == []
    assert (await _conversation(h))["owner"] == "bot"


async def test_a_photo_instead_of_the_company_is_kept_and_the_question_asked_again(h: TestHarness) -> None:
    asked = await say(h, text(CUSTOMER, "Hi from your ad", h.clock.now(), referral=AD_REFERRAL))
    question = asked[-1]
    sent = await say(h, _fixture(h, "inbound_image_pywa.json", "wamid.image.3"))

    assert sent == [_message(h, "media_received"), question]
    conversation = await _conversation(h)
    assert conversation["owner"] == "bot"


async def test_a_voice_note_instead_of_the_company_name_asks_to_type_then_asks_again(h: TestHarness) -> None:
    asked = await say(h, text(CUSTOMER, "Hi from your ad", h.clock.now(), referral=AD_REFERRAL))
    sent = await say(h, _fixture(h, "inbound_audio_voice_pywa.json", "wamid.voice.1"))

    assert sent == [_message(h, "unsupported_message"), asked[-1]]

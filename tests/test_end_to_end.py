"""The two seed workflows end to end through the webhook: an ad lead qualified into sales (a +44
number into UK Account Executives) and a "Support" menu tap into support; the bot pauses on handoff
and the rep who owns the conversation replies through the Graph API."""

from __future__ import annotations

from sqlalchemy import select

from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.enums import EventType
from orchestrator.core.tables import Message
from tests.factories import AD_REFERRAL, auth, button, say, text
from tests.fakes.graph import TestHarness


async def _only_conversation(h: TestHarness, token: str = "demo-admin") -> dict:  # type: ignore[type-arg]
    listed = await h.http.get("/api/conversations", headers=auth(token))
    assert listed.status_code == 200
    assert len(listed.json()) == 1
    detail = await h.http.get(f"/api/conversations/{listed.json()[0]['id']}", headers=auth(token))
    assert detail.status_code == 200
    return detail.json()  # type: ignore[no-any-return]


async def test_ad_lead_is_qualified_into_sales_with_both_fields(h: TestHarness) -> None:
    wa = "12025550142"
    first = await say(
        h, text(wa, "Hi! I saw the ad and want to know more", h.clock.now(), referral=AD_REFERRAL)
    )
    assert any("company" in s.lower() for s in first), first
    second = await say(h, text(wa, "The company is Initech", h.clock.now()))
    assert any("use it for" in s.lower() for s in second), second
    third = await say(h, text(wa, "we want to qualify inbound leads automatically", h.clock.now()))
    conversation = await _only_conversation(h)
    assert conversation["owner"] == "human"
    assert conversation["queue"] == "sales"
    assert conversation["assignee_id"] in {"alice", "bruno", "sam"}
    context = conversation["handoff_context"]
    assert context["reason"] == "qualified"
    assert context["fields"]["company_name"]["value"] == "Initech"
    assert "inbound leads" in context["fields"]["use_case"]["value"]
    assert context["fields"]["company_name"]["message_id"] is not None
    assert context["referral"]["source_id"] == AD_REFERRAL["source_id"]
    assert context["contact"]["country"] == "US"
    assert conversation["assignments"][0]["routing"]["rule"] == "ad_lead_is_sales_bound"
    assert any("reply here shortly" in s for s in third), third


async def test_uk_ad_lead_lands_in_uk_account_executives(h: TestHarness) -> None:
    wa = "447700900555"
    await say(h, text(wa, "hello from the ad", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(wa, "Umbrella Corp", h.clock.now()))
    await say(h, text(wa, "customer support in three countries", h.clock.now()))
    conversation = await _only_conversation(h)
    assert conversation["queue"] == "uk_sales"
    assert conversation["assignee_id"] in {"olivia", "harry", "sam"}
    assert conversation["handoff_context"]["fields"]["company_name"]["value"] == "Umbrella Corp"


async def test_support_button_lands_in_support(h: TestHarness) -> None:
    wa = "447700900777"  # a +44 customer who presses Support still goes to support
    menu = await say(h, text(wa, "Hello", h.clock.now()))
    assert any("[Support]" in s for s in menu), menu
    await say(h, button(wa, "menu_support", "Support", h.clock.now()))
    conversation = await _only_conversation(h)
    assert conversation["queue"] == "support"
    assert conversation["handoff_context"]["reason"] == "menu_selection"
    assert conversation["assignee_id"] in {"tara", "diego", "lena"}


async def test_bot_sends_nothing_once_handed_off(h: TestHarness) -> None:
    wa = "12025550199"
    await say(h, text(wa, "Hello", h.clock.now()))
    await say(h, text(wa, "I want to talk to a human", h.clock.now()))
    after = await say(h, text(wa, "hello? how do I reset my password", h.clock.now()))
    assert after == []
    async with h.service.sessions() as session:
        last = (await session.execute(select(Message).order_by(Message.id.desc()))).scalars().first()  # type: ignore[union-attr]
    assert last is not None
    assert last.status == "for_rep"
    assert last.turn is None


async def test_owner_rep_replies_through_the_graph_api_and_others_cannot(h: TestHarness) -> None:
    wa = "12025550123"
    await say(h, text(wa, "Hi", h.clock.now()))
    await say(h, button(wa, "menu_billing", "Billing", h.clock.now()))
    conversation = await _only_conversation(h)
    owner = conversation["assignee_id"]
    tokens = {"farah": "demo-farah", "marc": "demo-marc"}
    assert owner in tokens
    other = next(rep for rep in tokens if rep != owner)
    before = len(h.fake_graph.sent)
    reply = await h.http.post(
        f"/api/conversations/{conversation['id']}/messages",
        json={"text": "Hi, Farah from Finance here."},
        headers=auth(tokens[owner]),
    )
    assert reply.status_code == 202, reply.text
    assert reply.json()["status"] == "pending"
    await h.service.dispatcher.drain()
    assert h.fake_graph.sent[before]["json"]["to"] == "+" + wa
    # A rep of another department does not even see it.
    hidden = await h.http.get(f"/api/conversations/{conversation['id']}", headers=auth("tara"))
    assert hidden.status_code in (401, 404)
    hidden = await h.http.get(f"/api/conversations/{conversation['id']}", headers=auth("demo-tara"))
    assert hidden.status_code == 404
    # A rep of the same queue who is not the owner sees nothing of a taken conversation either.
    taken = await h.http.post(
        f"/api/conversations/{conversation['id']}/messages",
        json={"text": "me too"},
        headers=auth(tokens[other]),
    )
    assert taken.status_code == 404


async def test_handoff_context_is_in_the_append_only_log(h: TestHarness) -> None:
    wa = "12025550111"
    await say(h, text(wa, "Hello", h.clock.now()))
    await say(h, text(wa, "this is terrible, nothing works", h.clock.now()))
    async with h.service.sessions() as session:
        events = (await session.execute(select(ContextEvent).order_by(ContextEvent.id))).scalars().all()  # type: ignore[arg-type]
    types = [e.type for e in events]
    assert EventType.SIGNAL in types
    assert EventType.HANDOFF in types
    assert EventType.ROUTED in types
    handoff = next(e for e in events if e.type == EventType.HANDOFF)
    assert handoff.details is not None
    assert handoff.details["reason"] == "frustration"
    assert handoff.details["evidence"]["text"] == "this is terrible, nothing works"
    assert handoff.details["version"] == 1

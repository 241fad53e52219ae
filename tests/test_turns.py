"""Turn processing: bursts are one turn, the ownership gate, return to bot with a briefing."""

from __future__ import annotations

from sqlalchemy import select

from handoff.models import Rep
from orchestrator.core.enums import EventType
from orchestrator.core.tables import Conversation, Message
from orchestrator.runtime.graph import thread_config
from orchestrator.runtime.replay import Harness
from tests.factories import AD_REFERRAL, auth, say, text


async def test_a_burst_of_messages_is_answered_once(h: Harness) -> None:
    wa = "12025550301"
    await say(h, text(wa, "Hello", h.clock.now()))
    h.service.turns.burst_window_s = 0.3
    before = len(h.fake_graph.sent)
    for part in ("one more thing", "how much does it cost", "for 10 agents"):
        response = await h.post(text(wa, part, h.clock.now()))
        assert response.status_code == 200
    await h.service.turns.drain()
    sent = h.fake_graph.sent_texts()[before:]
    assert len(sent) == 1, sent
    async with h.service.sessions() as session:
        turns = (
            (
                await session.execute(select(Message.turn).where(Message.direction == "inbound"))  # type: ignore[call-overload]
            )
            .scalars()
            .all()
        )
    assert sorted(turns) == [1, 2, 2, 2]


async def test_messages_to_a_human_owned_conversation_never_reach_the_graph(h: Harness) -> None:
    wa = "12025550302"
    await say(h, text(wa, "Hello", h.clock.now()))
    await say(h, text(wa, "agent please", h.clock.now()))
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
    snapshot_before = await h.service.graph.aget_state(thread_config(conversation.id or 0))
    assert await say(h, text(wa, "are you there?", h.clock.now())) == []
    snapshot_after = await h.service.graph.aget_state(thread_config(conversation.id or 0))
    assert snapshot_after.values["turn"] == snapshot_before.values["turn"]


async def test_hand_back_resumes_the_bot_without_re_asking_known_fields(h: Harness) -> None:
    wa = "12025550303"
    await say(h, text(wa, "Hi from the ad", h.clock.now(), referral=AD_REFERRAL))
    await say(h, text(wa, "Our company is Initech", h.clock.now()))
    await say(h, text(wa, "we want to qualify inbound leads automatically", h.clock.now()))
    listed = (await h.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    conversation_id, owner_id = listed[0]["id"], listed[0]["assignee_id"]
    reply = await h.http.post(
        f"/api/conversations/{conversation_id}/messages",
        json={"text": "Sent you the pricing sheet, the bot can help with setup questions."},
        headers=auth(f"demo-{owner_id}"),
    )
    assert reply.status_code == 201
    async with h.service.sessions() as session:
        rep = await session.get(Rep, owner_id)
        assert rep is not None
        open_before = rep.open_count
    handed = await h.http.post(
        f"/api/conversations/{conversation_id}/hand-back",
        json={"note": "pricing sent"},
        headers=auth(f"demo-{owner_id}"),
    )
    assert handed.status_code == 200
    assert "pricing sent" in handed.json()["briefing"]
    async with h.service.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        rep_after = await session.get(Rep, owner_id)
    assert conversation is not None
    assert conversation.owner == "bot"
    assert rep_after is not None
    assert rep_after.open_count == open_before - 1
    sent = await say(h, text(wa, "thanks! is there a free trial?", h.clock.now()))
    assert sent, "the bot answers again"
    assert not any("company" in s.lower() for s in sent), sent
    detail = (await h.http.get(f"/api/conversations/{conversation_id}", headers=auth("demo-admin"))).json()
    assert detail["owner"] == "bot"
    assert any(e["type"] == EventType.RETURNED_TO_BOT for e in detail["events"])

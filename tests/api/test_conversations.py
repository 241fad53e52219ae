"""The conversation endpoints: list (filters, paging), read one, reply (text, buttons, list, template
and the 24-hour window), transfer, reassign, resolve, hand back; the audit trail; send failures."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from handoff.models import Assignment, AuditEntry, Rep
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.enums import EventType
from orchestrator.core.tables import Conversation, Message
from tests.api.helpers import bearer, seed_conversation
from tests.factories import button, say, text
from tests.fakes.graph import TestHarness, graph_error_body, status_webhook
from tests.fixtures import load_fixture


async def detail(h: TestHarness, conversation_id: int, actor: str = "admin") -> dict[str, Any]:
    response = await h.http.get(f"/api/conversations/{conversation_id}", headers=bearer(actor))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def post(h: TestHarness, path: str, actor: str, body: dict[str, Any] | None = None) -> Any:
    response = await h.http.post(path, json=body, headers=bearer(actor))
    await h.service.dispatcher.drain()  # what the request queued is sent in the background
    return response


async def stored_status(h: TestHarness, message_id: int) -> str:
    async with h.service.sessions() as session:
        message = await session.get(Message, message_id)
    assert message is not None
    return message.status


async def audit_actions(h: TestHarness, conversation_id: int) -> list[tuple[str, str]]:
    async with h.service.sessions() as session:
        rows = (
            await session.execute(
                select(AuditEntry)
                .where(col(AuditEntry.conversation_id) == conversation_id)
                .order_by(col(AuditEntry.id))
            )
        ).scalars()
        return [(a.actor_id, a.action) for a in rows]


# -- list and read --------------------------------------------------------------------------------
async def test_list_filters_by_owner_queue_assignee_and_failed_sends(h: TestHarness) -> None:
    waiting = await seed_conversation(h, "waiting_support")
    taras = await seed_conversation(h, "tara_support")
    farahs = await seed_conversation(h, "farah_billing")
    h.fake_graph.fail_next(400, graph_error_body(131026, "Receiver is incapable of receiving this message"))
    assert (
        await post(h, f"/api/conversations/{farahs}/messages", "farah", {"text": "hi"})
    ).status_code == 202

    async def ids(**params: Any) -> list[int]:
        response = await h.http.get("/api/conversations", params=params, headers=bearer("admin"))
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()]

    assert await ids(owner="queued") == [waiting]
    assert set(await ids(queue="support")) == {waiting, taras}
    assert await ids(assignee_id="tara") == [taras]
    assert await ids(failed_sends="true") == [farahs]
    assert set(await ids(failed_sends="false")) == {waiting, taras}
    assert set(await ids(reason="menu_selection")) == {waiting, taras, farahs}


async def test_list_pages_most_recent_first_with_the_total_in_a_header(h: TestHarness) -> None:
    created = []
    for _ in range(5):
        h.clock.advance(minutes=1)
        created.append(await seed_conversation(h, "waiting_support"))
    first = await h.http.get("/api/conversations", params={"limit": 2}, headers=bearer("lena"))
    second = await h.http.get("/api/conversations", params={"limit": 2, "offset": 2}, headers=bearer("lena"))
    assert first.headers["x-total-count"] == "5"
    assert [c["id"] for c in first.json()] == created[::-1][:2]
    assert [c["id"] for c in second.json()] == created[::-1][2:4]
    too_many = await h.http.get("/api/conversations", params={"limit": 500}, headers=bearer("lena"))
    assert too_many.status_code == 422
    assert too_many.json()["detail"] == ["query.limit: Input should be less than or equal to 200"]


async def test_read_one_gives_transcript_handoff_context_and_routing_explanation(h: TestHarness) -> None:
    wa = "447700900901"
    await say(h, text(wa, "Hello", h.clock.now()))
    await say(h, button(wa, "menu_support", "Support", h.clock.now()))
    async with h.service.sessions() as session:
        conversation_id = (await session.execute(select(col(Conversation.id)))).scalar_one()
    assert conversation_id is not None
    body = await detail(h, conversation_id, "lena")
    assert [m["sender_type"] for m in body["messages"]][:2] == ["customer", "bot"]
    assert body["messages"][0]["text"] == "Hello"
    assert body["handoff_context"]["reason"] == "menu_selection"
    assert body["handoff_context"]["contact"]["wa_id"] == wa
    (assignment,) = body["assignments"]
    assert assignment["queue"] == "support"
    assert assignment["routing"]["queue"] == "support"
    assert {c["rep_id"] for c in assignment["candidates"]} == {"tara", "diego", "lena"}
    assert {"handoff", "assigned"} <= {e["type"] for e in body["events"]}
    assert body["window_open"] is True
    assert body["window_closes_at"] is not None
    assert body["send_failures"] == []


async def test_unknown_conversation_is_404_for_everyone(h: TestHarness) -> None:
    response = await h.http.get("/api/conversations/999999", headers=bearer("admin"))
    assert response.status_code == 404
    assert response.json() == {"detail": "conversation not found"}


# -- replies --------------------------------------------------------------------------------------
async def test_owner_reply_is_sent_audited_and_counts_as_first_response(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    response = await post(
        h, f"/api/conversations/{conversation_id}/messages", "tara", {"text": "Hi, Tara here"}
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending", "answered at once, sent in the background"
    assert await stored_status(h, response.json()["id"]) == "accepted"
    assert response.json()["sender_id"] == "tara"
    sent = h.fake_graph.sent[-1]["json"]
    assert sent["type"] == "text"
    assert sent["text"]["body"] == "Hi, Tara here"
    assert await audit_actions(h, conversation_id) == [("tara", "reply")]
    async with h.service.sessions() as session:
        assignment = (
            await session.execute(
                select(Assignment).where(col(Assignment.conversation_id) == conversation_id)
            )
        ).scalar_one()
    assert assignment.first_response_at == h.clock.now()


async def test_a_rep_reply_graph_refused_for_now_is_retried_at_its_mark_by_the_dispatcher(
    h: TestHarness,
) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    client = h.service.client
    client.backoff_scale = 0
    h.fake_graph.fail_next(
        500, graph_error_body(2, "Service temporarily unavailable"), times=client.max_attempts
    )
    response = await post(h, f"/api/conversations/{conversation_id}/messages", "tara", {"text": "One moment"})
    assert response.status_code in (200, 201, 202), response.text
    message_id = response.json()["id"]
    assert await stored_status(h, message_id) == "sending", "kept for a later attempt"
    assert h.service.dispatcher.retries.pending() == {conversation_id}
    h.clock.advance(seconds=2.5)
    for _ in range(200):  # no background pass: the dispatcher's own timer sends it
        if await stored_status(h, message_id) != "sending":
            break
        await asyncio.sleep(0.05)
    assert await stored_status(h, message_id) == "accepted"
    assert h.fake_graph.sent_texts()[-1:] == ["One moment"]


async def test_owner_can_reply_with_buttons(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    body = {
        "type": "buttons",
        "text": "Did that fix it?",
        "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}],
        "footer": "Tara, Support",
    }
    response = await post(h, f"/api/conversations/{conversation_id}/messages", "tara", body)
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "interactive"
    assert response.json()["text"] == "Did that fix it?\nTara, Support\n[Yes] [No]"
    interactive = h.fake_graph.sent[-1]["json"]["interactive"]
    assert interactive["type"] == "button"
    assert [b["reply"]["title"] for b in interactive["action"]["buttons"]] == ["Yes", "No"]
    assert await audit_actions(h, conversation_id) == [("tara", "reply")]


async def test_owner_can_reply_with_a_list(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    body = {
        "type": "list",
        "text": "Which device?",
        "button": "Choose",
        "sections": [
            {
                "title": "Devices",
                "rows": [{"id": "ios", "title": "iPhone"}, {"id": "android", "title": "Android"}],
            }
        ],
    }
    response = await post(h, f"/api/conversations/{conversation_id}/messages", "tara", body)
    assert response.status_code == 202, response.text
    interactive = h.fake_graph.sent[-1]["json"]["interactive"]
    assert interactive["type"] == "list"
    assert interactive["action"]["button"] == "Choose"
    assert [r["id"] for r in interactive["action"]["sections"][0]["rows"]] == ["ios", "android"]


async def test_reply_breaking_a_whatsapp_limit_is_refused_with_the_limit_named(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    duplicate = {
        "type": "buttons",
        "text": "Pick",
        "buttons": [{"id": "a", "title": "Same"}, {"id": "b", "title": "Same"}],
    }
    too_long = {"type": "buttons", "text": "Pick", "buttons": [{"id": "a", "title": "x" * 21}]}
    first = await post(h, f"/api/conversations/{conversation_id}/messages", "tara", duplicate)
    second = await post(h, f"/api/conversations/{conversation_id}/messages", "tara", too_long)
    assert first.status_code == 422
    assert first.json() == {"detail": ["body: button title 'Same' is used twice; each must be unique"]}
    assert second.status_code == 422
    assert second.json()["detail"] == [
        "body.buttons.buttons.0.title: String should have at most 20 characters"
    ]
    assert h.fake_graph.sent == []
    assert await audit_actions(h, conversation_id) == []


async def test_free_form_reply_outside_the_24_hour_window_is_refused(h: TestHarness) -> None:
    conversation_id = await seed_conversation(
        h, "tara_support", last_inbound_at=h.clock.now() - timedelta(hours=25)
    )
    for body in (
        {"text": "Hello again"},
        {"type": "buttons", "text": "?", "buttons": [{"id": "a", "title": "A"}]},
    ):
        response = await post(h, f"/api/conversations/{conversation_id}/messages", "tara", body)
        assert response.status_code == 409
        assert "24-hour customer-service window is closed" in response.json()["detail"]
        assert "template" in response.json()["detail"]
    assert h.fake_graph.sent == []
    assert (await detail(h, conversation_id))["window_open"] is False


async def test_template_reply_is_allowed_once_the_window_has_closed(h: TestHarness) -> None:
    conversation_id = await seed_conversation(
        h, "tara_support", last_inbound_at=h.clock.now() - timedelta(days=3)
    )
    body = {"type": "template", "name": "follow_up", "language": "en_US", "parameters": ["Ana", "#123"]}
    response = await post(h, f"/api/conversations/{conversation_id}/messages", "tara", body)
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "template"
    template = h.fake_graph.sent[-1]["json"]["template"]
    assert template["name"] == "follow_up"
    assert template["language"] == {"code": "en_US"}
    assert [p["text"] for p in template["components"][0]["parameters"]] == ["Ana", "#123"]


async def test_window_opens_only_with_a_customer_message(h: TestHarness) -> None:
    h.clock.advance(hours=24, seconds=1)
    conversation_id = await seed_conversation(
        h, "tara_support", last_inbound_at=h.clock.now() - timedelta(hours=24)
    )
    response = await post(h, f"/api/conversations/{conversation_id}/messages", "tara", {"text": "hi"})
    assert response.status_code == 409


# -- send failures ----------------------------------------------------------------------------------
async def test_graph_refusal_is_returned_and_shown_on_the_conversation(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    meta = load_fixture("error_131047_webhook_error_object_pywa.json")
    h.fake_graph.fail_next(
        400, graph_error_body(131047, meta["title"], details=meta["error_data"]["details"])
    )
    response = await post(h, f"/api/conversations/{conversation_id}/messages", "tara", {"text": "hello?"})
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    body = await detail(h, conversation_id, "tara")
    assert body["messages"][-1]["status"] == "failed"
    assert body["messages"][-1]["error"]["code"] == 131047
    assert body["failed_sends"] == 1
    (failure,) = body["send_failures"]
    assert failure["message_id"] == response.json()["id"]
    assert failure["text"] == "hello?"
    assert failure["error"]["code"] == 131047
    assert any(e["type"] == "send_failed" and "131047" in e["description"] for e in body["events"])


async def test_a_reply_under_a_rate_limit_is_answered_at_once_and_sent_with_back_off_in_the_background(
    h: TestHarness,
) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    h.fake_graph.fail_next(400, load_fixture("error_130429_response.json"), times=3)
    before = len(h.fake_graph.requests)
    response = await h.http.post(
        f"/api/conversations/{conversation_id}/messages", json={"text": "on it"}, headers=bearer("tara")
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending", "the request does not wait out Graph's back-off"
    await h.service.dispatcher.drain()
    assert len(h.fake_graph.requests) - before == 4, "three rate-limited attempts, then sent"
    assert await stored_status(h, response.json()["id"]) == "accepted"
    body = await detail(h, conversation_id, "tara")
    assert [e for e in body["events"] if e["type"] == "message_sent"], "the rep sees it sent"
    assert body["failed_sends"] == 0


async def test_failed_delivery_status_from_meta_is_shown_on_the_conversation(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    sent = await post(
        h, f"/api/conversations/{conversation_id}/messages", "tara", {"text": "your code is 1234"}
    )
    assert await stored_status(h, sent.json()["id"]) == "accepted"
    async with h.service.sessions() as session:
        message = await session.get(Message, sent.json()["id"])
    assert message is not None
    status = load_fixture("status_failed_131026_real_redacted.json")
    status["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = message.wa_message_id
    assert (await h.post(status)).status_code == 200
    body = await detail(h, conversation_id, "tara")
    (failure,) = body["send_failures"]
    assert failure["error"]["errors"][0]["code"] == 131026
    assert body["messages"][-1]["status"] == "failed"


async def test_whatsapp_refusing_a_reply_for_the_24_hour_window_closes_it_until_the_customer_writes(
    h: TestHarness,
) -> None:
    conversation_id = await seed_conversation(h, "tara_support")  # the customer wrote just now
    assert (await detail(h, conversation_id, "tara"))["window_open"]
    meta = load_fixture("error_131047_webhook_error_object_pywa.json")
    h.fake_graph.fail_next(
        400, graph_error_body(131047, meta["title"], details=meta["error_data"]["details"])
    )
    h.clock.advance(minutes=5)
    refused_at = h.clock.now()
    sent = await post(h, f"/api/conversations/{conversation_id}/messages", "tara", {"text": "hello?"})
    assert await stored_status(h, sent.json()["id"]) == "failed"
    body = await detail(h, conversation_id, "tara")
    assert body["window_open"] is False, "Meta's answer wins over our count"
    assert body["window_closes_at"] == refused_at.isoformat().replace("+00:00", "Z")
    again = await post(
        h, f"/api/conversations/{conversation_id}/messages", "tara", {"text": "are you there?"}
    )
    assert again.status_code == 409
    assert "window is closed" in again.json()["detail"]

    h.clock.advance(minutes=1)
    await say(h, text(body["contact_wa_id"], "sorry, here now", h.clock.now()))
    body = await detail(h, conversation_id, "tara")
    assert body["window_open"] is True, "the customer's message opens it again"
    reply = await post(h, f"/api/conversations/{conversation_id}/messages", "tara", {"text": "great!"})
    assert reply.status_code < 300, reply.text


async def test_a_failed_status_for_the_24_hour_window_closes_it_too(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    sent = await post(h, f"/api/conversations/{conversation_id}/messages", "tara", {"text": "code 1234"})
    async with h.service.sessions() as session:
        message = await session.get(Message, sent.json()["id"])
    assert message is not None
    status = load_fixture("status_failed_131026_real_redacted.json")
    item = status["entry"][0]["changes"][0]["value"]["statuses"][0]
    item["id"] = message.wa_message_id
    item["errors"] = [load_fixture("error_131047_webhook_error_object_pywa.json")]
    assert (await h.post(status)).status_code == 200  # accepted at once, refused later (FACTS)
    body = await detail(h, conversation_id, "tara")
    assert body["window_open"] is False
    failed = [e for e in body["events"] if e["type"] == "send_failed"]
    assert failed[-1]["details"]["reason"].startswith("131047 Re-engagement message: Message failed")


async def test_delivery_statuses_move_a_message_forward_only_whatever_order_they_arrive_in(
    h: TestHarness,
) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    ids = []
    for words in ("first", "second"):
        sent = await post(h, f"/api/conversations/{conversation_id}/messages", "tara", {"text": words})
        ids.append(sent.json()["id"])
    async with h.service.sessions() as session:
        wamids = [(await session.get(Message, i)).wa_message_id for i in ids]  # type: ignore[union-attr]
    first, second = wamids
    assert first is not None
    assert second is not None

    async def arrives(wamid: str, status: str) -> None:
        assert (await h.post_body(status_webhook(wamid, "+447700900123", status, None))).status_code == 200

    await arrives(second, "sent")
    await arrives(second, "delivered")
    assert await stored_status(h, ids[1]) == "delivered"
    await arrives(first, "read")  # Meta's statuses arrive out of order
    await arrives(first, "delivered")
    await arrives(first, "sent")
    assert await stored_status(h, ids[0]) == "read"
    failed = load_fixture("status_failed_131026_real_redacted.json")
    failed["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = second
    assert (await h.post(failed)).status_code == 200
    await arrives(second, "read")
    assert await stored_status(h, ids[1]) == "failed", "a failed message stays failed"
    assert await stored_status(h, ids[0]) == "read"


# -- moving conversations -----------------------------------------------------------------------------
async def test_transfer_moves_the_conversation_ends_the_senders_access_and_is_audited(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    response = await post(
        h,
        f"/api/conversations/{conversation_id}/transfer",
        "tara",
        {"queue": "billing", "note": "invoice question"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["conversation"]["queue"] == "billing"
    assert body["conversation"]["assignee_id"] in {"farah", "marc"}
    assert body["assignment"]["routing"]["rule"] == "transfer"
    told = h.fake_graph.sent_texts()
    assert any("passed your conversation to our Finance team" in s for s in told), told
    assert not any("invoice question" in s for s in told)  # the note stays internal
    assert (
        await h.http.get(f"/api/conversations/{conversation_id}", headers=bearer("tara"))
    ).status_code == 404
    late = await post(h, f"/api/conversations/{conversation_id}/messages", "tara", {"text": "one more thing"})
    assert late.status_code == 404
    assert await audit_actions(h, conversation_id) == [("tara", "transfer")]
    history = (await detail(h, conversation_id))["assignments"]
    assert [(a["queue"], a["status"]) for a in history] == [("support", "transferred"), ("billing", "active")]


async def test_transfer_to_an_unknown_or_the_same_queue_is_refused(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    unknown = await post(h, f"/api/conversations/{conversation_id}/transfer", "tara", {"queue": "nowhere"})
    same = await post(h, f"/api/conversations/{conversation_id}/transfer", "tara", {"queue": "support"})
    assert unknown.status_code == 422
    assert unknown.json() == {"detail": ["body.queue: unknown queue 'nowhere'"]}
    assert same.status_code == 409
    assert same.json() == {"detail": "the conversation is already in support"}


async def test_lead_reassigns_to_a_named_member_of_the_queue(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    response = await post(h, f"/api/conversations/{conversation_id}/reassign", "lena", {"rep_id": "diego"})
    assert response.status_code == 200, response.text
    assert response.json()["conversation"]["assignee_id"] == "diego"
    assert await audit_actions(h, conversation_id) == [("lena", "reassign")]
    outsider = await post(h, f"/api/conversations/{conversation_id}/reassign", "lena", {"rep_id": "farah"})
    assert outsider.status_code == 422
    assert outsider.json() == {"detail": ["body.rep_id: 'farah' is not a member of support"]}


async def test_a_reassignment_to_a_rep_who_cannot_take_it_says_by_name_why(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    await post(h, "/api/me/presence", "diego", {"presence": "offline"})
    refused = await post(h, f"/api/conversations/{conversation_id}/reassign", "lena", {"rep_id": "diego"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == "Diego Ruiz cannot take it now: they are offline"
    await post(h, "/api/me/presence", "diego", {"presence": "online"})
    async with h.service.sessions() as session, session.begin():
        diego = await session.get(Rep, "diego")
        assert diego is not None
        diego.open_count = diego.capacity
    refused = await post(h, f"/api/conversations/{conversation_id}/reassign", "lena", {"rep_id": "diego"})
    assert refused.json()["detail"] == "Diego Ruiz cannot take it now: they are at capacity (6 of 6 open)"


async def test_resolve_closes_the_conversation_and_frees_the_reps_capacity(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    async with h.service.sessions() as session:
        before = (await session.get(Rep, "tara")).open_count  # type: ignore[union-attr]
    response = await post(h, f"/api/conversations/{conversation_id}/resolve", "tara")
    assert response.status_code == 200, response.text
    assert response.json()["conversation"]["owner"] == "closed"
    async with h.service.sessions() as session:
        after = (await session.get(Rep, "tara")).open_count  # type: ignore[union-attr]
    assert after == before - 1
    assert await audit_actions(h, conversation_id) == [("tara", "resolve")]
    again = await post(h, f"/api/conversations/{conversation_id}/resolve", "tara")
    assert again.status_code == 403  # closed: no longer the owner


async def test_hand_back_returns_the_conversation_to_the_bot_with_a_briefing(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    await post(
        h, f"/api/conversations/{conversation_id}/messages", "tara", {"text": "Your refund is on its way."}
    )
    response = await post(
        h, f"/api/conversations/{conversation_id}/hand-back", "tara", {"note": "refund issued"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["conversation"]["owner"] == "bot"
    assert "refund issued" in response.json()["briefing"]
    assert await audit_actions(h, conversation_id) == [("tara", "reply"), ("tara", "hand_back")]
    events = [e["type"] for e in (await detail(h, conversation_id))["events"]]
    assert events[-1] == "returned_to_bot"
    # The customer is told the assistant is back; the rep's note and the briefing stay internal.
    told = h.fake_graph.sent_texts()[-1]
    assert "virtual assistant" in told
    assert "refund issued" not in told


# -- audit ----------------------------------------------------------------------------------------
async def test_audit_log_lists_human_actions_with_actor_and_time_to_those_allowed(db_h: TestHarness) -> None:
    h = db_h
    support = await seed_conversation(h, "tara_support")
    billing = await seed_conversation(h, "farah_billing")
    await post(h, f"/api/conversations/{support}/messages", "tara", {"text": "hi"})
    h.clock.advance(minutes=2)
    await post(h, f"/api/conversations/{billing}/resolve", "farah")
    await post(h, "/api/me/presence", "diego", {"presence": "away"})

    async def entries(actor: str, **params: Any) -> list[tuple[str, str, int | None]]:
        response = await h.http.get("/api/audit", params=params, headers=bearer(actor))
        assert response.status_code == 200
        return [(e["actor_id"], e["action"], e["conversation_id"]) for e in response.json()]

    assert await entries("admin") == [
        ("diego", "presence", None),
        ("farah", "resolve", billing),
        ("tara", "reply", support),
    ]
    assert await entries("tara") == [("tara", "reply", support)]
    # A lead: what happened on conversations they may see, and their team's presence (Diego is in
    # Support); not the billing rep's resolve, nor the support team's presence for another lead.
    assert await entries("lena") == [("diego", "presence", None), ("tara", "reply", support)]
    assert await entries("sam") == []
    assert await entries("admin", action="resolve") == [("farah", "resolve", billing)]
    # What an admin does to a member of the lead's team is the lead's to see; to another's, not.
    for rep_id in ("tara", "farah"):
        changed = await h.http.patch(
            f"/api/admin/reps/{rep_id}", json={"capacity": 2}, headers=bearer("admin")
        )
        assert changed.status_code == 200, changed.text
    seen = (await h.http.get("/api/audit", params={"action": "user_updated"}, headers=bearer("lena"))).json()
    assert [e["details"]["rep_id"] for e in seen] == ["tara"]
    first = (await h.http.get("/api/audit", params={"actor_id": "farah"}, headers=bearer("admin"))).json()[0]
    assert first["created_at"] == (h.clock.now()).isoformat().replace("+00:00", "Z")


# -- the context log carries what the stream shows ----------------------------------------------
async def test_every_conversation_action_writes_the_context_log(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    await post(h, f"/api/conversations/{conversation_id}/messages", "tara", {"text": "hi"})
    await post(h, f"/api/conversations/{conversation_id}/reassign", "lena", {"rep_id": "diego"})
    await post(h, f"/api/conversations/{conversation_id}/transfer", "diego", {"queue": "general"})
    await post(h, f"/api/conversations/{conversation_id}/resolve", "admin")
    async with h.service.sessions() as session:
        types = list(
            (
                await session.execute(
                    select(col(ContextEvent.type))
                    .where(col(ContextEvent.conversation_id) == conversation_id)
                    .order_by(col(ContextEvent.id))
                )
            ).scalars()
        )
    assert [t for t in types if t not in (EventType.HANDOFF, EventType.ASSIGNED, EventType.ROUTED)] == [
        EventType.REP_REPLY,
        EventType.MESSAGE_SENT,  # the reply went out (the rep sees pending -> sent live)
        EventType.REASSIGNED,
        EventType.TRANSFERRED,
        EventType.RESOLVED,
    ]
    assert json.dumps(await audit_actions(h, conversation_id)) == json.dumps(
        [["tara", "reply"], ["lena", "reassign"], ["diego", "transfer"], ["admin", "resolve"]]
    )

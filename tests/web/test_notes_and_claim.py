"""Private notes with @mentions, and taking a waiting conversation: the JSON endpoints, under the rep
API's visibility rules (404 unseen, 403 not allowed, 409 wrong state)."""

from __future__ import annotations

from handoff.notes import mentioned_ids
from tests.api.helpers import bearer, live_server, open_stream, seed_conversation
from tests.fakes.graph import TestHarness


def test_mentions_are_read_from_the_text_but_not_from_email_addresses() -> None:
    text = "@diego can you check? cc @Lena. mail ops@example.com, again @diego"
    assert mentioned_ids(text) == ["diego", "lena"]


async def test_note_with_a_mention_notifies_the_mentioned_rep_live(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    async with live_server(h) as url, open_stream(url, "diego") as diego:
        response = await h.http.post(
            f"/api/conversations/{conversation_id}/notes",
            json={"text": "@diego do you know this customer? @nobody"},
            headers=bearer("tara"),
        )
        assert response.status_code == 201, response.text
        note = response.json()
        assert (note["author_id"], note["mentions"]) == ("tara", ["diego"])
        # The author is told: @nobody names no rep; diego got it but may not open the conversation.
        assert (note["unknown_mentions"], note["mentions_without_access"]) == (["nobody"], ["diego"])
        # Diego cannot open the conversation (it is Tara's), yet the mention reaches him.
        event = await diego.until("mentioned", conversation_id=conversation_id)
        assert event.data["details"]["rep_id"] == "diego"
        assert event.data["details"]["text"].startswith("@diego do you know")
        assert event.data["details"]["author_name"] == "Tara Nguyen"  # what diego's alert says
    mentions = (await h.http.get("/api/me/mentions?unread=true", headers=bearer("diego"))).json()
    assert [(m["note"]["id"], m["read_at"]) for m in mentions] == [(note["id"], None)]
    marked = await h.http.post(
        "/api/me/mentions/read", json={"conversation_id": conversation_id}, headers=bearer("diego")
    )
    assert marked.json() == {"marked": 1}
    assert (await h.http.get("/api/me/mentions?unread=true", headers=bearer("diego"))).json() == []
    listed = await h.http.get(f"/api/conversations/{conversation_id}/notes", headers=bearer("lena"))
    assert [n["text"] for n in listed.json()] == ["@diego do you know this customer? @nobody"]


async def test_notes_follow_the_conversation_visibility(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    for actor in ("diego", "farah", "sam"):
        path = f"/api/conversations/{conversation_id}/notes"
        assert (await h.http.get(path, headers=bearer(actor))).status_code == 404
        written = await h.http.post(path, json={"text": "hi"}, headers=bearer(actor))
        assert written.status_code == 404
    lead = await h.http.post(
        f"/api/conversations/{conversation_id}/notes", json={"text": "VIP, be quick"}, headers=bearer("lena")
    )
    assert lead.status_code == 201


async def test_rep_takes_a_waiting_conversation_of_their_queue(h: TestHarness) -> None:
    await h.http.post("/api/me/auto-assign", json={"enabled": False}, headers=bearer("diego"))
    for rep in ("tara", "lena"):
        await h.http.post("/api/me/presence", json={"presence": "away"}, headers=bearer(rep))
    conversation_id = await seed_conversation(h, "waiting_support")
    response = await h.http.post(f"/api/conversations/{conversation_id}/claim", headers=bearer("diego"))
    assert response.status_code == 200, response.text
    assert (response.json()["owner"], response.json()["assignee_id"]) == ("human", "diego")
    detail = (await h.http.get(f"/api/conversations/{conversation_id}", headers=bearer("diego"))).json()
    assert detail["assignments"][-1]["status"] == "active"
    assert detail["events"][-1]["type"] == "assigned"
    assert [a["action"] for a in detail["audit"]] == ["claim"]
    # The customer, who was told to wait, hears who has their conversation now (sent after the
    # commit, in the background).
    await h.service.dispatcher.drain()
    assert "from our Tier 1 Technical Support team has your conversation now" in h.fake_graph.sent_texts()[-1]
    again = await h.http.post(f"/api/conversations/{conversation_id}/claim", headers=bearer("diego"))
    assert again.status_code == 409
    # Tara no longer sees it (it is Diego's now): 404, as for anything she may not see.
    taken = await h.http.post(f"/api/conversations/{conversation_id}/claim", headers=bearer("tara"))
    assert taken.status_code == 404


async def test_claim_is_refused_outside_the_queue_offline_or_at_capacity(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "waiting_support")
    path = f"/api/conversations/{conversation_id}/claim"
    assert (await h.http.post(path, headers=bearer("farah"))).status_code == 404  # billing: cannot see
    admin = await h.http.post(path, headers=bearer("admin"))  # sees everything, member of nothing
    assert admin.status_code == 403
    await h.http.post("/api/me/presence", json={"presence": "offline"}, headers=bearer("tara"))
    offline = await h.http.post(path, headers=bearer("tara"))
    assert offline.status_code == 409
    assert "online" in offline.json()["detail"]
    assert (await h.http.post("/api/conversations/999999/claim", headers=bearer("tara"))).status_code == 404

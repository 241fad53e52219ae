"""The server-rendered pages: what a signed-in rep sees, and what they may not see by URL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select, update

from handoff.models import Assignment
from handoff.web import pages
from handoff.web.rendering import event_line, failure_reason
from orchestrator.core.enums import Owner
from orchestrator.core.tables import Conversation, Message
from tests.api.helpers import Kind, bearer, reassigned_by_the_lead, seed_conversation
from tests.api.media_helpers import give_contact_number
from tests.factories import button, say, text
from tests.fakes.graph import TestHarness, graph_error_body
from tests.fixtures import load_fixture
from tests.web.helpers import browser, sign_in


def listed(page: str) -> list[int]:
    """The conversations an inbox page lists, by id, in order."""
    return [int(i) for i in re.findall(r'class="conversation-row[^"]*" data-id="(\d+)"', page)]


def failure_note(page: str, message_id: int) -> str:
    """What a conversation page says under a message that was not delivered."""
    found = re.search(
        r'<p class="failure" role="note">(.*?)</p>', page[page.index(f'id="m-{message_id}"') :], re.S
    )
    assert found is not None, "no failure note under the message"
    return found.group(1).strip()


async def test_inbox_lists_my_conversations_and_my_queues_waiting_ones(h: TestHarness) -> None:
    mine = await seed_conversation(h, "tara_support", name="Mine Customer")
    waiting = await seed_conversation(h, "waiting_support", name="Waiting Customer")
    billing = await seed_conversation(h, "farah_billing", name="Billing Customer")
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = (await client.get("/inbox")).text
        shown = listed(page)
        assert shown == [mine, waiting]
        assert f'data-claim="{waiting}"' in page
        only_mine = (await client.get("/inbox/list?view=mine")).text
        assert "Mine Customer" in only_mine
        assert "Waiting Customer" not in only_mine
        only_waiting = (await client.get("/inbox/list?view=waiting&queue=support")).text
        assert "Waiting Customer" in only_waiting
        assert "Mine Customer" not in only_waiting
        assert str(billing) not in re.findall(r'data-id="(\d+)"', page)


async def test_my_conversations_are_listed_by_the_customers_latest_message_not_the_latest_change(
    h: TestHarness,
) -> None:
    wrote_last = await seed_conversation(
        h, "tara_support", name="Wrote A Minute Ago", last_inbound_at=h.clock.now() - timedelta(minutes=1)
    )
    h.clock.advance(minutes=5)  # then a change to an older conversation (seeded later, so newer)
    quiet = await seed_conversation(
        h, "tara_support", name="Wrote An Hour Ago", last_inbound_at=h.clock.now() - timedelta(hours=1)
    )
    by_api = (await h.http.get("/api/conversations", headers=bearer("tara"))).json()
    assert [c["id"] for c in by_api] == [quiet, wrote_last], "the API lists by the latest change"
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = (await client.get("/inbox/list?view=mine")).text
    shown = listed(page)
    assert shown == [wrote_last, quiet]
    assert re.findall(r"last message (.+?) ago", page) == ["6m", "1h 00m"]


async def test_a_leads_and_an_admins_open_view_lists_their_colleagues_conversations_too(
    h: TestHarness,
) -> None:
    taras = await seed_conversation(h, "tara_support", name="Tara's Customer")
    waiting = await seed_conversation(h, "waiting_support", name="Waiting Customer")
    billing = await seed_conversation(h, "farah_billing", name="Billing Customer")

    async with browser(h) as client:
        await sign_in(client, "lena", "demo-lena")  # the lead of support, not of billing
        page = (await client.get("/inbox")).text
        assert listed(page) == [waiting, taras], "who nobody has yet first"
        assert "Tara Nguyen · last message" in page  # whose it is, by name
        await h.http.post("/api/me/presence", json={"presence": "away"}, headers=bearer("tara"))
        page = (await client.get("/inbox")).text
        assert re.search(r"Tara Nguyen <span class=\"badge away\"[^>]*>away</span> · last message", page), (
            "a customer may be waiting on someone who is not online"
        )
        assert listed((await client.get("/inbox/list?view=mine")).text) == []
    async with browser(h) as client:
        await sign_in(client, "admin", "demo-admin")
        assert set(listed((await client.get("/inbox/list?view=open")).text)) == {taras, waiting, billing}
    async with browser(h) as client:
        await sign_in(client, "diego", "demo-diego")  # a rep of support sees only the waiting one
        assert listed((await client.get("/inbox/list?view=open")).text) == [waiting]


async def test_a_lead_lists_one_colleagues_conversations_and_a_rep_cannot(h: TestHarness) -> None:
    taras = await seed_conversation(h, "tara_support", name="Tara's Customer")
    await seed_conversation(h, "waiting_support", name="Waiting Customer")
    await seed_conversation(h, Kind("lena_support", Owner.HUMAN, "support", "lena"), name="Lena's")

    async with browser(h) as client:
        await sign_in(client, "lena", "demo-lena")
        page = (await client.get("/inbox")).text
        assert '<option value="tara" >Tara Nguyen</option>' in page, "her team, by name"
        assert listed((await client.get("/inbox/list?view=open&rep=tara")).text) == [taras]
    async with browser(h) as client:
        await sign_in(client, "diego", "demo-diego")
        page = (await client.get("/inbox?rep=tara")).text
        assert 'name="rep"' not in page
        assert taras not in listed(page), "a rep sees only their own and their queues' waiting"


async def test_a_leads_own_conversations_stay_in_all_open_however_many_their_colleagues_have(
    h: TestHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "TEAM_ROWS", 3)
    lenas = await seed_conversation(h, Kind("lena_support", Owner.HUMAN, "support", "lena"), name="Lena's")
    h.clock.advance(minutes=5)
    colleagues = [await seed_conversation(h, "tara_support", name=f"Tara's {n}") for n in range(4)]
    async with browser(h) as client:
        await sign_in(client, "lena", "demo-lena")
        page = (await client.get("/inbox/list?view=open")).text
    shown = listed(page)
    assert shown[0] == lenas  # her own first, though the oldest
    assert len(shown) == 4  # and three of her colleagues'
    assert set(shown[1:]) <= set(colleagues)


async def test_another_reps_conversation_is_not_found_by_url(h: TestHarness) -> None:
    farahs = await seed_conversation(h, "farah_billing", name="Secret Customer")
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = await client.get(f"/conversations/{farahs}")
        assert page.status_code == 404
        assert "Secret Customer" not in page.text
        for part in ("timeline", "panel", "state"):
            fragment = await client.get(f"/conversations/{farahs}/fragments/{part}")
            assert fragment.status_code == 404
            assert "Secret Customer" not in fragment.text


async def test_an_id_beyond_any_row_is_a_page_not_found_not_a_server_error(h: TestHarness) -> None:
    mine = await seed_conversation(h, "tara_support")
    huge = 10**20
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = await client.get(f"/conversations/{huge}")
        assert page.status_code == 404
        assert "Conversation not found" in page.text
        fragment = await client.get(f"/conversations/{huge}/fragments/panel")
        assert fragment.status_code == 404
        earlier = await client.get(f"/conversations/{mine}/earlier", params={"before": huge})
        assert earlier.status_code == 422
        stream = await client.get("/api/stream", params={"after": huge})
        assert stream.status_code == 422


async def test_conversation_page_shows_transcript_context_and_who_may_write(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support", name="Ana Clarke")
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = await client.get(f"/conversations/{conversation_id}")
        assert page.status_code == 200
        assert "I need help with my account" in page.text
        assert "Chosen from the menu" in page.text  # the handoff reason, for a human
        assert 'data-can-write="1"' in page.text
        assert "How it was routed" in page.text
    async with browser(h) as lead:
        await sign_in(lead, "lena", "demo-lena")
        page = await lead.get(f"/conversations/{conversation_id}")
        assert 'data-can-write="0"' in page.text
        assert 'id="reassign"' in page.text


async def test_dashboard_shows_the_leads_queues(h: TestHarness) -> None:
    await seed_conversation(h, "waiting_support")
    async with browser(h) as client:
        await sign_in(client, "lena", "demo-lena")
        page = await client.get("/dashboard")
        assert page.status_code == 200
        rows = re.findall(r'<tr data-queue="([a-z_]+)"', page.text)
        assert rows == ["support", "senior_engineering"]
        depth = re.search(r'data-queue="support".*?class="num depth"[^>]*>(\d+)<', page.text, re.S)
        assert depth is not None
        assert depth.group(1) == "1"


async def test_the_dashboards_sla_breaches_are_the_last_days(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")

    async def breaches(queued_hours_ago: int) -> str:
        queued = h.clock.now() - timedelta(hours=queued_hours_ago)
        async with h.service.sessions() as session, session.begin():
            await session.execute(
                update(Assignment)
                .where(col(Assignment.conversation_id) == conversation_id)
                .values(queued_at=queued, sla_breached_at=queued + timedelta(minutes=20))
            )
        async with browser(h) as client:
            await sign_in(client, "lena", "demo-lena")
            page = (await client.get("/dashboard")).text
        cell = re.search(r'data-queue="support".*?data-label="SLA breaches, 24 h">(\d+)<', page, re.S)
        assert cell is not None
        return cell.group(1)

    assert await breaches(queued_hours_ago=2) == "1"
    assert await breaches(queued_hours_ago=30) == "0", "yesterday's breach is not today's alarm"


async def test_the_dashboard_flags_a_rep_holding_more_than_their_capacity(h: TestHarness) -> None:
    for _ in range(2):
        await seed_conversation(h, "tara_support")
    lowered = await h.http.patch("/api/admin/reps/tara", json={"capacity": 1}, headers=bearer("admin"))
    assert lowered.status_code == 200, lowered.text
    async with browser(h) as client:
        await sign_in(client, "lena", "demo-lena")
        page = (await client.get("/dashboard")).text
    assert re.search(
        r"Tara Nguyen</a> <span class=\"muted\">\w+ · 2/1</span> <span class=\"badge failed\"", page
    )
    assert '<a href="/inbox?rep=tara"' in page, "a member's name lists their conversations"


async def test_the_dashboard_marks_a_wait_longer_than_the_queues_response_time(h: TestHarness) -> None:
    await seed_conversation(h, "waiting_support")

    async def longest_wait_cell() -> str:
        async with browser(h) as client:
            await sign_in(client, "lena", "demo-lena")
            page = (await client.get("/dashboard")).text
        cell = re.search(
            r'data-queue="support".*?(<td class="num[^"]*" data-label="Longest wait")', page, re.S
        )
        assert cell is not None
        return cell.group(1)

    assert "bad" not in await longest_wait_cell()
    h.clock.advance(hours=2)  # far past support's response time
    assert 'class="num bad"' in await longest_wait_cell()


async def test_api_docs_load_nothing_from_another_host(h: TestHarness) -> None:
    async with browser(h) as client:
        docs = await client.get("/docs")
        assert docs.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text) + re.findall(r"url: '([^']+)'", docs.text)
        assert assets
        assert all(a.startswith("/") for a in assets), assets
        for asset in assets:
            assert (await client.get(asset)).status_code == 200, asset
        htmx = await client.get("/static/vendor/htmx.min.js")
        assert htmx.status_code == 200
        assert htmx.text.startswith("/*! htmx 2.0.11")


async def test_failed_send_is_marked_with_metas_reason(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    meta = load_fixture("error_131047_webhook_error_object_pywa.json")
    h.fake_graph.fail_next(
        400, graph_error_body(131047, meta["title"], details=meta["error_data"]["details"])
    )
    sent = await h.http.post(
        f"/api/conversations/{conversation_id}/messages", json={"text": "hello?"}, headers=bearer("tara")
    )
    assert sent.json()["status"] == "pending"
    await h.service.dispatcher.drain()
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = (await client.get(f"/conversations/{conversation_id}")).text
        assert failure_note(page, sent.json()["id"]) == (
            f"Not delivered — 131047 {meta['title']}: {meta['error_data']['details']}"
        )
        inbox = (await client.get("/inbox")).text
        assert "⚠ 1 failed" in inbox


async def test_a_send_refused_with_a_proxys_html_page_is_explained_by_its_status_not_its_html(
    h: TestHarness,
) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    h.fake_graph.fail_next(400, "<html><body><h1>400 Bad Request</h1></body></html>")
    sent = await h.http.post(
        f"/api/conversations/{conversation_id}/messages", json={"text": "hello?"}, headers=bearer("tara")
    )
    await h.service.dispatcher.drain()
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = (await client.get(f"/conversations/{conversation_id}")).text
    assert failure_note(page, sent.json()["id"]) == "Not delivered — WhatsApp refused the request (HTTP 400)"
    assert "&lt;html" not in page, "no markup quoted to the rep"


async def test_a_reply_being_retried_says_why_and_the_one_behind_it_says_it_waits(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    h.service.client.backoff_scale = 0
    h.fake_graph.fail_next(400, graph_error_body(130429, "Rate limit hit"), times=1000)
    ids = []
    for words in ("first reply", "second reply"):
        sent = await h.http.post(
            f"/api/conversations/{conversation_id}/messages", json={"text": words}, headers=bearer("tara")
        )
        ids.append(sent.json()["id"])
        await h.service.dispatcher.drain()
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = (await client.get(f"/conversations/{conversation_id}/fragments/timeline")).text
    first, second = (page[page.index(f'id="m-{i}"') :] for i in ids)
    notes = [re.search(r'<p class="retrying" role="note">(.*?)</p>', part, re.S) for part in (first, second)]
    assert notes[0] is not None
    assert notes[0].group(1) == "Not sent yet — 130429 Rate limit hit; trying again shortly"
    assert notes[1] is not None
    assert notes[1].group(1) == "Waiting to go out after the message above"
    assert "Not delivered" not in page, "still being tried"


def test_a_server_error_without_graphs_error_object_says_the_fault_is_on_whatsapps_side() -> None:
    stored = {
        "source": "graph_api",
        "code": None,
        "title": "HTTP 502 without a Graph error body",
        "details": "<html>Bad Gateway</html>",
        "http_status": 502,
    }
    assert failure_reason(stored) == "WhatsApp had an error on its side (HTTP 502)"


def test_a_send_that_never_reached_meta_is_explained_without_the_transport_exception() -> None:
    raw = {
        "source": "transport",
        "details": "Graph request failed: ConnectError: [Errno -2] Name or service not known",
    }
    assert failure_reason(raw) == "WhatsApp could not be reached (network error)"


async def test_the_transcripts_events_name_queues_reasons_and_times_as_the_page_does(h: TestHarness) -> None:
    # The log writes "billing is closed; held until 2026-11-25T14:00:00+00:00" and "handed off:
    # menu_selection"; a rep reads the queue's name, what the reason means and the page's time.
    h.clock.set(h.clock.now().replace(hour=21))  # Tuesday 21:00 UTC: Finance is closed
    wa = "12025550499"
    await say(h, text(wa, "Hi", h.clock.now()))
    await say(h, button(wa, "menu_billing", "Billing", h.clock.now()))
    by_api = (await h.http.get("/api/conversations", headers=bearer("farah"))).json()
    detail = (await h.http.get(f"/api/conversations/{by_api[0]['id']}", headers=bearer("farah"))).json()
    held = next(e for e in detail["events"] if e["type"] == "held_after_hours")
    assert held["description"].startswith("billing is closed; held until 20")
    opens_at = datetime.fromisoformat(held["details"]["opens_at"]).astimezone(UTC)
    async with browser(h) as client:
        await sign_in(client, "farah", "demo-farah")
        page = (await client.get(f"/conversations/{detail['id']}")).text
    events = re.findall(r'<li class="event [^"]*"><span>([^<]*)</span>', page)
    assert f"Finance is closed; held until {opens_at:%d %b %H:%M} UTC" in " ".join(events), events
    assert any(e.startswith("Handed off: chosen from the menu") for e in events), events
    assert not any("billing" in e or re.search(r"\d{4}-\d{2}-\d{2}T", e) for e in events), events


def test_an_event_time_written_with_an_offset_is_shown_in_utc_as_the_page_writes_times() -> None:
    line = event_line(
        "uk_sales is closed; held until 2026-12-07T10:00:00+01:00",
        "held_after_hours",
        {"queue": "uk_sales"},
        {"uk_sales": "UK Account Executives", "sales": "Enterprise Sales"},
    )
    assert line == "UK Account Executives is closed; held until 07 Dec 09:00 UTC"


def test_a_transfer_note_is_shown_as_the_rep_wrote_it_even_where_it_names_a_queue() -> None:
    note = "not a general question: he wants a sales quote for 40 seats, at 2026-12-07T10:00:00+01:00"
    line = event_line(
        f"Gus transferred it from general to sales: {note}",
        "transferred",
        {"from_queue": "general", "queue": "sales", "to_queue": "sales", "note": note},
        {"general": "General (catch-all)", "sales": "Enterprise Sales"},
    )
    assert line == f"Gus transferred it from General (catch-all) to Enterprise Sales: {note}"


async def test_a_conversation_waiting_in_a_closed_queue_says_in_the_inbox_until_when_it_is_held(
    h: TestHarness,
) -> None:
    h.clock.set(h.clock.now().replace(hour=21))  # Tuesday 21:00 UTC: Finance is closed
    wa = "12025550498"
    await say(h, text(wa, "Hi", h.clock.now()))
    await say(h, button(wa, "menu_billing", "Billing", h.clock.now()))
    opens_at = h.service.config.queue("billing").hours.next_opening(h.clock.now())
    assert opens_at is not None
    async with browser(h) as admin:
        await sign_in(admin, "admin", "demo-admin")
        dashboard = (await admin.get("/dashboard")).text
    assert f"closed until {opens_at.astimezone(UTC):%d %b %H:%M} UTC" in dashboard
    async with browser(h) as client:
        await sign_in(client, "farah", "demo-farah")
        held = (await client.get("/inbox")).text
        h.clock.set(opens_at.astimezone(UTC) + timedelta(minutes=1))  # open again, still waiting
        not_held = (await client.get("/inbox/list?view=waiting")).text
    assert f"held until {opens_at.astimezone(UTC):%d %b %H:%M} UTC" in held
    assert "held until" not in not_held


async def test_the_transfer_form_asks_for_a_team_and_says_which_are_closed(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support", name="Ana Clarke")
    h.clock.set(h.clock.now().replace(hour=21))  # Tuesday 21:00 UTC: Finance is closed, Support is not
    opens_at = h.service.config.queue("billing").hours.next_opening(h.clock.now())
    assert opens_at is not None
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = (await client.get(f"/conversations/{conversation_id}")).text
    form = page[page.index('<details class="action" id="transfer">') :].split("</details>")[0]
    assert '<option value="" selected disabled>Choose a team</option>' in form  # nothing chosen for them
    assert f">Finance (closed until {opens_at.astimezone(UTC):%d %b %H:%M} UTC)</option>" in form
    assert 'value="support"' not in form  # not to its own queue
    assert ">Support (closed" not in page
    assert "(nobody in it)" not in form


async def test_the_transfer_form_says_which_team_has_nobody_in_it(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support", name="Ana Clarke")
    # Senior Engineering's members: Eve is disabled and Lena leaves it.
    assert (await h.http.post("/api/admin/reps/eve/disable", headers=bearer("admin"))).status_code == 200
    moved = await h.http.patch("/api/admin/reps/lena", json={"queues": ["support"]}, headers=bearer("admin"))
    assert moved.status_code == 200
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = (await client.get(f"/conversations/{conversation_id}")).text
    form = page[page.index('<details class="action" id="transfer">') :].split("</details>")[0]
    assert re.findall(r'<option value="(\w+)">[^<]*\(nobody in it\)</option>', form) == ["senior_engineering"]


async def test_a_lead_sees_who_has_a_conversation_by_name_in_the_state_bar_and_its_history(
    h: TestHarness,
) -> None:
    current = await seed_conversation(h, "tara_support", name="Ana Clarke")
    earlier = await seed_conversation(h, "closed_tara", name="Ana Clarke")
    async with h.service.sessions() as session, session.begin():
        contact_of_current = await session.scalar(
            select(Conversation.contact_id).where(col(Conversation.id) == current)
        )
        await session.execute(
            update(Conversation).where(col(Conversation.id) == earlier).values(contact_id=contact_of_current)
        )
    async with browser(h) as lead:
        await sign_in(lead, "lena", "demo-lena")
        state = (await lead.get(f"/conversations/{current}/fragments/state")).text
        panel = (await lead.get(f"/conversations/{current}/fragments/panel")).text
    assert "with Tara Nguyen" in state
    assert "with tara" not in state
    history = panel[panel.index("Earlier conversations") :]
    assert "· Tara Nguyen" in history
    assert "· tara<" not in history.replace(" ", "")


async def test_the_transcript_shows_a_reassignment_before_the_assignment_it_led_to(h: TestHarness) -> None:
    conversation_id = await reassigned_by_the_lead(h, name="Ana Clarke")
    async with browser(h) as lead:
        await sign_in(lead, "lena", "demo-lena")
        timeline = (await lead.get(f"/conversations/{conversation_id}/fragments/timeline")).text
    reassigned = timeline.index("Lena Fischer reassigned it from Tara Nguyen to Diego Ruiz")  # names, not ids
    assigned = timeline.rindex("Assigned to Diego Ruiz in")
    assert reassigned < assigned
    assert "Diego Ruiz (diego)" not in timeline


async def test_the_context_panel_says_in_words_why_a_conversation_came_to_a_person(h: TestHarness) -> None:
    """A bot reply refused for good hands the conversation to a person as `ai_unavailable`: the
    panel says the bot could not continue and that its reply was not delivered (not that the AI was
    unavailable), and names the customer's country and language rather than their codes."""
    meta = load_fixture("error_131047_webhook_error_object_pywa.json")
    h.fake_graph.fail_next(
        400, graph_error_body(131047, meta["title"], details=meta["error_data"]["details"])
    )
    await say(h, text("5511987654321", "Olá, bom dia! Quais são os planos de vocês?", h.clock.now()))
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
    assert conversation.handoff_reason == "ai_unavailable"
    async with browser(h) as admin:
        await sign_in(admin, "admin", "demo-admin")
        panel = (await admin.get(f"/conversations/{conversation.id}/fragments/panel")).text
    why = panel[panel.index('id="ctx-why"') : panel.index('id="ctx-fields"')]
    assert "The bot could not continue" in why
    assert ">The bot&#39;s reply was not delivered</strong>" in why
    assert "Brazil · Portuguese" in panel


async def test_a_mention_on_a_conversation_the_rep_cannot_open_is_read_in_the_inbox_without_a_dead_link(
    h: TestHarness,
) -> None:
    taras = await seed_conversation(h, "tara_support", name="Not Diegos")
    waiting = await seed_conversation(h, "waiting_support", name="Diego May Open")
    for conversation_id in (taras, waiting):
        added = await h.http.post(
            f"/api/conversations/{conversation_id}/notes",
            json={"text": f"@diego a word about #{conversation_id}"},
            headers=bearer("tara"),
        )
        assert added.status_code == 201, added.text
    async with browser(h) as diego:
        await sign_in(diego, "diego", "demo-diego")
        panel = (await diego.get("/inbox/mentions")).text
        assert f'href="/conversations/{waiting}"' in panel  # a waiting one of his queue: a link
        assert f'href="/conversations/{taras}"' not in panel  # Tara's: the note, and a way to mark it read
        assert f'data-read-mentions="{taras}"' in panel
        assert f"a word about #{taras}" in panel
        inbox = (await diego.get("/inbox")).text
        assert f'href="/conversations/{taras}"' not in inbox


async def test_a_reaction_and_a_message_whatsapp_does_not_pass_on_read_in_words(h: TestHarness) -> None:
    await h.post(load_fixture("inbound_reaction_pywa.json"))
    unsupported = load_fixture("inbound_unsupported_with_type_pywa.json")
    unsupported["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = (
        "wamid.unsupported"  # both fixtures share one
    )
    await h.post(unsupported)
    await h.service.turns.drain()
    async with h.service.sessions() as session:
        inbound = {
            m.kind: m
            for m in (
                await session.execute(select(Message).where(col(Message.direction) == "inbound"))
            ).scalars()
        }
    async with browser(h) as admin:
        await sign_in(admin, "admin", "demo-admin")
        page = (await admin.get(f"/conversations/{inbound['reaction'].conversation_id}")).text

    def bubble(kind: str) -> str:
        found = page[page.index(f'id="m-{inbound[kind].id}"') :]
        return found[: found.index("</li>")]

    assert "Reacted 😮 to a message" in bubble("reaction")
    assert "wamid" not in bubble("reaction")
    assert "Sent a pool message that WhatsApp does not pass on to businesses" in bubble("unsupported")


async def test_a_message_meta_delivered_late_shows_when_the_customer_sent_it_and_when_it_reached_us(
    h: TestHarness,
) -> None:
    """Meta retries a webhook for days: a message that reaches us late is shown at the time the
    customer wrote it (the time the 24-hour window counts from), with when it reached us beside it."""
    written = h.clock.now() - timedelta(hours=26)
    await say(h, text("12025550777", "Hello, anyone there? I need a person", written))
    async with h.service.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalars().one()
        inbound = (
            (await session.execute(select(Message).where(col(Message.direction) == "inbound")))
            .scalars()
            .one()
        )
    async with browser(h) as admin:
        await sign_in(admin, "admin", "demo-admin")
        page = (await admin.get(f"/conversations/{conversation.id}")).text
    bubble = page[page.index(f'id="m-{inbound.id}"') :]
    bubble = bubble[: bubble.index("</li>")]
    assert f"{written.astimezone(UTC):%d %b %H:%M} UTC" in bubble
    assert f"reached us {inbound.created_at.astimezone(UTC):%d %b %H:%M} UTC" in bubble
    assert "window closed" in page


async def test_an_address_that_is_no_page_gets_the_workspaces_page_in_a_browser_and_json_elsewhere(
    h: TestHarness,
) -> None:
    page = await h.http.get("/nope", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    api = await h.http.get("/api/nope", headers={"Accept": "text/html"})
    assert api.status_code == 404
    assert api.json() == {"detail": "Not Found"}
    plain = await h.http.get("/nope")
    assert plain.json() == {"detail": "Not Found"}
    not_allowed = await h.http.delete("/healthz", headers={"Accept": "text/html"})
    assert not_allowed.status_code == 405


async def test_a_page_address_with_a_value_the_page_does_not_take_gets_a_page_in_a_browser(
    h: TestHarness,
) -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = await client.get("/inbox", params={"view": "everything"}, headers=html)
        assert page.status_code == 404
        assert "Page not found" in page.text
        fragment = await client.get(
            "/inbox/list", params={"view": "everything"}, headers={**html, "HX-Request": "true"}
        )
        assert fragment.status_code == 422
    api = await h.http.get(
        "/api/conversations", params={"limit": 0}, headers={**html, "Authorization": "Bearer demo-tara"}
    )
    assert api.status_code == 422
    assert api.json()["detail"] == ["query.limit: Input should be greater than or equal to 1"]


async def test_whatsapps_notice_of_a_changed_number_is_shown_as_a_notice_not_as_the_customers_words(
    h: TestHarness,
) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    notice = load_fixture("inbound_system_phone_number_change_pywa.json")
    await give_contact_number(
        h, conversation_id, notice["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
    )
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        unread_before = re.findall(r"badge unread[^>]*>([^<]*)<", (await client.get("/inbox")).text)
    async with h.service.sessions() as session:
        window_before = (await session.get_one(Conversation, conversation_id)).last_inbound_at
    assert (await h.post(notice)).status_code == 200
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        unread_after = re.findall(r"badge unread[^>]*>([^<]*)<", (await client.get("/inbox")).text)
        page = (await client.get(f"/conversations/{conversation_id}/fragments/timeline")).text
    assert unread_after == unread_before == ["1 new"], (
        "WhatsApp's notice is no unread message of the customer's"
    )
    async with h.service.sessions() as session:
        assert (await session.get_one(Conversation, conversation_id)).last_inbound_at == window_before
    line = re.search(r'<li id="m-\d+" class="event system"><span dir="auto">(.*?)</span></li>', page)
    assert line is not None
    assert line.group(1).startswith("WhatsApp notice: User A changed from 972987654321 to 972912345678 · ")
    assert page.count('class="msg inbound') == 1, "only the seeded customer message is a bubble"
    # What the service did about it, in the transcript and the panel.
    moved = re.search(r'<li class="event event-number_changed"><span>(.*?) · ', page)
    assert moved is not None
    assert moved.group(1) == (
        "The customer changed their WhatsApp number from +972987654321 to +972912345678;"
        " replies go to +972912345678"
    )
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        panel = (await client.get(f"/conversations/{conversation_id}/fragments/panel")).text
    assert "<dt>Number</dt><dd>+972912345678</dd>" in panel


async def test_every_page_says_while_whatsapp_refuses_the_services_token_until_a_send_goes_out(
    h: TestHarness,
) -> None:
    conversation_id = await seed_conversation(h, "tara_support")

    async def reply(words: str) -> None:
        sent = await h.http.post(
            f"/api/conversations/{conversation_id}/messages", json={"text": words}, headers=bearer("tara")
        )
        assert sent.status_code < 300, sent.text
        await h.service.dispatcher.drain()

    async with browser(h) as admin, browser(h) as tara:
        await sign_in(admin, "admin", "demo-admin")
        await sign_in(tara, "tara", "demo-tara")
        assert "whatsapp-banner" not in (await admin.get("/fragments/whatsapp")).text
        assert 'hx-get="/fragments/whatsapp"' in (await admin.get("/inbox")).text, "on every page"
        h.fake_graph.fail_next(
            401, graph_error_body(190, "Error validating access token: Session has expired")
        )
        await reply("hello?")
        told_admin = (await admin.get("/fragments/whatsapp")).text
        told_rep = (await tara.get("/fragments/whatsapp")).text
        assert "WhatsApp refuses this service's access token since" in told_admin
        assert "190 Error validating access token" in told_admin
        assert "HANDOFF_WHATSAPP_ACCESS_TOKEN" in told_admin
        assert "An admin must renew it" in told_rep
        assert "HANDOFF_WHATSAPP_ACCESS_TOKEN" not in told_rep
        h.clock.advance(seconds=30)
        await reply("sorry, here now")  # the token was replaced: this one is accepted
        assert "whatsapp-banner" not in (await admin.get("/fragments/whatsapp")).text


async def test_the_routing_panel_names_the_reps_it_considered(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    async with browser(h) as client:
        await sign_in(client, "lena", "demo-lena")
        panel = (await client.get(f"/conversations/{conversation_id}/fragments/panel")).text
    listed = panel[panel.index('class="candidates"') :]
    considered = re.findall(r'<strong title="(\w+)">([^<]+)</strong>', listed)
    assert ("tara", "Tara Nguyen") in considered


async def test_a_conversation_back_in_the_queue_says_when_it_came_back_beside_its_wait(
    h: TestHarness,
) -> None:
    for rep in ("diego", "lena"):  # nobody else in Support can take it
        assert (
            await h.http.post("/api/me/presence", json={"presence": "offline"}, headers=bearer(rep))
        ).is_success
    conversation_id = await seed_conversation(h, "tara_support")
    h.clock.advance(minutes=16)  # Tara lets the response time run out: it goes back to the queue
    await h.service.tick()
    h.clock.advance(minutes=2)
    async with browser(h) as client:
        await sign_in(client, "admin", "demo-admin")
        inbox = (await client.get("/inbox?view=waiting&queue=support")).text
        page = (await client.get(f"/conversations/{conversation_id}")).text
    row = inbox[inbox.index(f'href="/conversations/{conversation_id}"') :].split("</li>")[0]
    assert "waiting 18m" in row, "its place in the queue is its first handoff's"
    assert "back in the queue 2m ago" in row
    assert "waiting in Tier 1 Technical Support for 18m, back in the queue 2m ago" in page


async def test_a_conversation_waiting_since_its_first_handoff_says_nothing_of_coming_back(
    h: TestHarness,
) -> None:
    conversation_id = await seed_conversation(h, "waiting_support")
    h.clock.advance(minutes=3)
    async with browser(h) as client:
        await sign_in(client, "lena", "demo-lena")
        page = (await client.get(f"/conversations/{conversation_id}")).text
    assert "waiting in Tier 1 Technical Support for 3m" in page
    assert "back in the queue" not in page

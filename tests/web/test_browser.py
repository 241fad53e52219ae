"""The workspace driven in a real browser (headless Chromium): a rep signs in, gets a conversation
assigned live (the alert hook fires), reads the context panel, replies (the reply reaches the Graph
API), adds a note with a mention, transfers it out of their sight and is back in their inbox; a lead
reassigns; a conversation taken from a rep by someone else says so and stops refreshing; a rep whose
session ends keeps what they were typing; a rep cannot open another rep's conversation by URL.

The customer's side is the real webhook path (`play_case`, the labelled-conversation player), so
the handoff, routing and assignment are the engine's own. With `HANDOFF_SCREENSHOTS=<dir>` the
journey also saves the README's screenshots there."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from orchestrator.core.enums import Direction, Owner
from orchestrator.core.tables import Message
from orchestrator.runtime.replay import play_case
from tests.api.helpers import Kind, seed_conversation
from tests.factories import text
from tests.fakes.graph import TestHarness

AD_LEAD: dict[str, Any] = {
    "id": "browser-ad-lead",
    "contact": {"wa_id": "447700900123", "name": "Ana Clarke"},
    "referral": {
        "source_url": "https://fb.me/demo-ad",
        "source_id": "120200000001",
        "source_type": "ad",
        "headline": "Sell more on WhatsApp",
        "body": "Free trial",
        "ctwa_clid": "browser-clid",
    },
    "turns": [
        {"text": "Hi! I saw your ad and want to know more"},
        {"text": "Our company is Northwind Traders"},
        {"text": "We want to answer order questions on WhatsApp and qualify wholesale leads"},
    ],
}
SCREENSHOTS = os.environ.get("HANDOFF_SCREENSHOTS")
TIMEOUT_MS = 15_000  # a bound on waiting for the page, not a speed assertion (CI machines are shared)
expect.set_options(timeout=TIMEOUT_MS)


def bearer(rep: str) -> dict[str, str]:
    return {"Authorization": f"Bearer demo-{rep}"}  # the demo reps' API tokens


async def shot(page: Page, name: str) -> None:
    if SCREENSHOTS:  # Playwright creates the directory
        await page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=False)


async def signed_in(
    chromium: Browser,
    site: str,
    user: str,
    secret: str,
    errors: list[str] | None = None,
    viewport: tuple[int, int] = (1360, 860),
) -> tuple[BrowserContext, Page]:
    context = await chromium.new_context(
        base_url=site,
        viewport={"width": viewport[0], "height": viewport[1]},
        permissions=["notifications"],
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    if errors is not None:  # script and console errors (a CSP violation among them)
        page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
        page.on(
            "console",
            lambda message: (
                errors.append(f"{message.text} ({message.location.get('url')})")
                if message.type == "error"
                else None
            ),
        )
    await page.goto("/inbox")
    await expect(page).to_have_url(f"{site}/login?next=/inbox")
    await page.get_by_label("User id").fill(user)
    await page.get_by_label("Password or API token").fill(secret)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{site}/inbox")
    await expect(page.locator("body")).to_have_attribute("data-stream", "live")
    return context, page


async def set_presence(h: TestHarness, presence: str, *reps: str) -> None:
    for rep in reps:
        response = await h.http.post("/api/me/presence", json={"presence": presence}, headers=bearer(rep))
        assert response.status_code == 200, response.text


async def test_rep_works_a_handoff_end_to_end_and_a_lead_reassigns(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    # UK Account Executives: Harry is the one rep available, so the qualified lead goes to him.
    await set_presence(h, "away", "olivia", "sam")
    errors: list[str] = []
    harry_context, harry = await signed_in(chromium, site, "harry", "demo-harry", errors)
    await expect(harry.locator(".conversation-row")).to_have_count(0)

    # The customer qualifies through the real webhook path; the inbox shows it without a reload.
    played = await play_case(h, h.service.config, AD_LEAD)
    handoff = played["handoff"]
    assert (handoff["queue"], handoff["assignee"]) == ("uk_sales", "harry")
    conversation_id = handoff["context"]["conversation_id"]
    row = harry.locator(f'.conversation-row[data-id="{conversation_id}"]')
    await expect(row).to_be_visible()
    await expect(row).to_contain_text("Ana Clarke")
    await harry.wait_for_function(
        "id => window.__handoffAlerts.some(a => a.kind === 'assigned' && a.conversation_id === id)",
        arg=conversation_id,
    )
    alert = await harry.evaluate(
        f"() => window.__handoffAlerts.find(a => a.conversation_id === {conversation_id})"
    )
    assert alert["notification"] is True  # the desktop notification was raised (permission granted)
    await seed_conversation(h, Kind("waiting_uk", Owner.QUEUED, "uk_sales", None), name="Priya Shah")
    await seed_conversation(h, Kind("waiting_uk", Owner.QUEUED, "uk_sales", None), name="Tom Baker")
    # Two more customers wait in Harry's queue: they appear live too (their handoff is on the stream).
    await expect(harry.locator(".conversation-row")).to_have_count(3)
    h.clock.advance(minutes=3)
    await harry.evaluate("() => htmx.trigger(document.body, 'handoffRefresh')")
    await expect(harry.locator(".conversation-row.waiting .wait").first).to_have_text("waiting 3m")
    await shot(harry, "inbox.png")

    # The context panel: why, what the customer said (each with the message it came from), the ad,
    # the routing explanation and the reps considered.
    await row.locator("a.open").click()
    await expect(harry).to_have_url(f"{site}/conversations/{conversation_id}")
    panel = harry.locator("#panel")
    await expect(panel.locator("#ctx-why")).to_contain_text("A qualified lead")
    company = panel.locator('[data-field="company_name"]')
    await expect(company).to_contain_text("Northwind Traders")
    await expect(company.locator(".source")).to_contain_text("Our company is Northwind Traders")
    await expect(panel.locator("#ctx-ad")).to_contain_text("Sell more on WhatsApp")
    await expect(panel.locator("#ctx-routing")).to_contain_text("Harry Jones")  # by name, not id
    await expect(panel.locator("#ctx-routing")).to_contain_text("presence away")  # Olivia, skipped

    # Reply: it goes out through the Graph API to the customer.
    sent_before = len(h.fake_graph.sent)
    composer = harry.locator("#composer-text")
    await composer.fill("Hello Ana, Harry here. Happy to help with Northwind's order questions.")
    await harry.locator("#composer-send").click()
    await expect(harry.locator("#timeline")).to_contain_text("Harry here")
    # Sent in the background: the tick turns from pending to sent live.
    await expect(harry.locator(".msg.outbound.from-rep .tick").last).to_have_text("✓")
    sent = h.fake_graph.sent[sent_before:]
    assert [(r["json"]["to"], r["json"]["text"]["body"]) for r in sent] == [
        ("+447700900123", "Hello Ana, Harry here. Happy to help with Northwind's order questions.")
    ]

    # A private note mentioning the lead: stored, never sent, and Sam is notified.
    await harry.keyboard.press("Escape")
    await harry.keyboard.press("n")
    await composer.fill("@sam they want wholesale pricing, can you join?")
    await harry.keyboard.press("Control+Enter")
    await expect(harry.locator(".note")).to_contain_text("wholesale pricing")
    await expect(harry.locator(".note .mention")).to_have_text("@sam")
    assert len(h.fake_graph.sent) == sent_before + 1
    mentions = (await h.http.get("/api/me/mentions", headers=bearer("sam"))).json()
    assert [m["note"]["text"] for m in mentions] == ["@sam they want wholesale pricing, can you join?"]
    await harry.keyboard.press("Escape")
    await harry.keyboard.press("r")
    await shot(harry, "conversation.png")

    assert errors == []  # no script error, nothing refused by the pages' CSP

    # Transfer to Enterprise Sales: out of Harry's sight, so he is back in his inbox, told why.
    await harry.locator("#transfer summary").click()
    await harry.locator('#transfer select[name="queue"]').select_option("sales")
    await harry.locator('#transfer textarea[name="note"]').fill("Wholesale deal, over to Sales")
    await harry.locator('#transfer button[type="submit"]').click()
    await expect(harry).to_have_url(f"{site}/inbox")
    await expect(harry.locator("#toasts")).to_contain_text("Transferred: it is no longer in your view.")
    await expect(harry.locator(f'[data-id="{conversation_id}"]')).to_have_count(0)
    blocked = await h.http.post(
        f"/api/conversations/{conversation_id}/messages", json={"text": "still me?"}, headers=bearer("harry")
    )
    assert blocked.status_code == 404
    detail = (await h.http.get(f"/api/conversations/{conversation_id}", headers=bearer("sam"))).json()
    assert detail["queue"] == "sales"
    first = detail["assignee_id"]
    assert first in ("alice", "bruno")
    await harry_context.close()

    # The lead's dashboard shows the queues as the API counts them.
    await set_presence(h, "away", "harry")
    await seed_conversation(h, Kind("waiting_uk", Owner.QUEUED, "uk_sales", None), name="Lucy Gray")
    h.clock.advance(minutes=4)
    sam_context, sam = await signed_in(chromium, site, "sam", "demo-sam")
    await sam.goto("/dashboard")
    uk_sales = (await h.http.get("/api/queues/uk_sales", headers=bearer("sam"))).json()
    assert uk_sales["depth"] >= 1
    await expect(sam.locator('tr[data-queue="uk_sales"] .depth')).to_have_text(str(uk_sales["depth"]))
    await expect(sam.locator('section.queue-card[data-queue="uk_sales"]')).to_contain_text("Lucy Gray")
    await shot(sam, "dashboard.png")

    # The lead reassigns it by name from the page.
    await sam.goto(f"/conversations/{conversation_id}")
    await expect(sam.locator(".note")).to_contain_text("wholesale pricing")  # the note travelled
    other = "bruno" if first == "alice" else "alice"
    await sam.locator("#reassign summary").click()
    await sam.locator('#reassign select[name="rep_id"]').select_option(other)
    await sam.locator('#reassign button[type="submit"]').click()
    names = {"alice": "Alice Morgan", "bruno": "Bruno Silva"}
    await expect(sam.locator("#state .owner")).to_contain_text(f"with {names[other]}")
    after = (await h.http.get(f"/api/conversations/{conversation_id}", headers=bearer("sam"))).json()
    assert after["assignee_id"] == other
    await sam_context.close()


async def test_rep_cannot_open_another_reps_conversation_by_url(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    farahs = await seed_conversation(h, "farah_billing", name="Private Billing Customer")
    context, tara = await signed_in(chromium, site, "tara", "demo-tara")
    response = await tara.goto(f"/conversations/{farahs}")
    assert response is not None
    assert response.status == 404
    await expect(tara.locator("h1")).to_have_text("Conversation not found")
    await expect(tara.locator("body")).not_to_contain_text("Private Billing Customer")
    await context.close()


async def test_rep_takes_a_waiting_conversation_with_the_keyboard_on_a_phone(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    await h.http.post("/api/me/auto-assign", json={"enabled": False}, headers=bearer("diego"))
    waiting = await seed_conversation(h, "waiting_support", name="Waiting Walter")
    context = await chromium.new_context(base_url=site, viewport={"width": 390, "height": 844})
    context.set_default_timeout(TIMEOUT_MS)
    diego = await context.new_page()
    await diego.goto("/login")
    await diego.get_by_label("User id").fill("diego")
    await diego.get_by_label("Password or API token").fill("demo-diego")
    await diego.get_by_role("button", name="Sign in").click()
    await expect(diego.locator(".conversation-row")).to_have_count(1)
    # Nothing wider than the phone's screen.
    assert await diego.evaluate("() => document.documentElement.scrollWidth") <= 390
    await diego.keyboard.press("?")
    await expect(diego.locator("#help")).to_be_visible()
    await diego.keyboard.press("Escape")
    await expect(diego.locator("#help")).to_be_hidden()
    await diego.keyboard.press("j")
    await expect(diego.locator(".conversation-row.selected")).to_have_attribute("data-id", str(waiting))
    await diego.keyboard.press("t")
    await expect(diego).to_have_url(f"{site}/conversations/{waiting}")
    await expect(diego.locator("#state")).to_have_attribute("data-can-write", "1")
    assert await diego.evaluate("() => document.documentElement.scrollWidth") <= 390
    detail = (await h.http.get(f"/api/conversations/{waiting}", headers=bearer("diego"))).json()
    assert (detail["owner"], detail["assignee_id"]) == ("human", "diego")
    await context.close()


async def test_on_a_phone_the_transcript_scrolls_with_the_page_and_the_latest_message_sits_above_the_composer(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    conversation_id = await seed_conversation(h, "tara_support", name="Long Talker")
    now = h.clock.now()
    async with h.service.sessions() as session, session.begin():
        for n in range(30):
            inbound = n % 2 == 0
            session.add(
                Message(
                    conversation_id=conversation_id,
                    direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                    kind="text",
                    text=f"message number {n}: " + "a few words to fill a line or two " * 3,
                    sender_type="customer" if inbound else "rep",
                    sender_id=None if inbound else "tara",
                    status="received" if inbound else "sent",
                    sent_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
    context, tara = await signed_in(chromium, site, "tara", "demo-tara", viewport=(390, 844))
    await tara.goto(f"/conversations/{conversation_id}")
    await expect(tara.locator("body")).to_have_attribute("data-stream", "live")
    await expect(tara.locator("#timeline")).to_contain_text("message number 29")
    layout = """() => {
        const timeline = document.getElementById("timeline");
        const last = [...timeline.querySelectorAll(".msg")].pop().getBoundingClientRect();
        const composer = document.getElementById("composer").getBoundingClientRect();
        return {
            inner_scroll: timeline.scrollHeight - timeline.clientHeight,
            page_scrolls: document.documentElement.scrollHeight > window.innerHeight,
            last_top: last.top, last_bottom: last.bottom,
            composer_top: composer.top, composer_bottom: composer.bottom, screen: window.innerHeight,
        };
    }"""
    seen = await tara.evaluate(layout)
    assert seen["inner_scroll"] <= 1, "the transcript is no box scrolling inside the page"
    assert seen["page_scrolls"]
    assert seen["composer_top"] >= 0, "the composer is on screen"
    assert seen["composer_bottom"] <= seen["screen"]
    assert seen["last_top"] >= 0, "the latest message is on screen"
    assert seen["last_bottom"] <= seen["composer_top"] + 1, "and not under the composer"
    assert await tara.evaluate("() => document.documentElement.scrollWidth") <= 390
    # Who is signed in stays in sight on a phone, by first name.
    await expect(tara.locator(".topbar .who")).to_be_visible()
    await expect(tara.locator(".topbar .who")).to_have_attribute("title", "Tara Nguyen (rep)")
    assert (await tara.locator(".topbar .who").inner_text()).strip() == "Tara"

    detail = (await h.http.get(f"/api/conversations/{conversation_id}", headers=bearer("tara"))).json()
    wa_id = detail["contact_wa_id"]
    h.clock.advance(seconds=5)
    assert (await h.post(text(wa_id, "one more thing, live", h.clock.now()))).status_code == 200
    await expect(tara.locator("#timeline")).to_contain_text("one more thing, live")
    await tara.wait_for_timeout(200)  # the swap's scroll has run
    seen = await tara.evaluate(layout)
    assert seen["last_top"] >= 0, "a live message is brought into view when the rep was at the end"
    assert seen["last_bottom"] <= seen["composer_top"] + 1
    await shot(tara, "conversation-phone.png")
    await context.close()


async def test_rep_hands_back_to_the_bot_and_resolves_from_the_page(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    back = await seed_conversation(h, "tara_support", name="Back To Bot")
    done = await seed_conversation(h, "tara_support", name="All Done")
    errors: list[str] = []
    context, tara = await signed_in(chromium, site, "tara", "demo-tara", errors)

    await tara.goto(f"/conversations/{back}")
    assert errors == []
    await tara.locator("#hand-back summary").click()
    await tara.locator('#hand-back textarea[name="note"]').fill("Password reset done; nothing else pending")
    await tara.locator('#hand-back button[type="submit"]').click()
    # Back with the bot, it is no longer a rep's to see: she is back in her inbox, told so.
    await expect(tara).to_have_url(f"{site}/inbox")
    await expect(tara.locator("#toasts")).to_contain_text("Handed back to the bot")
    returned = (await h.http.get(f"/api/conversations/{back}", headers=bearer("admin"))).json()
    assert (returned["owner"], returned["assignee_id"]) == ("bot", None)
    # Whether she still sees it is asked of the API (a 404: no), and a refresh in flight when it left
    # her sight may answer 404 too: expected, and only those.
    gone = re.compile(rf"/conversations/{back}(/fragments/\w+)?\)$")

    await tara.goto(f"/conversations/{done}")
    tara.once("dialog", lambda dialog: dialog.accept())
    await tara.keyboard.press("e")  # resolve, confirmed
    await expect(tara.locator("#state")).to_have_attribute("data-owner", "closed")
    await expect(tara.locator("#composer-hint")).to_contain_text("This conversation is resolved")
    closed = (await h.http.get(f"/api/conversations/{done}", headers=bearer("tara"))).json()
    assert closed["owner"] == "closed"
    assert [e for e in errors if not gone.search(e)] == []
    assert all("404" in e for e in errors), errors
    await context.close()


async def test_the_reasons_signals_are_named_in_words_and_stay_inside_the_context_panel(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    # A frustration signal's rule is the lexicon's alternatives joined without spaces
    # ("lexicon:third/3rd/fourth/4th/..."): a tooltip on the signal's name, not text that sticks out
    # of the panel.
    angry = {
        "id": "browser-frustrated",
        "contact": {"wa_id": "15550009876", "name": "Frank Angry"},
        "turns": [{"text": "this is the third time I ask, your app keeps crashing and nobody answers!!"}],
    }
    played = await play_case(h, h.service.config, angry)
    handoff = played["handoff"]
    assert handoff is not None
    assert handoff["reason"] == "frustration"
    rep = handoff["assignee"]
    context, page = await signed_in(chromium, site, rep, f"demo-{rep}")
    await page.goto(f"/conversations/{handoff['context']['conversation_id']}")
    signals = page.locator("#ctx-why .signals li")
    await expect(signals.first).to_contain_text("Frustration · “third time I ask")
    await expect(signals.first.locator("strong")).to_have_attribute("title", re.compile(r"lexicon:third/3rd"))
    widths = await page.evaluate(
        "() => { const card = document.querySelector('#ctx-why');"
        " return [card.scrollWidth, card.clientWidth]; }"
    )
    assert widths[0] <= widths[1], f"the panel's content is {widths[0]} px wide in a card of {widths[1]} px"
    await context.close()


async def test_the_new_rep_forms_queue_boxes_sit_beside_their_names(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    # Each queue's checkbox and name on one line, the box a box: an input stretched to the width of
    # a form field pushed the names into narrow columns, broken over three lines.
    context, page = await signed_in(chromium, site, "admin", "demo-admin")
    await page.goto("/team/reps")
    boxes = page.locator("#rep-new .queue-boxes label.check")
    await expect(boxes.first).to_be_visible()
    sizes = await boxes.evaluate_all(
        "labels => labels.map(l => { const box = l.querySelector('input').getBoundingClientRect();"
        " const line = parseFloat(getComputedStyle(l).lineHeight) || 20;"
        " return [l.textContent.trim(), box.width, l.getBoundingClientRect().height, line]; })"
    )
    assert len(sizes) == len(h.service.config.queues)
    for name, box_width, height, line in sizes:
        assert box_width < 30, f"the box of {name!r} is {box_width} px wide"
        assert height < 1.6 * line, f"{name!r} takes {height} px, lines of {line} px"
    await context.close()


async def test_a_conversation_taken_away_by_a_lead_says_so_and_stops_asking_for_its_fragments(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    taken = await seed_conversation(h, "tara_support", name="Taken Away")
    context, tara = await signed_in(chromium, site, "tara", "demo-tara")
    fragments: list[str] = []
    tara.on("request", lambda r: fragments.append(r.url) if "/fragments/" in r.url else None)
    await tara.goto(f"/conversations/{taken}")
    # The page hears of the transfer through its event stream: connected before the transfer.
    await expect(tara.locator("body")).to_have_attribute("data-stream", "live")
    moved = await h.http.post(
        f"/api/conversations/{taken}/transfer", json={"queue": "billing"}, headers=bearer("admin")
    )
    assert moved.status_code == 200, moved.text
    await expect(tara.locator("#state")).to_have_attribute("data-owner", "gone")
    await expect(tara.locator("#composer-hint")).to_contain_text("no longer yours")
    await expect(tara.locator("#composer-send")).to_be_disabled()
    asked = len(fragments)
    for _ in range(3):  # more live events for the page: none of them reloads a fragment now
        await tara.evaluate("htmx.trigger(document.body, 'handoffRefresh')")
    await tara.wait_for_timeout(500)
    assert len(fragments) == asked
    await context.close()


async def test_a_transfer_note_being_typed_survives_live_refreshes_and_the_bar_reloads_once_closed(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    conversation = await seed_conversation(h, "tara_support", name="Half Typed")
    context, tara = await signed_in(chromium, site, "tara", "demo-tara")
    reloads: list[str] = []
    tara.on("request", lambda r: reloads.append(r.url) if r.url.endswith("/fragments/state") else None)
    await tara.goto(f"/conversations/{conversation}")
    await expect(tara.locator("body")).to_have_attribute("data-stream", "live")
    await tara.locator("#transfer summary").click()
    note = tara.locator('#transfer textarea[name="note"]')
    await note.fill("Wants a refund for March, I")
    for _ in range(3):  # live events while the rep types: the open form is not swapped away
        await tara.evaluate("htmx.trigger(document.body, 'handoffRefresh')")
    await tara.wait_for_timeout(300)
    assert reloads == []
    await expect(note).to_have_value("Wants a refund for March, I")
    await expect(tara.locator("#transfer")).to_have_attribute("open", "")
    async with tara.expect_request(lambda r: r.url.endswith("/fragments/state")):
        await tara.locator("#transfer summary").click()  # closed: the bar catches up once
    await context.close()


async def test_what_happens_before_the_page_connects_its_stream_still_reaches_the_page(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    # The transfer commits after the page was rendered and before its event stream connected (held
    # back here): the stream starts after the newest event the page was rendered with, so it is
    # replayed, not lost.
    taken = await seed_conversation(h, "tara_support", name="Taken Early")
    context, tara = await signed_in(chromium, site, "tara", "demo-tara")
    transferred = asyncio.Event()
    streams: list[str] = []

    async def hold(route: Route) -> None:
        streams.append(route.request.url)
        await transferred.wait()
        await route.continue_()

    await tara.route("**/api/stream*", hold)
    await tara.goto(f"/conversations/{taken}")
    await expect(tara.locator("body")).to_have_attribute("data-stream", "connecting")
    moved = await h.http.post(
        f"/api/conversations/{taken}/transfer", json={"queue": "billing"}, headers=bearer("admin")
    )
    assert moved.status_code == 200, moved.text
    transferred.set()
    await expect(tara.locator("body")).to_have_attribute("data-stream", "live")
    await expect(tara.locator("#state")).to_have_attribute("data-owner", "gone")
    await expect(tara.locator("#composer-hint")).to_contain_text("no longer yours")
    assert re.search(r"/api/stream\?after=\d+$", streams[0]), streams
    await context.close()


async def test_what_a_rep_was_typing_survives_their_session_ending(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    mine = await seed_conversation(h, "tara_support", name="Draft Kept")
    context, tara = await signed_in(chromium, site, "tara", "demo-tara")
    await tara.goto(f"/conversations/{mine}")
    await tara.locator("#composer-text").fill("Your refund of 42 EUR was approved today")
    await context.clear_cookies()  # the session ends (signed out elsewhere, or timed out)
    await tara.locator("#composer-send").click()
    await expect(tara).to_have_url(f"{site}/login?expired=1&next=%2Fconversations%2F{mine}")
    await expect(tara.locator(".notice")).to_contain_text("Your session has ended")
    await tara.get_by_label("User id").fill("tara")
    await tara.get_by_label("Password or API token").fill("demo-tara")
    await tara.get_by_role("button", name="Sign in").click()
    await expect(tara).to_have_url(f"{site}/conversations/{mine}")
    await expect(tara.locator("#composer-text")).to_have_value("Your refund of 42 EUR was approved today")
    await tara.locator("#composer-send").click()
    await expect(tara.locator("#composer-text")).to_have_value("")
    # Sent in the background: once the page shows it sent, the Graph API has it.
    await expect(tara.locator(".msg.outbound.from-rep .tick").last).to_have_text("✓")
    sent = [m["json"]["text"]["body"] for m in h.fake_graph.sent if m["json"].get("type") == "text"]
    assert sent[-1:] == ["Your refund of 42 EUR was approved today"]
    await tara.reload()  # sent: nothing is put back
    await expect(tara.locator("#composer-text")).to_have_value("")
    await context.close()


async def test_what_a_rep_was_typing_is_dropped_when_they_sign_out_and_never_shown_to_another(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    # A shared computer: Tara leaves a draft behind and signs out; Lena signs in at the same browser.
    shared = await seed_conversation(h, "tara_support", name="Shared Desk")
    context, page = await signed_in(chromium, site, "tara", "demo-tara")
    await page.goto(f"/conversations/{shared}")
    await page.locator("#composer-text").fill("Card ending 4111, refund approved")
    await page.goto("/inbox")  # left the page: the draft is kept for her
    kept = await page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('handoff-draft-'))")
    assert kept == [f"handoff-draft-tara-{shared}"]
    await page.locator("#sign-out").click()
    await expect(page).to_have_url(re.compile(r"/login"))
    assert await page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('handoff-draft-'))") == []
    await page.get_by_label("User id").fill("lena")
    await page.get_by_label("Password or API token").fill("demo-lena")
    await page.get_by_role("button", name="Sign in").click()
    await page.goto(f"/conversations/{shared}")
    await expect(page.locator("#composer-text")).to_have_value("")
    await context.close()


async def test_a_lead_reads_the_dashboards_figures_by_name_on_a_phone(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    await seed_conversation(h, "waiting_support", name="Waiting Wendy")
    context, lena = await signed_in(chromium, site, "lena", "demo-lena", viewport=(390, 844))
    await lena.goto("/dashboard")
    row = lena.locator('tr[data-queue="support"]')
    await expect(row).to_be_visible()
    assert await lena.locator("table.queues thead").is_hidden()  # the header row is not shown...
    labels = await row.locator("td").evaluate_all(
        "cells => cells.map(c => getComputedStyle(c, '::before').content)"
    )
    # ...so each figure says which it is.
    assert labels[1:] == [
        '"Waiting"',
        '"Longest wait"',
        '"Reps online"',
        '"Available"',
        '"Active"',
        '"SLA breaches, 24 h"',
    ]
    assert await lena.evaluate("() => document.documentElement.scrollWidth") <= 390
    await shot(lena, "dashboard-phone.png")
    await context.close()


async def test_an_admin_reads_the_team_pages_on_a_phone_without_scrolling_sideways(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    await seed_conversation(h, "tara_support", name="Ana Clarke")
    context, admin = await signed_in(chromium, site, "admin", "demo-admin", viewport=(390, 844))
    for path in ("/team/metrics", "/team/reps", "/team/audit"):
        await admin.goto(path)
        await expect(admin.locator("table.team-table tbody tr").first).to_be_visible()
        assert await admin.evaluate("() => document.documentElement.scrollWidth") <= 390, path
    await admin.goto("/team/reps")
    disable = admin.locator('tr[data-rep="tara"] button', has_text="Disable")
    box = await disable.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= 390, "the row's buttons are on screen"
    await admin.goto("/team/metrics")
    labels = await admin.locator('tr[data-rep="tara"] td').evaluate_all(
        "cells => cells.map(c => getComputedStyle(c, '::before').content)"
    )
    assert '"Assigned"' in labels, labels  # each figure says which it is
    await shot(admin, "team-metrics-phone.png")
    await admin.goto("/team/reps")
    await shot(admin, "team-reps-phone.png")
    await context.close()

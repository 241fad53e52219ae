"""The composer's helpers and the team pages in a real browser (headless Chromium): a rep inserts a
canned reply with `/` and sends it; with the 24-hour window closed the composer says so and sends a
template; an admin creates a rep, sets their queues and capacity and issues a token that works on
the bearer API; the audit page lists the admin's actions; a rep cannot open the team pages; the
panel lists the customer's earlier conversations. With `HANDOFF_SCREENSHOTS=<dir>` the pages are
also saved there for the docs."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.async_api import Browser, expect
from sqlalchemy import update
from sqlmodel import col

from handoff.models import Assignment
from orchestrator.core.enums import AssignmentStatus, Owner
from orchestrator.core.tables import Contact, Conversation
from tests.api.helpers import Kind, bearer, seed_conversation
from tests.fakes.graph import TestHarness
from tests.web.test_browser import shot, signed_in


async def test_a_rep_inserts_a_canned_reply_with_slash_and_sends_it(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    for body in (
        {
            "shortcut": "hello",
            "title": "Greeting",
            "text": "Hi {customer_first_name}, {rep_first_name} here.",
        },
        {
            "shortcut": "help",
            "title": "Reset help",
            "text": "You can reset it in Settings.",
            "queue": "support",
        },
        {"shortcut": "hours", "title": "Hours", "text": "We are open 9 to 5.", "queue": "billing"},
    ):
        created = await h.http.post("/api/canned-replies", json=body, headers=bearer("admin"))
        assert created.status_code == 201, created.text
    closed = await seed_conversation(h, "closed_tara", name="Ana Clarke")
    h.clock.advance(minutes=1)
    conversation_id = await seed_conversation(h, "tara_support", name="Ana Clarke")
    async with h.service.sessions() as session, session.begin():
        current = await session.get(Conversation, conversation_id)
        assert current is not None
        await session.execute(
            update(Conversation).where(col(Conversation.id) == closed).values(contact_id=current.contact_id)
        )
    errors: list[str] = []
    context, page = await signed_in(chromium, site, "tara", "demo-tara", errors)
    await page.goto(f"/conversations/{conversation_id}")
    # The panel lists the customer's earlier conversation, linked.
    await expect(page.locator(f'#ctx-earlier [data-earlier="{closed}"] a')).to_have_attribute(
        "href", f"/conversations/{closed}"
    )
    await expect(page.locator("#ctx-earlier")).to_contain_text("I need help with my account")

    box = page.locator("#composer-text")
    await box.click()
    await page.keyboard.type("/")
    menu = page.locator("#canned-menu")
    await expect(menu).to_be_visible()
    # Team-wide and this queue's replies, not billing's.
    await expect(menu.locator("[role=option]")).to_have_count(2)
    await page.keyboard.type("he")
    await expect(menu.locator("[role=option]")).to_have_count(2)
    await page.keyboard.press("ArrowDown")
    await expect(menu.locator('[aria-selected="true"]')).to_have_attribute("data-shortcut", "help")
    await page.keyboard.press("ArrowUp")
    await expect(menu.locator('[aria-selected="true"]')).to_have_attribute("data-shortcut", "hello")
    await shot(page, "canned-replies-menu.png")
    await page.keyboard.press("Enter")
    await expect(menu).to_be_hidden()
    await expect(box).to_have_value("Hi Ana, Tara here.")
    # Esc closes the menu without inserting anything.
    await box.fill("")
    await page.keyboard.type("/hel")
    await expect(menu).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(menu).to_be_hidden()
    await expect(box).to_have_value("/hel")
    await box.fill("")
    await page.keyboard.type("/help")
    await page.keyboard.press("Enter")
    await expect(box).to_have_value("You can reset it in Settings.")

    sent_before = len(h.fake_graph.sent)
    await page.locator("#composer-send").click()
    await expect(page.locator("#timeline")).to_contain_text("You can reset it in Settings.")
    sent = h.fake_graph.sent[sent_before:]
    assert [(r["json"]["type"], r["json"]["text"]["body"]) for r in sent] == [
        ("text", "You can reset it in Settings.")
    ]
    assert errors == []
    await context.close()


async def test_with_the_window_closed_the_composer_says_so_and_sends_a_template(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    conversation_id = await seed_conversation(
        h, "tara_support", name="Jessica Lee", last_inbound_at=h.clock.now() - timedelta(hours=30)
    )
    errors: list[str] = []
    context, page = await signed_in(chromium, site, "tara", "demo-tara", errors)
    await page.goto(f"/conversations/{conversation_id}")
    closed_at = (h.clock.now() - timedelta(hours=6)).strftime("%d %b %H:%M UTC")
    await expect(page.locator("#state .badge.window")).to_have_text(
        f"24-hour window closed since {closed_at}"
    )
    await expect(page.locator("#composer-hint")).to_contain_text("window is closed")
    await expect(page.locator("#composer-text")).to_be_disabled()
    picker = page.locator("#template-picker")
    await expect(picker).to_be_visible()
    await page.locator("#template-choice").select_option("order_confirmation|en_US")
    fields = page.locator("#template-fields input")
    await expect(fields).to_have_count(2)
    await page.locator('#template-fields input[data-parameter="first_name"]').fill("Jessica")
    await expect(page.locator("#template-preview")).to_have_text(
        "Hi Jessica, your order {{order_number}} is confirmed. Reply here if you have any questions."
    )
    await page.locator('#template-fields input[data-parameter="order_number"]').fill("SKBUP2-4CPIG9")
    await expect(page.locator("#template-preview")).to_contain_text("your order SKBUP2-4CPIG9 is confirmed")
    await shot(page, "template-picker.png")
    sent_before = len(h.fake_graph.sent)
    await page.locator("#template-send").click()
    await expect(page.locator("#timeline")).to_contain_text("your order SKBUP2-4CPIG9 is confirmed")
    sent = h.fake_graph.sent[sent_before:]
    assert len(sent) == 1
    assert sent[0]["json"]["type"] == "template"
    assert sent[0]["json"]["template"] == {
        "name": "order_confirmation",
        "language": {"code": "en_US"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "parameter_name": "first_name", "text": "Jessica"},
                    {"type": "text", "parameter_name": "order_number", "text": "SKBUP2-4CPIG9"},
                ],
            }
        ],
    }

    # A positional one in Spanish.
    await page.locator("#template-choice").select_option("follow_up|es")
    await page.locator('#template-fields input[data-parameter="1"]').fill("Jessica")
    await page.locator('#template-fields input[data-parameter="2"]').fill("#42")
    await page.locator("#template-send").click()
    await expect(page.locator("#timeline")).to_contain_text("Hola Jessica")
    last = h.fake_graph.sent[-1]["json"]["template"]
    assert last["language"] == {"code": "es"}
    assert last["components"][0]["parameters"] == [
        {"type": "text", "text": "Jessica"},
        {"type": "text", "text": "#42"},
    ]
    # The private note tab does not offer templates.
    await page.locator('.composer-tabs [data-mode="note"]').click()
    await expect(picker).to_be_hidden()
    assert errors == []
    await context.close()


async def test_an_admin_creates_a_rep_sets_queues_and_capacity_and_issues_a_working_token(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    errors: list[str] = []
    context, page = await signed_in(chromium, site, "admin", "demo-admin", errors)
    await page.goto("/team/reps")
    new = page.locator("#rep-new")
    await new.locator('input[name="id"]').fill("nora")
    await new.locator('input[name="name"]').fill("Nora Quinn")
    await new.locator('input[name="capacity"]').fill("3")
    await new.locator('input[name="queues"][value="support"]').check()
    await new.locator('button[type="submit"]').click()
    row = page.locator('tr[data-rep="nora"]')
    await expect(row).to_contain_text("Nora Quinn")
    await expect(row.locator('[data-col="sign-in"]')).to_contain_text("disabled")

    # Queues and capacity.
    await row.locator("details.action summary").click()
    edit = row.locator("form[data-api]")
    await edit.locator('input[name="capacity"]').fill("7")
    await edit.locator('input[name="queues"][value="billing"]').check()
    await edit.locator('button[type="submit"]').click()
    row = page.locator('tr[data-rep="nora"]')
    await expect(row.locator('[data-col="capacity"]')).to_have_text("0 / 7")
    await expect(row.locator('[data-col="queues"]')).to_contain_text("Finance")
    await expect(row.locator('[data-col="queues"]')).to_contain_text("Tier 1 Technical Support")

    # A token, shown once, that works on the bearer API.
    await row.get_by_role("button", name="Enable: issue a token").click()
    token_box = page.locator("#token-box")
    await expect(token_box).to_be_visible()
    token = (await page.locator("#issued-token").text_content() or "").strip()
    assert token.startswith("hk_")
    await expect(token_box.locator(".replaced")).to_be_hidden()  # Nora had no token to replace
    await shot(page, "team-reps.png")
    me = await h.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["id"] == "nora"
    assert sorted(me.json()["queues"]) == ["billing", "support"]
    assert me.json()["capacity"] == 7

    # Revoked, the token stops working; disabled, a rep can no longer sign in at all.
    page.on("dialog", lambda dialog: dialog.accept())
    await page.locator("#token-done").click()
    row = page.locator('tr[data-rep="nora"]')
    await row.get_by_role("button", name="Revoke token").click()
    await expect(row.locator('[data-col="sign-in"]')).to_contain_text("disabled")
    assert (await h.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    gus = page.locator('tr[data-rep="gus"]')
    await gus.get_by_role("button", name="Disable").click()
    await expect(gus.locator('[data-col="sign-in"]')).to_contain_text("disabled")
    assert (await h.http.get("/api/me", headers=bearer("demo-gus"))).status_code == 401

    # The audit page lists what the admin did.
    await page.goto("/team/audit?actor=admin")
    log = page.locator("#audit-log")
    for action, words in (
        ("user_created", "Created a user"),
        ("user_updated", "Changed a user"),
        ("api_token_issued", "Issued an API token"),
        ("api_token_revoked", "Revoked an API token"),
    ):
        entry = log.locator(f'tr[data-action="{action}"]').first
        await expect(entry).to_contain_text("Nora Quinn")  # the rep by name, the admin too
        await expect(entry.locator("td").nth(1)).to_have_text("Admin")
        await expect(entry).to_contain_text(words)  # in words, not the code
    await shot(page, "team-audit.png")
    await page.locator('#audit-filters select[name="action"]').select_option(label="Issued an API token")
    await page.locator('#audit-filters button[type="submit"]').click()
    await expect(log.locator("tbody tr")).to_have_count(1)
    await expect(page.locator('#audit-filters select[name="action"]')).to_have_value("api_token_issued")
    await page.goto("/team/metrics")
    await expect(page.locator('#rep-metrics tr[data-rep="nora"]')).to_contain_text("Nora Quinn")
    assert errors == []
    await context.close()


async def test_a_rep_cannot_open_the_team_pages(h: TestHarness, site: str, chromium: Browser) -> None:
    context, page = await signed_in(chromium, site, "tara", "demo-tara")
    for path in ("/team/reps", "/team/audit", "/team/metrics", "/team/canned"):
        response = await page.goto(path)
        assert response is not None
        assert response.status == 403, path
        await expect(page.locator("main")).to_contain_text("for team leads and admins")
    await expect(page.locator(".topbar nav")).not_to_contain_text("Team")
    await context.close()


async def test_a_lead_sees_their_teams_reps_read_only_and_manages_their_queues_canned_replies(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    await seed_conversation(h, Kind("waiting", Owner.QUEUED, "support", None))
    context, page = await signed_in(chromium, site, "lena", "demo-lena")
    await page.goto("/team/reps")
    rows = page.locator("#rep-list tbody tr")
    await expect(rows).to_have_count(4)  # tara, diego, lena, eve
    await expect(page.locator("#rep-new")).to_have_count(0)
    await expect(page.locator("#rep-list form, #rep-list button")).to_have_count(0)

    await page.goto("/team/canned")
    form = page.locator("#canned-new")
    await expect(form.locator('select[name="queue"] option')).to_have_count(2)  # support, senior_eng.
    await form.locator('input[name="shortcut"]').fill("thanks")
    await form.locator('input[name="title"]').fill("Thanks")
    await form.locator('textarea[name="text"]').fill("Thanks {first_name}!")
    await form.locator('button[type="submit"]').click()
    refused = page.locator(".toast.error")
    await expect(refused).to_contain_text("text: unknown placeholder")  # the field, as people read it
    assert "body." not in (await refused.first.text_content() or "")
    await form.locator('textarea[name="text"]').fill("Thanks {customer_first_name}!")
    await form.locator('button[type="submit"]').click()
    await expect(page.locator('tr[data-canned="thanks"]')).to_contain_text("Tier 1 Technical Support")
    await expect(page.locator('tr[data-canned="thanks"]')).to_contain_text("Lena Fischer ·")  # by name
    await shot(page, "team-canned.png")
    listed = (await h.http.get("/api/canned-replies", headers=bearer("tara"))).json()
    assert [(r["shortcut"], r["queue"], r["created_by"]) for r in listed] == [("thanks", "support", "lena")]
    page.on("dialog", lambda dialog: dialog.accept())
    await page.locator('tr[data-canned="thanks"]').get_by_role("button", name="Delete").click()
    await expect(page.locator('tr[data-canned="thanks"]')).to_have_count(0)
    assert (await h.http.get("/api/canned-replies", headers=bearer("tara"))).json() == []
    await context.close()


async def test_a_lead_reads_their_teams_medians_on_the_metrics_page(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    now = h.clock.now()
    # rep: [(first response after, handled in, resolved, SLA breached)]
    timings: dict[str, list[tuple[int, int | None, bool, bool]]] = {
        "tara": [(30, 20 * 60, True, False), (90, 40 * 60, True, True), (45, None, False, False)],
        "diego": [(600, 3 * 3600, False, True)],
    }
    for rep, rows in timings.items():
        for first, handled, resolved, breached in rows:
            kind = Kind("done", Owner.CLOSED if handled else Owner.HUMAN, "support", rep)
            conversation_id = await seed_conversation(h, kind)
            async with h.service.sessions() as session, session.begin():
                await session.execute(
                    update(Assignment)
                    .where(col(Assignment.conversation_id) == conversation_id)
                    .values(
                        assigned_at=now,
                        first_response_at=now + timedelta(seconds=first),
                        ended_at=now + timedelta(seconds=handled) if handled else None,
                        status=(AssignmentStatus.RESOLVED if resolved else AssignmentStatus.TRANSFERRED)
                        if handled
                        else AssignmentStatus.ACTIVE,
                        sla_breached_at=now + timedelta(minutes=5) if breached else None,
                    )
                )
    context, page = await signed_in(chromium, site, "lena", "demo-lena")
    await page.goto("/team/metrics")
    tara = page.locator('#rep-metrics tr[data-rep="tara"]')
    await expect(tara.locator('[data-col="handled"]')).to_have_text("3")
    await expect(tara.locator('[data-col="first-response"]')).to_have_text("45s")
    await expect(tara.locator('[data-col="handling"]')).to_have_text("30m")
    await expect(tara.locator('[data-col="sla"]')).to_have_text("1")
    await expect(tara.locator('[data-col="resolved"]')).to_have_text("2")
    diego = page.locator('#rep-metrics tr[data-rep="diego"]')
    await expect(diego.locator('[data-col="first-response"]')).to_have_text("10m")
    await expect(diego.locator('[data-col="handling"]')).to_have_text("3h 00m")
    await expect(diego.locator('[data-col="resolved"]')).to_have_text("0")
    await expect(page.locator("#rep-metrics tbody tr")).to_have_count(4)  # Lena's two departments
    await shot(page, "team-metrics.png")
    await context.close()


async def test_an_admin_erases_a_customer_from_the_customers_data_page(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    forgotten = await seed_conversation(h, "tara_support", name="Forget Me")
    async with h.service.sessions() as session:
        contact = await session.get_one(Contact, (await session.get_one(Conversation, forgotten)).contact_id)
    assert contact.wa_id is not None
    typed = f"+{contact.wa_id[:4]} {contact.wa_id[4:8]} {contact.wa_id[8:]}"  # as people write numbers
    context, page = await signed_in(chromium, site, "admin", "demo-admin")
    await page.goto("/team/privacy")
    await page.get_by_label("WhatsApp number or user id").fill(typed)
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Erase this customer").click()
    # In words, without "(s)", and only the kinds there were any of.
    await expect(page.locator("#erase-result")).to_have_text(
        re.compile(r"^Erased: 1 conversation, \d+ messages?, ")
    )
    await expect(page.locator("#erase-result")).not_to_contain_text("(s)")
    await expect(page.locator("#erase-result")).not_to_contain_text(" 0 ")
    await shot(page, "team-privacy.png")
    # A second erase that is refused does not leave the first one's result beside its error.
    await page.get_by_label("WhatsApp number or user id").fill(typed)
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Erase this customer").click()
    await expect(page.locator("#erase-result")).to_be_hidden()
    await context.close()
    gone = await h.http.get(f"/api/conversations/{forgotten}", headers=bearer("admin"))
    assert gone.status_code == 404

    context, lead = await signed_in(chromium, site, "lena", "demo-lena")
    await lead.goto("/team/reps")
    await expect(lead.locator(".team-nav")).not_to_contain_text("Customers' data")
    refused = await lead.goto("/team/privacy")
    assert refused is not None
    assert refused.status == 403
    await context.close()


async def test_a_reply_after_the_conversation_moved_is_refused_plainly_and_nothing_typed_is_lost(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    """The rep's live stream is down while a lead reassigns the conversation; Send then says why it
    was not sent, keeps the text, and the page turns read-only. A paste longer than WhatsApp takes
    is counted, not cut, and refused with the reason. Right-to-left words line up from their side."""
    conversation_id = await seed_conversation(h, "tara_support", name="فاطمة الزهراء")
    errors: list[str] = []
    context, page = await signed_in(chromium, site, "tara", "demo-tara", errors)
    await page.goto(f"/conversations/{conversation_id}")
    await expect(page.locator("#state h1 bdi")).to_have_text("فاطمة الزهراء")
    long = "x" * 5000
    await page.locator("#composer-text").fill(long)
    await expect(page.locator("#composer-count")).to_have_text("5,000 / 4,096")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#toasts")).to_contain_text("Too long to send: 5,000 characters")
    assert await page.locator("#composer-text").input_value() == long
    await page.locator("#composer-text").fill("On it, one moment")
    # The live stream and the page's own refreshes cannot get through (a flaky network): the page
    # learns of the move only when it tries to send.
    await context.route("**/api/stream**", lambda route: route.abort())
    await context.route("**/fragments/**", lambda route: route.abort())
    await context.set_offline(True)
    moved = await h.http.post(
        f"/api/conversations/{conversation_id}/reassign", json={"rep_id": "diego"}, headers=bearer("lena")
    )
    assert moved.status_code == 200, moved.text
    await context.set_offline(False)
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#toasts")).to_contain_text("Not sent: this conversation is no longer yours")
    assert await page.locator("#composer-text").input_value() == "On it, one moment"
    # Once the page can refresh again, it shows the conversation is gone from the rep.
    await context.unroute("**/fragments/**")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#composer-send")).to_be_disabled()
    await context.close()

"""What a rep's open page is told as the team works around them, in headless Chromium: a colleague
taking a conversation from the rep's queue drops it from their list; the SLA warning and the
conversation being taken away alert the rep, once per action; an offline rep is told that nothing
is assigned to them, and can go online from there."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect
from sqlalchemy import select
from sqlmodel import col

from handoff.assignment import sla_warning
from handoff.models import Assignment
from orchestrator.core.enums import AssignmentStatus
from tests.api.helpers import bearer, seed_conversation
from tests.fakes.graph import TestHarness, graph_error_body
from tests.web.test_browser import set_presence, signed_in


async def alerts(page: object, kind: str, conversation_id: int) -> list[dict[str, object]]:
    found: list[dict[str, object]] = await page.evaluate(  # type: ignore[attr-defined]
        "([kind, id]) => window.__handoffAlerts.filter(a => a.kind === kind && a.conversation_id === id)",
        [kind, conversation_id],
    )
    return found


async def test_a_conversation_a_colleague_takes_leaves_the_other_reps_list_live(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    waiting = await seed_conversation(h, "waiting_support", name="Ivy Cole")
    context, diego = await signed_in(chromium, site, "diego", "demo-diego")
    row = diego.locator(f'.conversation-row[data-id="{waiting}"]')
    await expect(row).to_be_visible()
    taken = await h.http.post(f"/api/conversations/{waiting}/claim", headers=bearer("tara"))
    assert taken.status_code == 200, taken.text
    await expect(row).to_have_count(0)  # without a reload
    events = await diego.evaluate("() => window.__handoffStream.events")
    told = [e for e in events if e["conversation_id"] == waiting]
    assert told
    assert all(e["type"] in ("assigned", "reassigned", "transferred") for e in told)
    await context.close()


async def test_take_it_says_why_it_failed_taken_first_by_a_colleague_or_the_rep_offline(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    first = await seed_conversation(h, "waiting_support", name="Ivy Cole")
    second = await seed_conversation(h, "waiting_support", name="Ray Moss")
    context, diego = await signed_in(chromium, site, "diego", "demo-diego")
    await expect(diego.locator(f'.conversation-row[data-id="{first}"]')).to_be_visible()
    # Taken by tara between diego's list and his click: his click comes before his list drops it.
    await diego.evaluate("() => { window.htmx.trigger = () => {}; }")  # the page reloads nothing now
    taken = await h.http.post(f"/api/conversations/{first}/claim", headers=bearer("tara"))
    assert taken.status_code == 200, taken.text
    await diego.locator(f'.conversation-row[data-id="{first}"] [data-claim]').click()
    await expect(diego.locator("#toasts")).to_contain_text(f"Someone else took Ivy Cole (#{first}) first")
    await set_presence(h, "offline", "diego")
    await diego.locator(f'.conversation-row[data-id="{second}"] [data-claim]').click()
    await expect(diego.locator("#toasts")).to_contain_text("set yourself online")
    await context.close()


async def test_a_rep_is_warned_before_the_sla_runs_out_and_told_once_when_a_lead_reassigns(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    conversation_id = await seed_conversation(h, "tara_support", name="Ana Clarke")
    tara_context, tara = await signed_in(chromium, site, "tara", "demo-tara")
    diego_context, diego = await signed_in(chromium, site, "diego", "demo-diego")
    await tara.goto(f"/conversations/{conversation_id}")
    await expect(tara.locator("body")).to_have_attribute("data-stream", "live")

    async with h.service.sessions() as session, session.begin():
        assignment_id = (
            await session.execute(
                select(col(Assignment.id)).where(
                    col(Assignment.conversation_id) == conversation_id,
                    col(Assignment.status) == AssignmentStatus.ACTIVE,
                )
            )
        ).scalar_one()
        assert assignment_id is not None
        assert await sla_warning(
            session, config=h.service.config, assignment_id=assignment_id, at=h.clock.now()
        )
    await tara.wait_for_function(
        "id => window.__handoffAlerts.some(a => a.kind === 'sla_warning' && a.conversation_id === id)",
        arg=conversation_id,
    )
    await expect(tara.locator("#toasts")).to_contain_text(f"Reply to Ana Clarke (#{conversation_id})")
    await expect(tara.locator("#timeline")).to_contain_text("No reply yet")

    await set_presence(h, "online", "diego")
    moved = await h.http.post(
        f"/api/conversations/{conversation_id}/reassign", json={"rep_id": "diego"}, headers=bearer("lena")
    )
    assert moved.status_code == 200, moved.text
    await tara.wait_for_function(
        "id => window.__handoffAlerts.some(a => a.kind === 'taken_away' && a.conversation_id === id)",
        arg=conversation_id,
    )
    await expect(tara.locator("#toasts")).to_contain_text(
        f"Ana Clarke (#{conversation_id}) was reassigned by Lena Fischer"
    )
    await expect(tara.locator("#composer-hint")).to_have_text(  # why, where the rep is looking
        f"This conversation is no longer yours: Ana Clarke (#{conversation_id}) was reassigned by"
        " Lena Fischer."
    )
    await diego.wait_for_function(
        "id => window.__handoffAlerts.some(a => a.kind === 'assigned' && a.conversation_id === id)",
        arg=conversation_id,
    )
    await expect(diego.locator("#toasts")).to_contain_text(
        f"Ana Clarke (#{conversation_id}) was assigned to you"
    )
    await diego.wait_for_timeout(500)  # the second event of the reassignment has arrived by now
    assert (
        len(await alerts(diego, "assigned", conversation_id)) == 1
    )  # `assigned` and `reassigned`: one alert
    await tara_context.close()
    await diego_context.close()


async def test_an_offline_rep_is_told_nothing_is_assigned_to_them_and_goes_online_from_there(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    await set_presence(h, "offline", "diego")
    context, diego = await signed_in(chromium, site, "diego", "demo-diego")
    banner = diego.locator("#offline-banner")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("You are offline")
    await banner.get_by_role("button", name="Go online").click()
    await expect(banner).to_be_hidden()
    await expect(diego.locator("#presence")).to_have_value("online")
    me = (await h.http.get("/api/me", headers=bearer("diego"))).json()
    assert me["presence"] == "online"
    await diego.locator("#presence").select_option("offline")
    await expect(banner).to_be_visible()
    await context.close()


async def test_the_author_of_a_note_is_told_which_mentions_reached_no_one_or_cannot_open_it(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    conversation_id = await seed_conversation(h, "tara_support", name="Ana Clarke")
    context, tara = await signed_in(chromium, site, "tara", "demo-tara")
    await tara.goto(f"/conversations/{conversation_id}")
    await tara.keyboard.press("n")
    await tara.locator("#composer-text").fill("@lena can you look? @diego too, and @nobdy")
    await tara.keyboard.press("Control+Enter")
    await expect(tara.locator(".note")).to_contain_text("can you look?")
    toasts = tara.locator("#toasts")
    await expect(toasts).to_contain_text("No one is called @nobdy")
    await expect(toasts).to_contain_text("@diego got the note but cannot open this conversation")
    await expect(toasts).not_to_contain_text("@lena got")  # the lead of support can open it
    await context.close()


async def test_a_conversation_whose_customer_is_erased_leaves_the_open_page_within_a_minute(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    conversation_id = await seed_conversation(h, "tara_support", name="Erin Forget")
    context, tara = await signed_in(chromium, site, "tara", "demo-tara")
    await tara.clock.install()
    await tara.goto(f"/conversations/{conversation_id}")
    await expect(tara.locator("#timeline")).to_contain_text("help with my account")
    detail = await h.http.get(f"/api/conversations/{conversation_id}", headers=bearer("admin"))
    number = detail.json()["contact_wa_id"]
    erased = await h.http.delete(f"/api/admin/customers/{number}", headers=bearer("admin"))
    assert erased.status_code == 200, erased.text
    await tara.clock.fast_forward(61_000)  # the state bar checks once a minute, events or not
    await expect(tara.locator("#state")).to_have_attribute("data-owner", "gone")
    await expect(tara.locator("#timeline")).not_to_contain_text("help with my account")
    await expect(tara.locator("#panel")).not_to_contain_text("Erin Forget")
    await expect(tara.locator("#composer-send")).to_be_disabled()
    await context.close()


async def test_a_rep_disabled_while_their_page_is_open_is_sent_to_sign_in(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    context, gus = await signed_in(chromium, site, "gus", "demo-gus")
    disabled = await h.http.post("/api/admin/reps/gus/disable", headers=bearer("admin"))
    assert disabled.status_code == 200, disabled.text
    # The stream ends at once; its refused reconnection finds the session gone and says so.
    await expect(gus).to_have_url(re.compile(r"/login\?expired=1&next=%2Finbox$"))
    await expect(gus.locator("body")).to_contain_text("Your session has ended")
    await context.close()


async def test_a_reply_that_was_not_delivered_alerts_its_rep_wherever_they_are(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    conversation_id = await seed_conversation(h, "tara_support", name="Wendy Window")
    context, tara = await signed_in(chromium, site, "tara", "demo-tara")  # on the inbox, not the conversation
    h.fake_graph.fail_next(400, graph_error_body(131047, "Re-engagement message"))
    sent = await h.http.post(
        f"/api/conversations/{conversation_id}/messages",
        json={"text": "still there?"},
        headers=bearer("tara"),
    )
    assert sent.status_code in (200, 201, 202), sent.text
    await tara.wait_for_function(
        "id => window.__handoffAlerts.some(a => a.kind === 'send_failed' && a.conversation_id === id)",
        arg=conversation_id,
    )
    await expect(tara.locator("#toasts")).to_contain_text(
        f"Not delivered to Wendy Window (#{conversation_id}): 131047 Re-engagement message"
    )
    await context.close()

"""A long conversation's page shows the latest page of the transcript and loads the earlier ones
on request (htmx), in the server's rendering and in a real browser."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from handoff.api.conversations import TRANSCRIPT_PAGE
from tests.api.helpers import seed_conversation
from tests.api.test_transcript_pages import customer_writes
from tests.fakes.graph import TestHarness
from tests.web.helpers import browser, sign_in
from tests.web.test_browser import signed_in

FIRST = "I need help with my account"  # the seeded conversation's first message


def earlier_url(html: str) -> str | None:
    found = re.search(r'hx-get="(/conversations/\d+/earlier\?before=\d+)"', html)
    return found.group(1) if found else None


async def test_the_page_shows_the_latest_messages_and_loads_the_earlier_ones(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    await customer_writes(h, conversation_id, TRANSCRIPT_PAGE + 10)
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = (await client.get(f"/conversations/{conversation_id}")).text
        shown = re.findall(r"customer message (\d{4})", page)
        assert shown[-1] == f"{TRANSCRIPT_PAGE + 9:04d}"
        assert len(shown) == TRANSCRIPT_PAGE
        assert FIRST not in page
        url = earlier_url(page)
        assert url is not None
        earlier = await client.get(url)
        assert earlier.status_code == 200
        assert FIRST in earlier.text
        assert re.findall(r"customer message (\d{4})", earlier.text) == [f"{n:04d}" for n in range(10)]
        assert "<ol" not in earlier.text  # items for the list the page already has
        assert earlier_url(earlier.text) is None, "the first page has nothing before it"
        # The fragment checks who may see the conversation, as the page does.
        await sign_in(client, "farah", "demo-farah")
        assert (await client.get(url)).status_code == 404


async def test_a_rep_loads_earlier_messages_in_the_browser(
    h: TestHarness, site: str, chromium: Browser
) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    await customer_writes(h, conversation_id, TRANSCRIPT_PAGE + 3)
    context, page = await signed_in(chromium, site, "tara", "demo-tara")
    await page.goto(f"/conversations/{conversation_id}")
    timeline = page.locator("#timeline")
    await expect(timeline).to_contain_text(f"customer message {TRANSCRIPT_PAGE + 2:04d}")
    await expect(timeline).not_to_contain_text(FIRST)
    await page.get_by_role("button", name="Load earlier messages").click()
    await expect(timeline).to_contain_text(FIRST)
    await expect(timeline).to_contain_text("customer message 0000")
    await expect(page.get_by_role("button", name="Load earlier messages")).to_have_count(0)
    await context.close()

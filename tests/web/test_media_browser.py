"""Media in a real browser (headless Chromium): the customer's photo, delivered through the webhook
with the pywa fixture and fetched from the fake Graph API, is shown in the rep's transcript (the
image decoded: `naturalWidth > 0`); a failed fetch is shown with its reason and replaced by the photo
live once a retry succeeds; the rep sends a file from the composer; another rep cannot open the
photo by its URL."""

from __future__ import annotations

from playwright.async_api import Browser, FilePayload, expect

from tests.api.helpers import seed_conversation
from tests.api.media_helpers import JPEG, PDF, fixture_media, give_contact_number, media_rows
from tests.fakes.graph import FakeGraphAPI, TestHarness
from tests.fixtures import fixture_bytes
from tests.web.test_browser import signed_in

IMAGE = "inbound_image_pywa.json"


async def test_rep_sees_the_customers_photo_and_another_rep_cannot_open_it_by_url(
    h: TestHarness, site: str, chromium: Browser, fake_graph: FakeGraphAPI
) -> None:
    media_ref = fixture_media(IMAGE)
    conversation_id = await seed_conversation(h, "tara_support", name="Photo Customer")
    await give_contact_number(h, conversation_id, media_ref["from"])
    errors: list[str] = []
    context, tara = await signed_in(chromium, site, "tara", "demo-tara", errors)
    await tara.goto(f"/conversations/{conversation_id}")
    await expect(tara.locator("body")).to_have_attribute("data-stream", "live")  # subscribed

    # The photo arrives while Graph no longer knows its id: the page says so, with the reason.
    assert (await h.post_body(fixture_bytes(IMAGE))).status_code == 200
    assert h.service.media is not None
    await h.service.media.drain()
    [media] = await media_rows(h, conversation_id)
    figure = tara.locator(f'figure[data-media="{media.id}"]')
    await expect(figure.locator(".media-failed")).to_contain_text(
        "The photo could not be fetched: WhatsApp does not have this file (any more): ask the customer"
    )
    await expect(figure.locator(".media-failed")).to_contain_text("trying again at")

    # The retry succeeds: the transcript updates live and the image is decoded.
    fake_graph.add_media(str(media_ref["id"]), JPEG, "image/jpeg")
    h.clock.advance(minutes=2)
    await h.service.tick()
    image = figure.locator("img")
    await expect(image).to_be_visible()
    await tara.wait_for_function(
        "id => { const img = document.querySelector(`figure[data-media='${id}'] img`);"
        " return img && img.complete && img.naturalWidth > 0; }",
        arg=media.id,
    )
    assert await image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [24, 16]
    assert errors == []  # no CSP violation, no failed load

    # Another rep of the same team, signed in, opens the photo's URL: 404, like the conversation.
    url = f"/api/conversations/{conversation_id}/media/{media.id}"
    diego_context, diego = await signed_in(chromium, site, "diego", "demo-diego")
    refused = await diego.goto(url)
    assert refused is not None
    assert refused.status == 404
    assert (await refused.body()) != JPEG
    mine = await tara.goto(url)
    assert mine is not None
    assert mine.status == 200
    assert await mine.body() == JPEG
    await diego_context.close()
    await context.close()


async def test_rep_sends_a_document_from_the_composer(
    h: TestHarness, site: str, chromium: Browser, fake_graph: FakeGraphAPI
) -> None:
    conversation_id = await seed_conversation(h, "tara_support", name="Wants The Terms")
    errors: list[str] = []
    context, tara = await signed_in(chromium, site, "tara", "demo-tara", errors)
    await tara.goto(f"/conversations/{conversation_id}")
    await tara.locator("#composer-file").set_input_files(
        files=FilePayload(name="terms.pdf", mimeType="application/pdf", buffer=PDF)
    )
    await expect(tara.locator("#composer-file-name")).to_have_text("terms.pdf")
    await tara.locator("#composer-text").fill("Our terms, as promised")
    await tara.locator("#composer-send").click()
    await expect(tara.locator("figure.media-document a.download")).to_contain_text("terms.pdf")
    await expect(tara.locator("figure.media-document figcaption")).to_have_text("Our terms, as promised")
    [upload] = fake_graph.uploads
    assert upload.content == PDF
    assert fake_graph.sent[-1]["json"]["document"] == {
        "id": upload.media_id,
        "caption": "Our terms, as promised",
        "filename": "terms.pdf",
    }
    assert errors == []
    await context.close()

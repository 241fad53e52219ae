"""The transcript's media as the page renders it: still fetching, a voice note with a player, a video
with a player, a document as a download link with its name and size, the caption under each."""

from __future__ import annotations

import base64
import hashlib
import re

from tests.api.helpers import seed_conversation
from tests.api.media_helpers import fixture_media, give_contact_number
from tests.fakes.graph import FakeGraphAPI, TestHarness
from tests.fixtures import load_fixture
from tests.web.helpers import browser, sign_in

MEDIA_URL = r"/api/conversations/\d+/media/\d+"


async def _deliver(h: TestHarness, conversation_id: int, fixture: str, content: bytes | None) -> None:
    """The fixture's message through the webhook; with `content`, Graph serves it (digest matching)."""
    document = load_fixture(fixture)
    message = document["entry"][0]["changes"][0]["value"]["messages"][0]
    message["id"] = f"wamid.page.{fixture}"
    media = message[message["type"]]
    media["id"] = f"page-{fixture}"  # the fixtures share some media ids
    if content is not None:
        media["sha256"] = base64.b64encode(hashlib.sha256(content).digest()).decode()
        assert isinstance(h.fake_graph, FakeGraphAPI)
        h.fake_graph.add_media(str(media["id"]), content, str(media["mime_type"]))
    assert (await h.post(document)).status_code == 200


async def test_transcript_shows_each_kind_of_media_and_a_photo_still_being_fetched(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    await give_contact_number(h, conversation_id, fixture_media("inbound_image_pywa.json")["from"])
    fetcher = h.service.media
    assert fetcher is not None
    h.service.media = None  # the photo is recorded but not fetched yet
    await _deliver(h, conversation_id, "inbound_image_pywa.json", None)
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = (await client.get(f"/conversations/{conversation_id}/fragments/timeline")).text
        assert "Fetching the photo…" in page

        h.service.media = fetcher
        await _deliver(h, conversation_id, "inbound_audio_voice_pywa.json", b"OggS voice")
        await _deliver(h, conversation_id, "inbound_video_pywa.json", b"video bytes")
        await _deliver(h, conversation_id, "inbound_document_pywa.json", b"%PDF-1.4 " + b"x" * 2048)
        await fetcher.drain()
        page = (await client.get(f"/conversations/{conversation_id}/fragments/timeline")).text
    assert re.search(
        rf'<audio controls preload="metadata" src="{MEDIA_URL}" aria-label="voice message">',
        page,
    )
    assert re.search(rf'<video controls preload="metadata" src="{MEDIA_URL}"', page)
    assert re.search(
        rf'<a class="download" href="{MEDIA_URL}" download="filename.pdf">📄 filename.pdf</a>',
        page,
    )
    assert '<span class="muted size">2 KB</span>' in page
    assert "<figcaption>caption</figcaption>" in page  # the document's caption
    # The pass that fetched them tried the waiting photo too: Graph does not know its id.
    assert (
        "The photo could not be fetched: WhatsApp does not have this file (any more): ask the customer"
        in page
    )


async def test_a_document_over_the_size_limit_is_named_and_its_size_said_in_megabytes(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    await give_contact_number(h, conversation_id, fixture_media("inbound_document_pywa.json")["from"])
    assert h.service.media is not None
    h.service.media.max_bytes = 1_048_576  # HANDOFF_MEDIA_MAX_BYTES: 1 MB
    await _deliver(h, conversation_id, "inbound_document_pywa.json", b"%PDF-1.4 " + b"x" * 3_000_000)
    await h.service.media.drain()
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = (await client.get(f"/conversations/{conversation_id}/fragments/timeline")).text
    assert (
        "The document <bdi>filename.pdf</bdi> could not be fetched:"
        " the file is 2.9 MB, over this service&#39;s limit of 1 MB"
    ) in page
    assert "bytes" not in page

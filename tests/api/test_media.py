"""Media: a customer's photo delivered through the real webhook (the pywa fixture) is fetched from the
fake Graph API after the acknowledgement, stored, and served to who may see the conversation;
failed fetches (expired id, 404, wrong SHA-256) are recorded, shown and retried; a rep's image or
document goes through the outbox: uploaded (multipart) and sent with the returned id."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import col

from orchestrator.channels.whatsapp.inbound import split_webhook
from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.config import AppConfig
from orchestrator.core.db import make_engine, make_sessionmaker
from orchestrator.core.enums import EventType, MediaStatus
from orchestrator.core.settings import DEV_SECRETS
from orchestrator.core.tables import Message
from orchestrator.inbox import accept_deliveries, prepare_delivery
from orchestrator.media import RETRY_AFTER, MediaFetcher
from orchestrator.runtime import turns
from orchestrator.runtime.simulator import encode_webhook
from tests.api.helpers import bearer, seed_conversation
from tests.api.media_helpers import (
    JPEG,
    PDF,
    fixture_media,
    give_contact_number,
    last_fetch_failure,
    media_rows,
    png,
)
from tests.conftest import service_on
from tests.factories import counting, text
from tests.fakes.graph import FakeGraphAPI, TestHarness, graph_error_body
from tests.fakes.servers import free_port
from tests.fixtures import fixture_bytes, load_fixture
from tests.web.helpers import browser, sign_in

IMAGE = "inbound_image_pywa.json"
TOKEN = DEV_SECRETS["HANDOFF_WHATSAPP_ACCESS_TOKEN"]  # what the test service sends as its bearer


@pytest.fixture
def fake_graph() -> FakeGraphAPI:
    """Graph checks the bearer on every request, as Meta does."""
    return FakeGraphAPI(access_token=TOKEN)


async def _photo_in_taras_conversation(h: TestHarness, *, fixture: str = IMAGE) -> tuple[int, str]:
    """Tara's conversation, then the customer's photo delivered through the webhook."""
    conversation_id = await seed_conversation(h, "tara_support")
    media = fixture_media(fixture)
    await give_contact_number(h, conversation_id, media["from"])
    response = await h.post_body(fixture_bytes(fixture))
    assert response.status_code == 200, response.text
    return conversation_id, str(media["id"])


async def test_customers_photo_is_fetched_after_the_webhook_and_served_to_who_may_see_it(
    h: TestHarness, fake_graph: FakeGraphAPI
) -> None:
    fake_graph.add_media("65463453", JPEG, "image/jpeg")
    conversation_id, wa_media_id = await _photo_in_taras_conversation(h)
    assert h.service.media is not None
    await h.service.media.drain()

    [media] = await media_rows(h, conversation_id)
    assert (media.status, media.wa_media_id, media.size) == (MediaStatus.STORED, wa_media_id, len(JPEG))
    assert media.sha256 == hashlib.sha256(JPEG).hexdigest()
    # Graph's metadata, then the bytes at the URL it gave: both with the bearer token.
    assert [(what, mid) for what, mid, _ in fake_graph.media_requests] == [
        ("metadata", wa_media_id),
        ("download", wa_media_id),
    ]
    assert all(headers["authorization"] == f"Bearer {TOKEN}" for *_, headers in fake_graph.media_requests)

    detail = (await h.http.get(f"/api/conversations/{conversation_id}", headers=bearer("tara"))).json()
    photo = next(m for m in detail["messages"] if m["kind"] == "image")
    assert photo["media"]["status"] == "stored"
    url = photo["media"]["url"]
    assert url == f"/api/conversations/{conversation_id}/media/{media.id}"

    for viewer in ("tara", "lena", "admin"):  # the assigned rep, the department's lead, an admin
        response = await h.http.get(url, headers=bearer(viewer))
        assert response.status_code == 200, (viewer, response.text)
        assert response.content == JPEG
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-disposition"].startswith("inline;")
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"].startswith("private")
    for outsider in (
        "diego",
        "farah",
        "sam",
    ):  # another rep of the queue, another department, a lead elsewhere
        response = await h.http.get(url, headers=bearer(outsider))
        assert response.status_code == 404, outsider
        assert response.json() == {"detail": "media not found"}
    assert (await h.http.get(url)).status_code == 401
    # Same answer as for a media id of another conversation: nothing tells whether it exists.
    other = await seed_conversation(h, "tara_support")
    assert (
        await h.http.get(f"/api/conversations/{other}/media/{media.id}", headers=bearer("tara"))
    ).status_code == 404

    etag = (await h.http.get(url, headers=bearer("tara"))).headers["etag"]
    again = await h.http.get(url, headers={**bearer("tara"), "If-None-Match": etag})
    assert again.status_code == 304


async def test_the_webhook_stores_the_photo_message_even_when_graph_cannot_serve_it(
    h: TestHarness, fake_graph: FakeGraphAPI
) -> None:
    conversation_id, wa_media_id = await _photo_in_taras_conversation(h)  # Graph does not know the id
    assert h.service.media is not None
    await h.service.media.drain()
    [media] = await media_rows(h, conversation_id)
    assert media.status == MediaStatus.FAILED
    assert media.error == "WhatsApp does not have this file (any more): ask the customer to send it again"
    assert "does not exist" in (await last_fetch_failure(h, conversation_id))["detail"], "Graph's words kept"
    assert media.next_attempt_at == h.clock.now() + RETRY_AFTER[0]
    async with h.service.sessions() as session:
        message = await session.get(Message, media.message_id)
    assert message is not None
    assert message.kind == "image"
    assert message.wa_message_id == "wamid.xyzxyz"

    url = f"/api/conversations/{conversation_id}/media/{media.id}"
    refused = await h.http.get(url, headers=bearer("tara"))
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith(
        "the photo could not be fetched: WhatsApp does not have this file"
    )
    detail = (await h.http.get(f"/api/conversations/{conversation_id}", headers=bearer("tara"))).json()
    shown = next(m for m in detail["messages"] if m["kind"] == "image")["media"]
    assert shown["status"] == "failed"
    assert shown["error"].startswith("WhatsApp does not have this file")
    assert any(e["type"] == EventType.MEDIA_FAILED for e in detail["events"])

    # Not due yet: the sweep leaves it; once due, the retry fetches it.
    fake_graph.add_media(wa_media_id, JPEG, "image/jpeg")
    await h.service.tick()
    assert (await media_rows(h, conversation_id))[0].status == MediaStatus.FAILED
    h.clock.advance(seconds=RETRY_AFTER[0].total_seconds() + 1)
    await h.service.tick()
    [media] = await media_rows(h, conversation_id)
    assert (media.status, media.attempts, media.error) == (MediaStatus.STORED, 2, None)
    assert (await h.http.get(url, headers=bearer("tara"))).content == JPEG


async def _stored_as_an_acknowledge_only_api_stores_it(h: TestHarness, body: bytes) -> None:
    async with h.service.engine.begin() as conn:
        await accept_deliveries(conn, [prepare_delivery(body, split_webhook(body), at=h.clock.now())])


async def test_a_worker_woken_for_a_photo_fetches_it_and_for_a_text_looks_for_no_media(
    h: TestHarness, fake_graph: FakeGraphAPI
) -> None:
    # What a `handoff worker` does when an acknowledge-only API process wakes it.
    conversation_id = await seed_conversation(h, "tara_support")
    media = fixture_media(IMAGE)
    await give_contact_number(h, conversation_id, media["from"])
    fake_graph.add_media(str(media["id"]), JPEG, "image/jpeg")
    assert h.service.media is not None

    await _stored_as_an_acknowledge_only_api_stores_it(
        h, encode_webhook(text(str(media["from"]), "one more thing", h.clock.now()))
    )
    with counting(h) as statements:
        await h.service.take_deliveries()
        await h.service.media.drain()
    assert any(s.lstrip().upper().startswith("INSERT INTO MESSAGE") for s in statements), "the text applied"
    assert not [s for s in statements if re.search(r"\bmedia\b", s)], "no media looked for after a text"

    await _stored_as_an_acknowledge_only_api_stores_it(h, fixture_bytes(IMAGE))
    await h.service.take_deliveries()
    await h.service.media.drain()
    [fetched] = await media_rows(h, conversation_id)
    assert (fetched.status, fetched.size) == (MediaStatus.STORED, len(JPEG))


async def test_a_404_and_a_wrong_sha256_are_recorded_with_their_reason_and_retried(
    h: TestHarness, fake_graph: FakeGraphAPI
) -> None:
    fake_graph.add_media("65463453", JPEG, "image/jpeg", sha256="0" * 64)  # Graph's digest does not match
    conversation_id, _ = await _photo_in_taras_conversation(h)
    assert h.service.media is not None
    await h.service.media.drain()
    [media] = await media_rows(h, conversation_id)
    assert media.status == MediaStatus.FAILED
    assert media.error == "the file arrived damaged (its checksum does not match)"
    assert "does not match the SHA-256 Graph gave" in (await last_fetch_failure(h, conversation_id))["detail"]

    fake_graph.fail_media("65463453", 404, "Not Found")
    h.clock.advance(seconds=RETRY_AFTER[0].total_seconds() + 1)
    await h.service.tick()
    [media] = await media_rows(h, conversation_id)
    assert media.status == MediaStatus.FAILED
    assert media.error == "WhatsApp refused the request (HTTP 404)"
    assert media.next_attempt_at == h.clock.now() + RETRY_AFTER[1]


async def test_a_fetch_while_graph_is_unreachable_shows_reps_the_reason_and_logs_the_cause(
    h: TestHarness, fake_graph: FakeGraphAPI
) -> None:
    conversation_id, _ = await _photo_in_taras_conversation(h)
    assert h.service.media is not None
    h.service.client.backoff_scale = 0
    h.service.client.http.base_url = f"http://127.0.0.1:{free_port()}"  # nothing listens: refused
    await h.service.media.drain()
    [media] = await media_rows(h, conversation_id)
    assert (media.status, media.error) == (
        MediaStatus.FAILED,
        "WhatsApp could not be reached (network error)",
    )
    assert media.next_attempt_at is not None, "tried again later"
    failure = await last_fetch_failure(h, conversation_id)
    assert failure["description"] == (
        "the customer's image could not be fetched: WhatsApp could not be reached (network error)"
    )
    assert "ConnectError" in failure["detail"], "the technical cause is kept for whoever reads the events"
    async with browser(h) as client:
        await sign_in(client, "tara", "demo-tara")
        page = (await client.get(f"/conversations/{conversation_id}/fragments/timeline")).text
    assert "The photo could not be fetched: WhatsApp could not be reached (network error)" in page
    assert "ConnectError" not in page


async def test_a_fetch_that_keeps_failing_is_given_up_after_the_configured_attempts(
    h: TestHarness, fake_graph: FakeGraphAPI
) -> None:
    conversation_id, _ = await _photo_in_taras_conversation(h)
    assert h.service.media is not None
    attempts = h.service.settings.media_fetch_attempts
    await h.service.media.drain()
    for _ in range(attempts - 1):
        h.clock.advance(hours=3)
        await h.service.tick()
    [media] = await media_rows(h, conversation_id)
    assert (media.status, media.attempts, media.next_attempt_at) == (MediaStatus.FAILED, attempts, None)
    h.clock.advance(days=1)
    await h.service.tick()
    assert (await media_rows(h, conversation_id))[0].attempts == attempts  # given up: shown, not retried
    assert sum(1 for what, *_ in fake_graph.media_requests if what == "metadata") == attempts


async def test_a_photo_whose_bytes_differ_from_the_webhooks_sha256_is_not_stored(
    h: TestHarness, fake_graph: FakeGraphAPI
) -> None:
    # The voice note fixture carries a well-formed digest (base64 of 32 bytes): these bytes are not it.
    fake_graph.add_media(
        str(fixture_media("inbound_audio_voice_pywa.json")["id"]), b"other bytes", "audio/ogg"
    )
    conversation_id, _ = await _photo_in_taras_conversation(h, fixture="inbound_audio_voice_pywa.json")
    assert h.service.media is not None
    await h.service.media.drain()
    [media] = await media_rows(h, conversation_id)
    assert media.status == MediaStatus.FAILED
    assert media.error == "the file arrived damaged (its checksum does not match)"
    failure = await last_fetch_failure(h, conversation_id)
    assert "does not match the SHA-256 the webhook gave" in failure["detail"]
    assert media.next_attempt_at is not None


async def test_a_transient_graph_error_is_retried_within_the_fetch(
    h: TestHarness, fake_graph: FakeGraphAPI
) -> None:
    fake_graph.add_media("65463453", JPEG, "image/jpeg")
    fake_graph.fail_media("65463453", 500, graph_error_body(131000, "Something went wrong"))
    conversation_id, _ = await _photo_in_taras_conversation(h)
    assert h.service.media is not None
    await h.service.media.drain()
    [media] = await media_rows(h, conversation_id)
    assert (media.status, media.attempts) == (MediaStatus.STORED, 1)


async def test_a_file_over_the_size_limit_is_refused_without_downloading_it(
    h: TestHarness, fake_graph: FakeGraphAPI
) -> None:
    assert h.service.media is not None
    h.service.media.max_bytes = 500  # HANDOFF_MEDIA_MAX_BYTES, lowered for this fetcher
    fake_graph.add_media("65463453", JPEG, "image/jpeg")
    conversation_id, _ = await _photo_in_taras_conversation(h)
    await h.service.media.drain()
    [media] = await media_rows(h, conversation_id)
    assert media.status == MediaStatus.FAILED
    assert media.next_attempt_at is None
    assert media.error == f"the file is {len(JPEG)} bytes, over this service's limit of 500 bytes"
    assert [what for what, *_ in fake_graph.media_requests] == ["metadata"]


async def test_an_image_that_can_carry_script_is_served_as_a_download(
    h: TestHarness, fake_graph: FakeGraphAPI
) -> None:
    # An SVG is a document that can hold scripts: never rendered inline from the service's origin.
    document = load_fixture("inbound_image_with_url_pywa.json")
    message = document["entry"][0]["changes"][0]["value"]["messages"][0]
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    message["image"]["mime_type"] = "image/svg+xml"
    message["image"]["sha256"] = base64.b64encode(hashlib.sha256(svg).digest()).decode()
    fake_graph.add_media(str(message["image"]["id"]), svg, "image/svg+xml")
    conversation_id = await seed_conversation(h, "tara_support")
    await give_contact_number(h, conversation_id, message["from"])
    assert (await h.post(document)).status_code == 200
    assert h.service.media is not None
    await h.service.media.drain()
    [media] = await media_rows(h, conversation_id)
    served = await h.http.get(
        f"/api/conversations/{conversation_id}/media/{media.id}", headers=bearer("tara")
    )
    assert served.status_code == 200
    assert served.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in served.headers["content-security-policy"]


@pytest.mark.parametrize(
    "fixture",
    [
        "inbound_image_with_url_pywa.json",
        "inbound_audio_voice_pywa.json",
        "inbound_video_pywa.json",
        "inbound_document_pywa.json",
        "inbound_sticker_pywa.json",
    ],
)
async def test_every_kind_of_inbound_media_is_fetched_and_served_with_its_type(
    h: TestHarness, fake_graph: FakeGraphAPI, fixture: str
) -> None:
    declared = fixture_media(fixture)
    content = b"%PDF-1.4 customer file" if declared["mime_type"] == "application/pdf" else b"media bytes"
    fake_graph.add_media(str(declared["id"]), content, str(declared["mime_type"]))
    # The fixture's message as Meta would send it for these bytes: its SHA-256 (base64) is theirs.
    document = load_fixture(fixture)
    message = document["entry"][0]["changes"][0]["value"]["messages"][0]
    message[message["type"]]["sha256"] = base64.b64encode(hashlib.sha256(content).digest()).decode()
    conversation_id = await seed_conversation(h, "tara_support")
    await give_contact_number(h, conversation_id, declared["from"])
    assert (await h.post(document)).status_code == 200
    assert h.service.media is not None
    await h.service.media.drain()
    [media] = await media_rows(h, conversation_id)
    assert media.status == MediaStatus.STORED, media.error
    response = await h.http.get(
        f"/api/conversations/{conversation_id}/media/{media.id}", headers=bearer("tara")
    )
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"].split(";")[0] == declared["mime_type"].split(";")[0]
    disposition = response.headers["content-disposition"]
    if media.kind == "document":
        assert disposition.startswith("attachment;")
        assert 'filename="filename.pdf"' in disposition
    else:
        assert disposition.startswith("inline;")
    assert media.voice == bool(declared.get("voice"))


async def _queue_taras_pdf(h: TestHarness, conversation_id: int) -> None:
    """Tara's PDF stored and queued in the outbox, as the upload request commits it (not sent)."""
    from handoff.media import send_file
    from handoff.models import Rep

    async with h.service.sessions() as session, session.begin():
        tara = await session.get(Rep, "tara")
        assert tara is not None
        await send_file(
            session,
            conversation_id=conversation_id,
            rep=tara,
            data=PDF,
            mime_type="application/pdf",
            filename="terms.pdf",
            caption=None,
            max_bytes=h.service.settings.media_max_bytes,
            at=h.clock.now(),
        )


# -- a rep's files ---------------------------------------------------------------------------------
async def test_rep_sends_an_image_uploaded_to_graph_and_sent_with_its_media_id(
    h: TestHarness, fake_graph: FakeGraphAPI
) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    photo = png(8, 6)
    response = await h.http.post(
        f"/api/conversations/{conversation_id}/media",
        files={"file": ("plan.png", photo, "image/png")},
        data={"caption": "Here is the plan"},
        headers=bearer("tara"),
    )
    assert response.status_code == 202, response.text
    sent = response.json()
    assert (sent["kind"], sent["status"], sent["text"]) == ("image", "pending", "Here is the plan")
    await h.service.dispatcher.drain()  # uploaded and sent after the commit, in the background
    async with h.service.sessions() as session:
        after = await session.get(Message, sent["id"])
    assert after is not None
    assert after.status == "accepted"

    [upload] = fake_graph.uploads
    assert upload.fields == {"messaging_product": "whatsapp", "type": "image/png"}
    assert (upload.filename, upload.content_type, upload.content) == ("plan.png", "image/png", photo)
    assert upload.headers["authorization"] == f"Bearer {TOKEN}"
    assert upload.headers["content-type"].startswith("multipart/form-data")
    message = fake_graph.sent[-1]["json"]
    assert message["type"] == "image"
    assert message["image"] == {"id": upload.media_id, "caption": "Here is the plan"}

    # Kept and shown in the transcript, served like the customer's media.
    assert sent["media"]["status"] == "stored"
    served = await h.http.get(sent["media"]["url"], headers=bearer("lena"))
    assert served.status_code == 200
    assert served.content == photo
    async with h.service.sessions() as session:
        stored = await session.get(Message, sent["id"])
    assert stored is not None
    assert stored.payload is not None
    assert stored.payload["image"]["id"] == upload.media_id


async def test_rep_sends_a_document_with_its_file_name(h: TestHarness, fake_graph: FakeGraphAPI) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    response = await h.http.post(
        f"/api/conversations/{conversation_id}/media",
        files={"file": ("Quote 2026.pdf", PDF, "application/pdf")},
        headers=bearer("tara"),
    )
    assert response.status_code == 202, response.text
    await h.service.dispatcher.drain()
    [upload] = fake_graph.uploads
    assert fake_graph.sent[-1]["json"]["document"] == {"id": upload.media_id, "filename": "Quote 2026.pdf"}
    served = await h.http.get(response.json()["media"]["url"], headers=bearer("tara"))
    assert served.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''Quote%202026.pdf" in served.headers["content-disposition"]


@pytest.mark.parametrize(
    ("name", "content", "mime", "status", "says"),
    [
        ("big.png", png(padding=5 * 1024 * 1024), "image/png", 413, "may be at most 5242880 bytes"),
        ("anim.gif", b"GIF89a....", "image/gif", 415, "files of type 'image/gif' cannot be sent"),
        ("page.png", b"<html><script>alert(1)</script></html>", "image/png", 415, "content is not image/png"),
        ("blob.pdf", b"\x00\x01binary", "application/pdf", 415, "content is not application/pdf"),
    ],
)
async def test_an_upload_of_the_wrong_type_or_size_is_refused_and_nothing_is_sent(
    h: TestHarness, fake_graph: FakeGraphAPI, name: str, content: bytes, mime: str, status: int, says: str
) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    response = await h.http.post(
        f"/api/conversations/{conversation_id}/media",
        files={"file": (name, content, mime)},
        headers=bearer("tara"),
    )
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]
    assert fake_graph.uploads == []
    assert fake_graph.sent == []
    async with h.service.sessions() as session:
        outbound = (
            await session.execute(select(Message).where(col(Message.conversation_id) == conversation_id))
        ).scalars()
        assert [m.direction for m in outbound] == ["inbound"]


async def test_uploads_follow_the_reply_rules_owner_only_and_inside_the_window(h: TestHarness) -> None:
    files = {"file": ("p.png", png(), "image/png")}
    mine = await seed_conversation(h, "tara_support")
    assert (
        await h.http.post(f"/api/conversations/{mine}/media", files=files, headers=bearer("diego"))
    ).status_code == 404
    assert (
        await h.http.post(f"/api/conversations/{mine}/media", files=files, headers=bearer("lena"))
    ).status_code == 403
    assert (await h.http.post(f"/api/conversations/{mine}/media", files=files)).status_code == 401
    stale = await seed_conversation(h, "tara_support", last_inbound_at=h.clock.now() - timedelta(hours=25))
    closed = await h.http.post(f"/api/conversations/{stale}/media", files=files, headers=bearer("tara"))
    assert closed.status_code == 409
    assert "24-hour" in closed.json()["detail"]
    missing = await h.http.post(
        f"/api/conversations/{mine}/media", data={"caption": "x"}, headers=bearer("tara")
    )
    assert missing.status_code == 422


async def test_a_file_queued_before_a_crash_is_uploaded_once_and_sent_by_the_relay(
    h: TestHarness, fake_graph: FakeGraphAPI
) -> None:
    from orchestrator.outbox import relay

    conversation_id = await seed_conversation(h, "tara_support")
    await _queue_taras_pdf(h, conversation_id)  # the request's commit, then a crash
    assert fake_graph.uploads == []
    assert fake_graph.sent == []
    sent = await relay(h.service.sessions, client=h.service.client, clock=h.clock)
    assert [m.status for m in sent] == ["accepted"]
    assert len(fake_graph.uploads) == 1
    assert len(fake_graph.sent) == 1
    assert await relay(h.service.sessions, client=h.service.client, clock=h.clock) == []
    assert len(fake_graph.uploads) == 1
    assert len(fake_graph.sent) == 1


@pytest.mark.postgres
async def test_fetchers_of_two_processes_on_postgresql_fetch_each_photo_once(
    postgres_url: str, config: AppConfig, fake_graph: FakeGraphAPI, graph_api_url: str
) -> None:
    async with service_on(postgres_url, config, fake_graph, graph_api_url) as h:
        fetcher = h.service.media
        assert fetcher is not None
        h.service.media = None  # the deliveries are only recorded; the fetchers below race for them
        conversation_id = await seed_conversation(h, "tara_support")
        await give_contact_number(h, conversation_id, fixture_media(IMAGE)["from"])
        photos = 12
        for i in range(photos):
            document = load_fixture(IMAGE)
            message = document["entry"][0]["changes"][0]["value"]["messages"][0]
            message["id"], message["image"]["id"] = f"wamid.pg{i}", f"pg-{i}"
            fake_graph.add_media(f"pg-{i}", JPEG + bytes([i]), "image/jpeg")
            assert (await h.post(document)).status_code == 200
        engine = make_engine(postgres_url)
        other = MediaFetcher(sessions=make_sessionmaker(engine), client=h.service.client, clock=h.clock)
        try:
            await asyncio.gather(fetcher.fetch_due(), other.fetch_due(), fetcher.fetch_due())
        finally:
            await engine.dispose()
        rows = await media_rows(h, conversation_id)
        assert [m.status for m in rows] == [MediaStatus.STORED] * photos
        assert [m.attempts for m in rows] == [1] * photos
        fetched = Counter(mid for what, mid, _ in fake_graph.media_requests if what == "metadata")
        assert fetched == {f"pg-{i}": 1 for i in range(photos)}


# -- byte ranges and retention ---------------------------------------------------------------------
VIDEO = "inbound_video_pywa.json"


async def test_a_video_is_served_in_byte_ranges_so_a_player_can_seek(
    h: TestHarness, fake_graph: FakeGraphAPI
) -> None:
    clip = bytes(range(256)) * 40  # 10,240 bytes
    fake_graph.add_media(str(fixture_media(VIDEO)["id"]), clip, "video/mp4")
    conversation_id, _ = await _photo_in_taras_conversation(h, fixture=VIDEO)
    assert h.service.media is not None
    await h.service.media.drain()
    [media] = await media_rows(h, conversation_id)
    assert media.status == MediaStatus.STORED
    url = f"/api/conversations/{conversation_id}/media/{media.id}"

    whole = await h.http.get(url, headers=bearer("tara"))
    assert (whole.status_code, whole.headers["accept-ranges"], whole.content) == (200, "bytes", clip)
    middle = await h.http.get(url, headers={**bearer("tara"), "Range": "bytes=1000-1999"})
    assert middle.status_code == 206
    assert middle.headers["content-range"] == "bytes 1000-1999/10240"
    assert middle.content == clip[1000:2000]
    tail = await h.http.get(url, headers={**bearer("tara"), "Range": "bytes=-240"})
    assert (tail.status_code, tail.content) == (206, clip[-240:])
    beyond = await h.http.get(url, headers={**bearer("tara"), "Range": "bytes=20000-"})
    assert (beyond.status_code, beyond.headers["content-range"]) == (416, "bytes */10240")
    # A range of another version of the file (If-Range does not match): the whole file.
    stale = await h.http.get(url, headers={**bearer("tara"), "Range": "bytes=0-9", "If-Range": '"old"'})
    assert (stale.status_code, stale.content) == (200, clip)
    # Who may not see the conversation gets no part of it either.
    outsider = await h.http.get(url, headers={**bearer("diego"), "Range": "bytes=0-9"})
    assert outsider.status_code == 404


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-0", (0, 0)),
        ("bytes=5-", (5, 99)),
        ("bytes=90-500", (90, 99)),  # a last byte past the end is the end
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole file (allowed by RFC 9110)
        ("items=0-1", None),
        ("bytes=a-b", None),
        ("bytes=", None),
        ("bytes=100-", ValueError),
        ("bytes=9-3", ValueError),
        ("bytes=-0", ValueError),
    ],
)
def test_a_range_header_is_read_as_rfc_9110_says(header: str | None, expected: object) -> None:
    from handoff.api.media import byte_range

    if expected is ValueError:
        with pytest.raises(ValueError, match="range"):
            byte_range(header, 100)
    else:
        assert byte_range(header, 100) == expected


async def test_media_retention_removes_old_files_and_the_transcript_says_so(
    h: TestHarness, fake_graph: FakeGraphAPI
) -> None:
    from orchestrator.core.tables import MediaContent
    from orchestrator.runtime.retention import prune

    fake_graph.add_media("65463453", JPEG, "image/jpeg")
    conversation_id, _ = await _photo_in_taras_conversation(h)
    assert h.service.media is not None
    await h.service.media.drain()
    await _queue_taras_pdf(h, conversation_id)  # a rep's file, not sent yet
    settings = h.service.settings.model_copy(update={"retention_media_days": 30})

    kept = await prune(h.service.sessions, settings=settings, at=h.clock.now() + timedelta(days=29))
    assert kept.media == 0
    by_default = await prune(
        h.service.sessions, settings=h.service.settings, at=h.clock.now() + timedelta(days=400)
    )
    assert by_default.media == 0  # unset: files are kept as long as their messages
    pruned = await prune(h.service.sessions, settings=settings, at=h.clock.now() + timedelta(days=31))
    assert pruned.media == 1

    photo, upload = await media_rows(h, conversation_id)
    assert (photo.status, upload.status) == (MediaStatus.EXPIRED, MediaStatus.STORED)
    assert photo.error == "removed 30 days after it was stored (media retention)"
    async with h.service.sessions() as session:
        assert await session.get(MediaContent, photo.id) is None
        assert await session.get(MediaContent, upload.id) is not None  # still to be sent: kept
    gone = await h.http.get(f"/api/conversations/{conversation_id}/media/{photo.id}", headers=bearer("tara"))
    assert gone.status_code == 409
    assert gone.json()["detail"].startswith("the photo is no longer kept: removed 30 days")
    detail = (await h.http.get(f"/api/conversations/{conversation_id}", headers=bearer("tara"))).json()
    shown = next(m for m in detail["messages"] if m["kind"] == "image")
    assert shown["media"]["status"] == "expired"
    await sign_in(h.http, "tara", "demo-tara")
    page = await h.http.get(f"/conversations/{conversation_id}")
    assert page.status_code == 200
    assert "The photo is no longer kept: removed 30 days" in page.text


async def test_a_photo_left_in_the_inbox_by_a_burst_is_fetched_once_the_applier_reads_it_back(
    h: TestHarness, fake_graph: FakeGraphAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(turns, "HANDOVER_LIMIT", 1)
    fake_graph.add_media("65463453", JPEG, "image/jpeg")
    secret = h.service.settings.whatsapp_app_secret.get_secret_value()
    first = encode_webhook(text("447700900111", "hello", h.clock.now()))
    with h.service.turns.foreground.serving():  # acknowledgements under way: the applier waits
        for body in (first, fixture_bytes(IMAGE)):  # the text kept in memory, the photo left out
            response = await h.http.post(
                "/webhooks/whatsapp",
                content=body,
                headers={"x-hub-signature-256": compute_signature(secret, body)},
            )
            assert response.json()["messages"] == 1
        assert h.service.turns.handed_over == 1
    await h.service.turns.applied()
    assert h.service.media is not None
    await h.service.media.drain()
    async with h.service.sessions() as session:
        photo = (await session.execute(select(Message).where(col(Message.kind) == "image"))).scalar_one()
    [media] = await media_rows(h, photo.conversation_id)
    assert (media.status, media.size) == (MediaStatus.STORED, len(JPEG))

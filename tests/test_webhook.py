"""The webhook path with real Cloud API payloads: signatures, parsing errors, dedupe, every type kept."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send
from structlog.testing import capture_logs

from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.config import AppConfig
from orchestrator.core.tables import Message, MessageStatusEvent, WebhookDelivery
from orchestrator.runtime.app import create_app
from orchestrator.runtime.replay import harness
from orchestrator.runtime.simulator import encode_webhook
from orchestrator.runtime.webhook import is_acknowledgement
from tests.conftest import OPEN_HOURS
from tests.factories import auth, count, text
from tests.fakes.graph import FakeGraphAPI, TestHarness
from tests.fixtures import fixture_bytes, load_fixture, whatsapp_fixtures_dir

SIGNED_SECRET = "1222e786b144d0e85b9f365372d93676"
SIGNED_HEADER = "sha256=54edfa1d7259e0eb13c677cc7d73d1b5c86cfa12433d19156e058ab9251bc441"


@pytest.fixture
async def signed_h(
    sqlite_url: str, config: AppConfig, fake_graph: FakeGraphAPI
) -> AsyncIterator[TestHarness]:
    async with harness(
        database_url=sqlite_url,
        config=config,
        at=OPEN_HOURS,
        migrate=False,
        fake_graph=fake_graph,
        app_secret=SIGNED_SECRET,
    ) as running:
        yield running


async def test_real_meta_signed_body_is_accepted_and_stored(signed_h: TestHarness) -> None:
    body = fixture_bytes("signed_webhook_text_body_pywa.json")
    response = await signed_h.post_body(body, signature=SIGNED_HEADER)
    assert response.status_code == 200
    assert response.json()["messages"] == 1
    assert await count(signed_h, Message) >= 1
    assert await count(signed_h, WebhookDelivery) == 1


async def test_tampered_body_is_refused_and_nothing_stored(signed_h: TestHarness) -> None:
    body = bytearray(fixture_bytes("signed_webhook_text_body_pywa.json"))
    body[-10] = ord("X") if body[-10] != ord("X") else ord("Y")
    response = await signed_h.post_body(bytes(body), signature=SIGNED_HEADER)
    assert response.status_code == 401
    assert "does not match" in response.json()["detail"]
    assert await count(signed_h, Message) == 0
    assert await count(signed_h, WebhookDelivery) == 0


async def test_reserialised_body_does_not_verify(signed_h: TestHarness) -> None:
    body = json.dumps(json.loads(fixture_bytes("signed_webhook_text_body_pywa.json"))).encode()
    response = await signed_h.post_body(body, signature=SIGNED_HEADER)
    assert response.status_code == 401


async def test_missing_signature_header_is_refused(h: TestHarness) -> None:
    response = await h.http.post(
        "/webhooks/whatsapp", content=b"{}", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401
    assert "missing X-Hub-Signature-256" in response.json()["detail"]
    assert await count(h, WebhookDelivery) == 0


async def test_malformed_json_gets_400_saying_what_is_wrong(h: TestHarness) -> None:
    response = await h.post_body(b'{"object": "whatsapp_business_account", "entry": [')
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]
    assert await count(h, WebhookDelivery) == 0


async def test_wrong_object_gets_400_naming_it(h: TestHarness) -> None:
    response = await h.post_body(b'{"object": "page", "entry": []}')
    assert response.status_code == 400
    assert "whatsapp_business_account" in response.json()["detail"]


async def test_every_refusal_of_the_webhook_writes_one_warning(h: TestHarness) -> None:
    """What deploy.md promises: a refused delivery leaves a line in the log, whatever the reason."""
    with capture_logs() as logs:
        await h.http.post("/webhooks/whatsapp", content=b"{}", headers={"content-type": "application/json"})
        await h.post_body(b'{"object": "page", "entry": []}')
        await h.http.post(
            "/webhooks/whatsapp", content=b"{}", headers={"x-hub-signature-256": "sha256=" + "0" * 64}
        )
        await h.http.get(
            "/webhooks/whatsapp",
            params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        )
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("webhook_unsigned", "warning"),
        ("webhook_malformed", "warning"),
        ("webhook_bad_signature", "warning"),
        ("webhook_verification_refused", "warning"),
    ]
    assert "guess" not in str(logs)


async def test_duplicate_delivery_stores_one_message(h: TestHarness) -> None:
    body = encode_webhook(text("447700900001", "hello there", OPEN_HOURS))
    first = await h.post_body(body)
    second = await h.post_body(body)
    await h.service.turns.drain()
    assert first.json() == {"messages": 1, "duplicates": 0, "statuses": 0}
    assert second.json() == {"messages": 0, "duplicates": 1, "statuses": 0}
    async with h.service.sessions() as session:
        from sqlalchemy import select
        from sqlmodel import col

        inbound = (
            (await session.execute(select(Message).where(col(Message.direction) == "inbound")))
            .scalars()
            .all()
        )
    assert len(inbound) == 1


async def test_notifications_are_answered_before_the_middleware_and_other_requests_are_not(
    h: TestHarness,
) -> None:
    # `ServiceApp` hands the webhook's POST to the acknowledgement ahead of the middleware stack
    # (also under a root path); every other request still goes through it.
    seen: list[str] = []

    class Recorder:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                seen.append(f"{scope['method']} {scope['path']}")
            await self.app(scope, receive, send)

    app = create_app(service=h.service)
    app.add_middleware(Recorder)
    secret = h.service.settings.whatsapp_app_secret.get_secret_value()
    for root_path in ("", "/handoff"):
        transport = httpx.ASGITransport(app=app, root_path=root_path)
        async with httpx.AsyncClient(transport=transport, base_url="http://handoff.local") as http:
            body = encode_webhook(text("447700900001", f"hello {root_path}", OPEN_HOURS))
            headers = {
                "content-type": "application/json",
                "x-hub-signature-256": compute_signature(secret, body),
            }
            response = await http.post(f"{root_path}/webhooks/whatsapp", content=body, headers=headers)
            assert response.status_code == 200
            assert response.json() == {"messages": 1, "duplicates": 0, "statuses": 0}
            assert (await http.get(f"{root_path}/healthz")).status_code == 200
    await h.service.turns.applied()
    assert seen == ["GET /healthz", "GET /handoff/healthz"]
    assert await count(h, WebhookDelivery) == 2


def test_only_posts_to_the_webhook_path_are_acknowledgements() -> None:
    def scope(method: str, path: str, root_path: str = "") -> Scope:
        return {"type": "http", "method": method, "path": path, "root_path": root_path}

    assert is_acknowledgement(scope("POST", "/webhooks/whatsapp"))
    assert is_acknowledgement(scope("POST", "/api/webhooks/whatsapp", root_path="/api"))
    assert not is_acknowledgement(scope("GET", "/webhooks/whatsapp"))
    assert not is_acknowledgement(scope("POST", "/webhooks/whatsapp/"))
    assert not is_acknowledgement(scope("POST", "/other/webhooks/whatsapp"))
    assert not is_acknowledgement({"type": "websocket", "path": "/webhooks/whatsapp", "root_path": ""})


async def test_verification_handshake_echoes_the_challenge(h: TestHarness) -> None:
    token = h.service.settings.whatsapp_verify_token.get_secret_value()
    ok = await h.http.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200
    assert ok.text == "1158201444"
    bad = await h.http.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
    )
    assert bad.status_code == 403


def _inbound_fixtures() -> list[str]:
    folder = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "whatsapp"
    return sorted(p.name for p in folder.glob("inbound_*.json")) if folder.is_dir() else ["<absent>"]


@pytest.mark.parametrize("name", _inbound_fixtures())
async def test_every_inbound_fixture_is_stored_and_visible_to_admins(h: TestHarness, name: str) -> None:
    whatsapp_fixtures_dir()
    payload = load_fixture(name)
    response = await h.post(payload)
    assert response.status_code == 200, response.text
    await h.service.turns.drain()
    assert response.json()["messages"] >= 1
    listed = await h.http.get("/api/conversations", headers=auth("demo-admin"))
    assert listed.status_code == 200
    conversation_id = listed.json()[0]["id"]
    detail = (await h.http.get(f"/api/conversations/{conversation_id}", headers=auth("demo-admin"))).json()
    inbound = [m for m in detail["messages"] if m["direction"] == "inbound"]
    assert inbound, "the message must be kept"
    assert all(m["text"] for m in inbound), "reps need a readable rendering of every message"


async def test_unsupported_message_is_kept_and_flagged_for_reps(h: TestHarness) -> None:
    whatsapp_fixtures_dir()
    await h.post(load_fixture("inbound_unsupported_with_type_pywa.json"))
    await h.service.turns.drain()
    listed = (await h.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    detail = (await h.http.get(f"/api/conversations/{listed[0]['id']}", headers=auth("demo-admin"))).json()
    assert any(m["kind"] == "unsupported" for m in detail["messages"])
    flagged = [e for e in detail["events"] if e["type"] == "unsupported_message"]
    assert flagged
    assert "(Meta: Message type is currently not supported.)" in flagged[0]["description"]
    # Nothing of it reached us: the customer is asked to type, not told it was kept.
    bot = [m["text"] for m in detail["messages"] if m["direction"] == "outbound"]
    assert bot[0] == h.service.config.message("unsupported_message", "en")
    assert h.service.config.message("media_received", "en") not in bot


async def test_a_first_photo_is_acknowledged_as_kept_for_the_team(h: TestHarness) -> None:
    whatsapp_fixtures_dir()
    await h.post(load_fixture("inbound_image_pywa.json"))
    await h.service.turns.drain()
    listed = (await h.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    detail = (await h.http.get(f"/api/conversations/{listed[0]['id']}", headers=auth("demo-admin"))).json()
    bot = [m["text"] for m in detail["messages"] if m["direction"] == "outbound"]
    assert bot[0] == h.service.config.message("media_received", "en")


async def test_status_webhooks_are_deduplicated(h: TestHarness) -> None:
    whatsapp_fixtures_dir()
    payload = load_fixture("status_delivered_pywa.json")
    await h.post(payload)
    await h.post(payload)
    assert await count(h, MessageStatusEvent) == 1

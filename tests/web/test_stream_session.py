"""The live stream for a browser: `GET /api/stream` authenticated by the session cookie alone (an
`EventSource` cannot send headers), resumed after a dropped connection with `Last-Event-ID`."""

from __future__ import annotations

import httpx

from orchestrator.core.enums import EventType
from tests.api.helpers import EventStream, add_event, live_server, seed_conversation
from tests.fakes.graph import TestHarness
from tests.web.helpers import sign_in


async def test_signed_in_browser_streams_and_resumes_after_a_drop(h: TestHarness) -> None:
    conversation_id = await seed_conversation(h, "tara_support")
    async with live_server(h) as url, httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10.0)) as client:
        await sign_in(client, "tara", "demo-tara")
        async with client.stream("GET", "/api/stream") as response:
            assert response.status_code == 200
            stream = EventStream(response)
            assert (await stream.next()).data["rep_id"] == "tara"
            first = await add_event(h, conversation_id, EventType.MESSAGE_RECEIVED, message_id=1)
            seen = await stream.until("message_received", conversation_id=conversation_id)
            assert seen.id == first
        # Dropped; meanwhile two more things happen. The browser reconnects with the last id it saw.
        missed = [
            await add_event(h, conversation_id, EventType.MESSAGE_RECEIVED, message_id=2),
            await add_event(h, conversation_id, EventType.SLA_WARNING, rep_id="tara"),
        ]
        async with client.stream("GET", "/api/stream", headers={"Last-Event-ID": str(first)}) as response:
            stream = EventStream(response)
            ready = await stream.next()
            assert ready.data["resumed_after"] == first
            assert [(await stream.next()).id for _ in missed] == missed


async def test_stream_without_a_session_or_token_is_refused(h: TestHarness) -> None:
    async with live_server(h) as url, httpx.AsyncClient(base_url=url) as client:
        client.cookies.set("handoff_session", "forged")
        response = await client.get("/api/stream")
        assert response.status_code == 401

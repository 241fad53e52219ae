"""FakeGraphAPI in-process (httpx.ASGITransport, as replay and demo use it) with the real GraphClient."""

from __future__ import annotations

import httpx
import pytest

from orchestrator.channels.whatsapp.client import GraphAPIError, GraphClient
from orchestrator.channels.whatsapp.outbound import reply_buttons, text_message
from tests.fakes.graph import FakeGraphAPI, graph_error_body

TO = "447700900123"


def _client(fake: FakeGraphAPI, token: str = "tok") -> GraphClient:
    return GraphClient(
        base_url="http://graph.test",
        phone_number_id="000000000000000",
        access_token=token,
        transport=httpx.ASGITransport(app=fake.app),
        backoff_scale=0.0,
    )


async def test_in_process_sends_are_recorded_with_unique_wamids_and_as_text() -> None:
    fake = FakeGraphAPI(id_prefix="T")
    async with _client(fake) as graph:
        first = await graph.send(text_message(TO, "Hi Ana"))
        second = await graph.send(
            reply_buttons(TO, "How can we help?", [("sales", "Sales"), ("support", "Support")])
        )

    assert [first.wa_message_id, second.wa_message_id] == ["wamid.FAKET000001", "wamid.FAKET000002"]
    assert first.wa_id == TO
    assert [r["json"]["to"] for r in fake.sent] == [f"+{TO}", f"+{TO}"]
    assert fake.sent_texts() == ["Hi Ana", "How can we help?\n[Sales] [Support]"]


async def test_ids_differ_between_fakes_by_default() -> None:
    fakes = [FakeGraphAPI(), FakeGraphAPI()]
    ids = []
    for fake in fakes:
        async with _client(fake) as graph:
            ids.append((await graph.send(text_message(TO, "x"))).wa_message_id)
    assert ids[0] != ids[1]


async def test_without_configured_token_any_bearer_is_accepted() -> None:
    fake = FakeGraphAPI()
    async with _client(fake, token="whatever") as graph:
        await graph.send(text_message(TO, "x"))
    assert len(fake.sent) == 1


async def test_refused_token_does_not_consume_scripted_failures() -> None:
    fake = FakeGraphAPI(access_token="right")
    fake.fail_next(400, graph_error_body(131047, "Re-engagement message"))

    async with _client(fake, token="wrong") as graph:
        with pytest.raises(GraphAPIError) as refused:
            await graph.send(text_message(TO, "x"))
    async with _client(fake, token="right") as graph:
        with pytest.raises(GraphAPIError) as scripted:
            await graph.send(text_message(TO, "x"))
        accepted = await graph.send(text_message(TO, "y"))

    assert (refused.value.code, scripted.value.code) == (190, 131047)
    assert len(fake.requests) == 3
    assert [r["wa_message_id"] for r in fake.sent] == [accepted.wa_message_id]


async def test_malformed_message_gets_graph_invalid_parameter_error() -> None:
    fake = FakeGraphAPI()
    async with _client(fake) as graph:
        with pytest.raises(GraphAPIError) as caught:
            await graph.send({"messaging_product": "whatsapp", "to": "+1", "type": "text"})
    assert (caught.value.code, caught.value.http_status, caught.value.retryable) == (100, 400, False)
    assert caught.value.details == "type is 'text' but there is no 'text' object"
    assert fake.sent == []


async def test_scripted_error_envelope_has_graph_shape() -> None:
    body = graph_error_body(131056, "pair rate limit hit", details="Too many messages")
    error = body["error"]
    assert (error["message"], error["code"], error["type"]) == (
        "(#131056) pair rate limit hit",
        131056,
        "OAuthException",
    )
    assert error["error_data"]["details"] == "Too many messages"
    assert error["fbtrace_id"]

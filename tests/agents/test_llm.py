"""The model engine through the real `openai` client, over HTTP, against the scripted local server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from agents.llm import (
    FailureKind,
    LLMClient,
    LLMUnavailable,
    LLMUsage,
    analyze_turn,
    brief_return,
    client_from_settings,
    summarize_handoff,
)
from agents.schemas import Briefing, HandoffSummary, TurnAnalysis
from tests.fakes.openai_server import ScriptedOpenAI, json_reply
from tests.fakes.servers import free_port, serve_in_thread

MODEL = "test-model"

GOOD_ANALYSIS: dict[str, Any] = {
    "language": "es",
    "wants_human": False,
    "wants_human_evidence": None,
    "frustrated": False,
    "frustration_score": 0.1,
    "frustration_evidence": None,
    "fields": [{"name": "company_name", "value": "Acme SL", "evidence": "trabajo en Acme SL"}],
    "answer": "Sí, tenemos un plan gratuito de 14 días.",
    "answer_confidence": 0.9,
    "can_answer": True,
    "open_questions": [],
}
GOOD_SUMMARY = {
    "summary": "Ana from Acme wants WhatsApp support automation. She asked for a person.",
    "open_questions": ["Is there an on-premise option?"],
    "promises": ["A colleague will reply shortly."],
}


def make_client(base_url: str, **overrides: Any) -> LLMClient:
    options: dict[str, Any] = {
        "api_key": "sk-test",
        "model": MODEL,
        "base_url": base_url,
        "timeout": 2.0,
        "max_attempts": 3,
        "deadline": 5.0,
        "wait_min": 0.0,
        "wait_max": 0.0,
    }
    options.update(overrides)
    return LLMClient(**options)


@pytest.fixture
def fake() -> ScriptedOpenAI:
    return ScriptedOpenAI()


@pytest.fixture
def base_url(fake: ScriptedOpenAI) -> Iterator[str]:
    with serve_in_thread(fake.app) as url:
        yield f"{url}/v1"


@pytest.fixture
async def llm(base_url: str) -> AsyncIterator[LLMClient]:
    client = make_client(base_url)
    yield client
    await client.aclose()


async def analyze(client: LLMClient, usage: LLMUsage | None = None) -> TurnAnalysis:
    return await analyze_turn(
        client,
        transcript="customer: hola\nbot: ¡Hola! ¿Cómo se llama tu empresa?",
        customer_message="trabajo en Acme SL, ¿tienen prueba gratis?",
        pending_field="company_name",
        known_fields={"use_case": "soporte por WhatsApp"},
        knowledge="Free trial: 14 days, no card needed.",
        language_hint="es",
        usage=usage,
    )


async def test_good_answer_is_parsed_into_turn_analysis(fake: ScriptedOpenAI, llm: LLMClient) -> None:
    fake.respond_json(GOOD_ANALYSIS)

    analysis = await analyze(llm)

    assert analysis == TurnAnalysis.model_validate(GOOD_ANALYSIS)
    assert analysis.fields[0].name == "company_name"
    assert analysis.fields[0].value == "Acme SL"
    system, user = fake.requests[0].messages
    assert system["role"] == "system"
    assert "Free trial: 14 days, no card needed." in system["content"]
    assert "- use_case: soporte por WhatsApp" in system["content"]
    assert "waiting for is: company_name" in system["content"]
    assert "bot: ¡Hola! ¿Cómo se llama tu empresa?" in system["content"]
    assert user == {"role": "user", "content": "trabajo en Acme SL, ¿tienen prueba gratis?"}


async def test_request_carries_model_and_strict_json_schema(fake: ScriptedOpenAI, llm: LLMClient) -> None:
    fake.respond_json(GOOD_ANALYSIS)

    await analyze(llm)

    [request] = fake.requests
    assert request.path == "/v1/chat/completions"
    assert request.model == MODEL
    assert request.headers["authorization"] == "Bearer sk-test"
    response_format = request.response_format
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "TurnAnalysis"
    assert response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    assert set(schema["required"]) == set(TurnAnalysis.model_fields)
    assert schema["additionalProperties"] is False
    assert "ISO 639-1" in schema["properties"]["language"]["description"]


async def test_malformed_json_is_retried_once_then_unavailable(fake: ScriptedOpenAI, llm: LLMClient) -> None:
    fake.respond_raw("Sure! Here is the JSON you asked for")
    fake.respond_raw('{"language": "en", ')
    fake.respond_json(GOOD_ANALYSIS)  # would be used by a third call

    with pytest.raises(LLMUnavailable) as caught:
        await analyze(llm)

    assert caught.value.kind is FailureKind.MALFORMED
    assert caught.value.attempts == 2
    assert len(fake.requests) == 2
    assert fake.pending == 1


async def test_off_schema_answer_is_retried_once_and_recovers(fake: ScriptedOpenAI, llm: LLMClient) -> None:
    fake.respond_json({"language": "en", "wants_human": "maybe"})
    fake.respond_json(GOOD_ANALYSIS)

    analysis = await analyze(llm)

    assert analysis.language == "es"
    assert len(fake.requests) == 2


async def test_refusal_is_unavailable_without_retry(fake: ScriptedOpenAI, llm: LLMClient) -> None:
    fake.refuse("I can't help with that request.")
    fake.respond_json(GOOD_ANALYSIS)

    with pytest.raises(LLMUnavailable) as caught:
        await analyze(llm)

    assert caught.value.kind is FailureKind.REFUSED
    assert "I can't help with that request." in str(caught.value)
    assert len(fake.requests) == 1


async def test_content_filter_stop_counts_as_refused(fake: ScriptedOpenAI, llm: LLMClient) -> None:
    fake.respond_content_filter()
    fake.respond_json(GOOD_ANALYSIS)

    with pytest.raises(LLMUnavailable) as caught:
        await analyze(llm)

    assert caught.value.kind is FailureKind.REFUSED
    assert len(fake.requests) == 1


async def test_length_cutoff_is_unavailable_without_retry(fake: ScriptedOpenAI, llm: LLMClient) -> None:
    fake.respond_length()
    fake.respond_json(GOOD_SUMMARY)
    usage = LLMUsage()

    with pytest.raises(LLMUnavailable) as caught:
        await summarize_handoff(
            llm, transcript="customer: hi", reason="explicit_request", fields={}, usage=usage
        )

    assert caught.value.kind is FailureKind.LENGTH
    assert len(fake.requests) == 1
    assert (usage.calls, usage.failures, usage.prompt_tokens) == (1, 1, 120)


async def test_rate_limit_is_retried_once_then_succeeds(fake: ScriptedOpenAI, llm: LLMClient) -> None:
    fake.fail(429)
    fake.respond_json(GOOD_ANALYSIS)
    usage = LLMUsage()

    analysis = await analyze(llm, usage)

    assert analysis.can_answer is True
    assert len(fake.requests) == 2
    assert (usage.calls, usage.failures) == (2, 1)


async def test_server_errors_give_up_after_max_attempts(fake: ScriptedOpenAI, llm: LLMClient) -> None:
    for _ in range(4):
        fake.fail(500)

    with pytest.raises(LLMUnavailable) as caught:
        await analyze(llm)

    assert caught.value.kind is FailureKind.SERVER_ERROR
    assert caught.value.attempts == 3
    assert len(fake.requests) == 3
    assert fake.pending == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, None),
        (401, None),
        (429, {"error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}}),
    ],
)
async def test_rejected_request_is_not_retried(
    fake: ScriptedOpenAI, llm: LLMClient, status: int, body: dict[str, Any] | None
) -> None:
    fake.fail(status, body)
    fake.respond_json(GOOD_ANALYSIS)

    with pytest.raises(LLMUnavailable) as caught:
        await analyze(llm)

    assert caught.value.kind is FailureKind.REJECTED
    assert len(fake.requests) == 1


async def test_timeouts_give_up_after_max_attempts(fake: ScriptedOpenAI, base_url: str) -> None:
    for _ in range(4):
        fake.delay(3.0, then=json_reply(GOOD_ANALYSIS))
    usage = LLMUsage()

    async with make_client(base_url, timeout=0.3, max_attempts=3, deadline=5.0) as client:
        started = time.monotonic()
        with pytest.raises(LLMUnavailable) as caught:
            await analyze(client, usage)
        elapsed = time.monotonic() - started

    assert caught.value.kind is FailureKind.TIMEOUT
    assert len(fake.requests) == 3
    assert (usage.calls, usage.failures) == (3, 3)
    assert 0.9 <= elapsed < 2.0


async def test_deadline_bounds_the_whole_call_with_attempts_left(fake: ScriptedOpenAI, base_url: str) -> None:
    for _ in range(10):
        fake.delay(3.0, then=json_reply(GOOD_ANALYSIS))

    # The second call starts at 1.4 s: it only gets the 0.6 s left, not its own 1.4 s timeout (which
    # would end it at 2.8 s). The 0.6 s leave a loaded machine time to make the second request.
    async with make_client(base_url, timeout=1.4, max_attempts=10, deadline=2.0) as client:
        started = time.monotonic()
        with pytest.raises(LLMUnavailable) as caught:
            await analyze(client)
        elapsed = time.monotonic() - started

    assert caught.value.kind is FailureKind.TIMEOUT
    assert elapsed < 2.5
    assert len(fake.requests) == 2


async def test_slow_but_successful_answer_within_timeout_is_used(fake: ScriptedOpenAI, base_url: str) -> None:
    fake.delay(0.2, then=json_reply(GOOD_ANALYSIS))

    async with make_client(base_url, timeout=1.0) as client:
        analysis = await analyze(client)

    assert analysis.language == "es"


async def test_unreachable_server_is_unavailable_as_connection() -> None:
    usage = LLMUsage()
    async with make_client(f"http://127.0.0.1:{free_port()}/v1") as client:
        with pytest.raises(LLMUnavailable) as caught:
            await analyze(client, usage)

    assert caught.value.kind is FailureKind.CONNECTION
    assert caught.value.for_people == "the AI model could not be reached (network error)"
    assert (usage.calls, usage.failures) == (3, 3)


async def test_usage_counts_calls_and_tokens(fake: ScriptedOpenAI, llm: LLMClient) -> None:
    usage = LLMUsage()
    fake.fail(503)
    fake.respond_json(GOOD_ANALYSIS, prompt_tokens=300, completion_tokens=50)
    fake.respond_raw("{", prompt_tokens=7, completion_tokens=1)
    fake.respond_json(GOOD_SUMMARY, prompt_tokens=200, completion_tokens=30)

    await analyze(llm, usage)
    await summarize_handoff(llm, transcript="customer: hi", reason="frustration", fields={}, usage=usage)

    assert usage.calls == 4
    assert usage.failures == 2
    assert usage.prompt_tokens == 300 + 7 + 200
    assert usage.completion_tokens == 50 + 1 + 30
    assert usage.total_tokens == 588


async def test_summarize_handoff_sends_reason_fields_and_transcript(
    fake: ScriptedOpenAI, llm: LLMClient
) -> None:
    fake.respond_json(GOOD_SUMMARY)

    summary = await summarize_handoff(
        llm,
        transcript="customer: I want a person\nbot: Sure.",
        reason="explicit_request",
        fields={"company_name": "Acme", "use_case": "support automation"},
    )

    assert summary == HandoffSummary.model_validate(GOOD_SUMMARY)
    system, user = fake.requests[0].messages
    assert "Reason for the handoff: explicit_request" in system["content"]
    assert "- company_name: Acme\n- use_case: support automation" in system["content"]
    assert user["content"] == "customer: I want a person\nbot: Sure."
    assert fake.requests[0].response_format["json_schema"]["name"] == "HandoffSummary"


async def test_brief_return_sends_human_notes_and_transcript(fake: ScriptedOpenAI, llm: LLMClient) -> None:
    fake.respond_json({"summary_for_customer": None, "known_facts": ["Refund issued for invoice 42."]})

    briefing = await brief_return(
        llm, transcript="rep: I've refunded invoice 42.", human_notes="Refunded invoice 42, all good."
    )

    assert briefing == Briefing(summary_for_customer=None, known_facts=["Refund issued for invoice 42."])
    system, user = fake.requests[0].messages
    assert "Refunded invoice 42, all good." in system["content"]
    assert user["content"] == "rep: I've refunded invoice 42."


async def test_injected_http_client_carries_requests_and_stays_open(
    fake: ScriptedOpenAI, base_url: str
) -> None:
    fake.respond_json(GOOD_SUMMARY)

    async with httpx.AsyncClient(headers={"X-Injected": "yes"}) as http_client:
        async with make_client(base_url, http_client=http_client) as client:
            await summarize_handoff(client, transcript="customer: hi", reason="qualified", fields={})
        assert not http_client.is_closed

    assert fake.requests[0].headers["x-injected"] == "yes"


@pytest.mark.parametrize("api_key", [None, "", "   "])
def test_no_api_key_means_no_model_engine(api_key: str | None) -> None:
    assert client_from_settings(api_key=api_key, base_url=None, model=MODEL) is None


async def test_api_key_builds_a_client_for_the_model(fake: ScriptedOpenAI, base_url: str) -> None:
    fake.respond_json(GOOD_SUMMARY)

    client = client_from_settings(api_key="sk-test", base_url=base_url, model="gpt-test")
    assert client is not None
    async with client:
        await summarize_handoff(client, transcript="customer: hi", reason="qualified", fields={})

    assert fake.requests[0].model == "gpt-test"


def _walk(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from _walk(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _walk(item)


async def test_every_schema_sent_fits_strict_structured_outputs(fake: ScriptedOpenAI, llm: LLMClient) -> None:
    fake.respond_json(GOOD_ANALYSIS)
    fake.respond_json(GOOD_SUMMARY)
    fake.respond_json({"summary_for_customer": None, "known_facts": []})

    await analyze(llm)
    await summarize_handoff(llm, transcript="customer: hi", reason="qualified", fields={})
    await brief_return(llm, transcript="rep: done", human_notes="")

    names = [request.response_format["json_schema"]["name"] for request in fake.requests]
    assert names == ["TurnAnalysis", "HandoffSummary", "Briefing"]
    for request in fake.requests:
        nodes = list(_walk(request.response_format["json_schema"]["schema"]))
        objects = [node for node in nodes if node.get("type") == "object"]
        assert objects
        for node in objects:
            assert node["additionalProperties"] is False
            assert set(node["required"]) == set(node["properties"])
            # The descriptions are the contract the model sees: every field has one.
            assert all("description" in prop for prop in node["properties"].values())
        assert not [node for node in nodes if "default" in node]


def test_scores_out_of_range_are_clamped_and_language_normalised() -> None:
    analysis = TurnAnalysis.model_validate(
        {**GOOD_ANALYSIS, "language": "PT-br", "frustration_score": 1.2, "answer_confidence": -0.1}
    )

    assert analysis.language == "pt"
    assert analysis.frustration_score == 1.0
    assert analysis.answer_confidence == 0.0


def test_unavailable_can_be_raised_by_kind_name_for_fakes() -> None:
    error = LLMUnavailable(kind="rate_limited")

    assert error.kind is FailureKind.RATE_LIMITED
    assert str(error) == "rate_limited"
    with pytest.raises(ValueError, match="'busy' is not a valid FailureKind"):
        LLMUnavailable(kind="busy")
